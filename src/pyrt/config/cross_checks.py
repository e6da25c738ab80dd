"""Checks that need both config files at once, run by the loader after each file validated
on its own.

The risk throttle must not approve orders faster than the execution engine may send them
(review D1): approvals beyond the request budget's submit tier are parked in the engine,
and parked submits were how orders journalled as "rejected, never reached the broker"
were sent and filled minutes later. The tier is computed by the budget class itself, so
this check cannot drift from what the engine enforces."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pyrt.config.errors import problem_line
from pyrt.config.risk import RiskLimits
from pyrt.config.system import ExecutionConfig
from pyrt.services.execution.budget import RequestBudget, RequestKind

_BUDGET_FIELDS = ("request_budget_per_minute", "cancel_reserve_per_minute", "read_reserve_per_minute")


def submit_tier_per_minute(execution: ExecutionConfig) -> int:
    """How many submits per minute the execution engine's request budget lets through."""
    budget = RequestBudget(
        execution.request_budget_per_minute,
        execution.cancel_reserve_per_minute,
        read_reserve=execution.read_reserve_per_minute,
    )
    return budget.limit(RequestKind.SUBMIT)


def throttle_problems(
    risk: RiskLimits,
    risk_label: str,
    execution: ExecutionConfig,
    system_label: str,
    system_labels: Mapping[tuple[str, ...], str],
) -> Iterator[str]:
    """Problem lines (against risk_limits.toml) if the order throttle exceeds the submit
    tier. `system_labels` maps the path of a field set by an environment override to its
    label ("env PYRT_..."), so the line names where each term really came from."""
    throttle = risk.throttle.max_orders_per_minute
    try:
        tier = submit_tier_per_minute(execution)
    except ValueError:
        return  # reserves that leave no submit tier are reported by ExecutionConfig itself
    if throttle <= tier:
        return
    terms = []
    for name in _BUDGET_FIELDS:
        term = f"execution.{name} {getattr(execution, name)}"
        source = system_labels.get(("execution", name))
        terms.append(f"{term} from {source}" if source else term)
    yield problem_line(
        risk_label,
        ("throttle", "max_orders_per_minute"),
        f"{throttle} exceeds the execution engine's submit tier of {tier}/minute ({system_label}: {' - '.join(terms)})",
    )
