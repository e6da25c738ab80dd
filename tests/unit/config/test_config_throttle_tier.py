"""The risk throttle may not approve orders faster than the execution engine may submit
them (review D1): approvals above the submit tier of the request budget park submits,
and parked submits were the way to orders journalled as rejected and filled later."""

from __future__ import annotations

from typing import Any

import pytest

from pyrt.config import load_config, validate_files
from pyrt.services.execution.budget import RequestBudget

RISK = "config/risk_limits.toml"


def _submit_tier(cfg: Any) -> int:
    execution = load_config(cfg.path, env={}).system.execution
    budget = RequestBudget(
        execution.request_budget_per_minute,
        execution.cancel_reserve_per_minute,
        read_reserve=execution.read_reserve_per_minute,
    )
    return budget.limit("submit")


def test_shipped_throttle_is_within_the_shipped_submit_tier(cfg: Any) -> None:
    config = load_config(cfg.path, env={})
    assert config.risk.throttle.max_orders_per_minute <= _submit_tier(cfg) == 110


def test_throttle_equal_to_the_submit_tier_is_accepted(cfg: Any) -> None:
    cfg.edit_risk({"max_orders_per_minute = 60": "max_orders_per_minute = 110"})
    assert validate_files(cfg.path, env={}) == []


def test_throttle_above_the_submit_tier_is_refused_naming_both_files(cfg: Any) -> None:
    cfg.edit_risk({"max_orders_per_minute = 60": "max_orders_per_minute = 111"})
    problems = validate_files(cfg.path, env={})
    assert problems == [
        (
            f"{RISK}: throttle.max_orders_per_minute: 111 exceeds the execution engine's submit tier of 110/minute "
            "(config/system.json: execution.request_budget_per_minute 150 - execution.cancel_reserve_per_minute 30 "
            "- execution.read_reserve_per_minute 10)"
        )
    ], problems


@pytest.mark.parametrize(
    "changes",
    [
        {"execution__request_budget_per_minute": 45},
        {"execution__cancel_reserve_per_minute": 100},
        {"execution__read_reserve_per_minute": 85},
    ],
    ids=["lower budget", "larger cancel reserve", "larger read reserve"],
)
def test_shrinking_the_submit_tier_below_the_throttle_is_refused(cfg: Any, changes: dict[str, int]) -> None:
    cfg.edit_system(**changes)
    problems = validate_files(cfg.path, env={})
    assert len(problems) == 1 and problems[0].startswith(f"{RISK}: throttle.max_orders_per_minute: 60 exceeds"), (
        problems
    )
    assert "execution.request_budget_per_minute" in problems[0]


def test_env_override_of_the_budget_is_named_in_the_problem(cfg: Any) -> None:
    problems = validate_files(cfg.path, env={"PYRT_EXECUTION__REQUEST_BUDGET_PER_MINUTE": "60"})
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        f"{RISK}: throttle.max_orders_per_minute: 60 exceeds the execution engine's submit tier of 20/minute"
    )
    assert "env PYRT_EXECUTION__REQUEST_BUDGET_PER_MINUTE" in problems[0]
