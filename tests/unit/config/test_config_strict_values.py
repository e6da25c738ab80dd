"""Booleans and numbers in both config files are taken only as written (review D6): a
quoted "no" or a 0 for `circuit_breaker.enabled` used to load as False and pass
`pyrt verify-config`, silently disabling the breaker. Every bool and number field of every
model is probed, so a field added later without the strict handling fails here."""

from __future__ import annotations

import types
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError
from typer.testing import CliRunner

from pyrt.config import RiskLimits, SystemConfig, load_config, validate_files
from pyrt.config.errors import validation_problems

SYS = "config/system.json"
RISK = "config/risk_limits.toml"
NUMBERS = (int, float, Decimal)


def _members(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [annotation]


def _scalar_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], type]]:
    """(path, bool or a number type) of every scalar field below `model`, nested models
    included (optional ones too)."""
    for name, field in model.model_fields.items():
        members = _members(field.annotation)
        for member in members:
            if isinstance(member, type) and issubclass(member, BaseModel):
                yield from _scalar_fields(member, (*prefix, name))
        if bool in members:
            yield (*prefix, name), bool
        elif any(m in NUMBERS for m in members):
            yield (*prefix, name), int


def _with(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of `data` with `path` set (a missing optional section is given its required keys)."""
    import copy

    result = copy.deepcopy(data)
    node = result
    for name in path[:-1]:
        if node.get(name) is None:
            node[name] = dict(REQUIRED_OF_OPTIONAL.get(name, {}))
        node = node[name]
    node[path[-1]] = value
    return result


REQUIRED_OF_OPTIONAL = {
    "replay": {"path": "data/replay.csv"},
    "smtp": {"host": "mail", "from_addr": "a@b.c", "to_addrs": ["ops@b.c"]},
}

WRONG = {bool: ["no", "off", "false", "true", 0, 1], int: ["5", "5.0", True, False]}


def _cases(model: type[BaseModel]) -> list[tuple[tuple[str, ...], Any]]:
    return [(path, bad) for path, kind in _scalar_fields(model) for bad in WRONG[kind]]


SYSTEM_CASES = _cases(SystemConfig)
RISK_CASES = _cases(RiskLimits)


def test_the_probe_finds_the_fields_of_the_review() -> None:
    system_paths = {path for path, _ in SYSTEM_CASES}
    risk_paths = {path for path, _ in RISK_CASES}
    assert ("venue", "live") in system_paths and ("api", "port") in system_paths
    assert ("security", "allow_non_loopback") in system_paths and ("sim_broker", "replay", "speed") in system_paths
    assert ("circuit_breaker", "enabled") in risk_paths and ("throttle", "max_orders_per_minute") in risk_paths


@pytest.mark.parametrize(("path", "bad"), SYSTEM_CASES, ids=[f"{'.'.join(p)}={b!r}" for p, b in SYSTEM_CASES])
def test_system_field_rejects_a_value_of_another_type(cfg: Any, path: tuple[str, ...], bad: Any) -> None:
    data = _with(cfg.system(), path, bad)
    with pytest.raises(ValidationError) as info:
        SystemConfig.model_validate(data)
    problems = validation_problems(info.value, SYS)
    assert any(p.startswith(f"{SYS}: {'.'.join(path)}: must be ") for p in problems), problems


@pytest.mark.parametrize(("path", "bad"), RISK_CASES, ids=[f"{'.'.join(p)}={b!r}" for p, b in RISK_CASES])
def test_risk_field_rejects_a_value_of_another_type(cfg: Any, path: tuple[str, ...], bad: Any) -> None:
    data = _with(cfg.risk(), path, bad)
    with pytest.raises(ValidationError) as info:
        RiskLimits.model_validate(data)
    problems = validation_problems(info.value, RISK)
    assert any(p.startswith(f"{RISK}: {'.'.join(path)}: must be ") for p in problems), problems


def test_strategy_enabled_in_a_list_is_strict_too(cfg: Any) -> None:
    cfg.edit_system(signals__strategies__0__enabled="no")
    assert f"{SYS}: signals.strategies.0.enabled: must be true or false, not the string 'no'" in validate_files(
        cfg.path, env={}
    )


@pytest.mark.parametrize("written", ['"no"', '"off"', '"false"', "0"])
def test_quoted_breaker_switch_is_an_error_with_file_field_and_value(cfg: Any, written: str) -> None:
    cfg.edit_risk({"enabled = true": f"enabled = {written}"})
    problems = validate_files(cfg.path, env={})
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{RISK}: circuit_breaker.enabled: must be true or false, not "), problems


def test_quoted_number_in_risk_limits_is_an_error(cfg: Any) -> None:
    cfg.edit_risk({"max_open_positions = 5": 'max_open_positions = "5"'})
    assert validate_files(cfg.path, env={}) == [
        f"{RISK}: position_limits.max_open_positions: must be a number, not the string '5'"
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"venue__live": "no"}, "venue.live: must be true or false, not the string 'no'"),
        ({"venue__live": 0}, "venue.live: must be true or false, not 0"),
        ({"api__port": "8080"}, "api.port: must be a number, not the string '8080'"),
        (
            {"execution__request_budget_per_minute": True},
            "execution.request_budget_per_minute: must be a number, not true",
        ),
        (
            {"market_data__stale_after_seconds": "5"},
            "market_data.stale_after_seconds: must be a number, not the string '5'",
        ),
    ],
)
def test_system_json_strict_values_name_file_field_and_value(cfg: Any, changes: dict[str, Any], expected: str) -> None:
    cfg.edit_system(**changes)
    assert f"{SYS}: {expected}" in validate_files(cfg.path, env={})


def test_all_wrong_types_are_reported_together(cfg: Any) -> None:
    cfg.edit_system(venue__live="no", api__port="8080", sim_broker__allow_shorting=1)
    cfg.edit_risk({"enabled = true": 'enabled = "off"', "max_shares = 1000": 'max_shares = "1000"'})
    fields = {p.split(": ")[1] for p in validate_files(cfg.path, env={})}
    assert fields == {
        "venue.live",
        "api.port",
        "sim_broker.allow_shorting",
        "circuit_breaker.enabled",
        "position_limits.max_shares",
    }


def test_ints_for_floats_and_decimals_stay_accepted(cfg: Any) -> None:
    cfg.edit_system(market_data__stale_after_seconds=7, sim_broker__initial_cash=5000, sim_broker__latency_ms=0)
    cfg.edit_risk(
        {
            "max_quote_age_seconds = 5.0": "max_quote_age_seconds = 5",
            "max_total_exposure = 50000.0": "max_total_exposure = 50000",
        }
    )
    config = load_config(cfg.path, env={})
    assert config.system.market_data.stale_after_seconds == 7.0
    assert config.system.sim_broker.initial_cash == Decimal(5000)
    assert config.risk.order_validation.max_quote_age_seconds == 5.0
    assert config.risk.position_limits.max_total_exposure == Decimal(50000)


def test_an_integer_field_refuses_a_fraction(cfg: Any) -> None:
    cfg.edit_system(api__port=8080.5)
    assert any(
        p.startswith(f"{SYS}: api.port: Input should be a valid integer") for p in validate_files(cfg.path, env={})
    )


def test_verify_config_cli_exits_non_zero_on_a_quoted_boolean(cfg: Any) -> None:
    from pyrt.ops.cli import app

    cfg.edit_risk({"enabled = true": 'enabled = "no"'})
    result = CliRunner().invoke(app, ["verify-config", "--config-dir", str(cfg.path)])
    assert result.exit_code == 1, result.output
    assert "circuit_breaker.enabled: must be true or false, not the string 'no'" in result.output
    assert "configuration OK" not in result.output


# --- environment overrides are strings: parsed explicitly before validation --------------


@pytest.mark.parametrize(
    ("env", "check"),
    [
        ({"PYRT_VENUE__LIVE": "false"}, lambda s: s.venue.live is False),
        ({"PYRT_SECURITY__ALLOW_NON_LOOPBACK": "TRUE"}, lambda s: s.security.allow_non_loopback is True),
        ({"PYRT_API__PORT": " 18080 "}, lambda s: s.api.port == 18080),
        ({"PYRT_MARKET_DATA__STALE_AFTER_SECONDS": "2.5"}, lambda s: s.market_data.stale_after_seconds == 2.5),
        ({"PYRT_SIM_BROKER__INITIAL_CASH": "2500.50"}, lambda s: s.sim_broker.initial_cash == Decimal("2500.50")),
        ({"PYRT_SIM_BROKER__SEED": "-3"}, lambda s: s.sim_broker.seed == -3),
        ({"PYRT_SIM_BROKER__SLIPPAGE_BPS": "1e1"}, lambda s: s.sim_broker.slippage_bps == 10.0),
    ],
)
def test_env_overrides_of_bools_and_numbers_are_parsed(cfg: Any, env: dict[str, str], check: Any) -> None:
    assert check(load_config(cfg.path, env=env).system)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PYRT_VENUE__LIVE": "no"}, "env PYRT_VENUE__LIVE: venue.live: must be true or false (got 'no')"),
        (
            {"PYRT_SECURITY__ALLOW_NON_LOOPBACK": "1"},
            "env PYRT_SECURITY__ALLOW_NON_LOOPBACK: security.allow_non_loopback: must be true or false (got '1')",
        ),
        ({"PYRT_API__PORT": "http"}, "env PYRT_API__PORT: api.port: must be a number (got 'http')"),
        (
            {"PYRT_MARKET_DATA__STALE_AFTER_SECONDS": "nan"},
            "env PYRT_MARKET_DATA__STALE_AFTER_SECONDS: market_data.stale_after_seconds: must be a number (got 'nan')",
        ),
        ({"PYRT_API__PORT": "80.5"}, "env PYRT_API__PORT: api.port: Input should be a valid integer"),
    ],
)
def test_unparsable_env_override_names_the_variable(cfg: Any, env: dict[str, str], expected: str) -> None:
    problems = validate_files(cfg.path, env=env)
    assert any(p.startswith(expected) for p in problems), problems
