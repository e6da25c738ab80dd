"""What the risk core tells its shell happened: breaker trips and deactivations, trading
state changes, a new trading day. Typed structs, as the signal bridge's core emits, so the
shell matches on the type (log, alert, count the activation) instead of parsing event
names, and a renamed field is a type error rather than a silently missing log word."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from pyrt.domain.enums import BreakerTrigger, TradingState


class BreakerTripped(msgspec.Struct, frozen=True, kw_only=True):
    """The circuit breaker went active: by a limit (`manual` False) or by an operator."""

    name: ClassVar[str] = "circuit breaker tripped"

    trigger: BreakerTrigger
    reason: str
    mode: TradingState
    manual: bool = False
    ts_ns: int


class BreakerEscalated(msgspec.Struct, frozen=True, kw_only=True):
    """An active REDUCING breaker went HALTED (a HALTED trigger fired while it was active)."""

    name: ClassVar[str] = "circuit breaker escalated"

    trigger: BreakerTrigger
    reason: str
    mode: TradingState
    ts_ns: int


class BreakerDeactivated(msgspec.Struct, frozen=True, kw_only=True):
    """An operator deactivated the breaker; `forced` when before the cooldown."""

    name: ClassVar[str] = "circuit breaker deactivated"

    trigger: BreakerTrigger | None
    reason: str
    forced: bool
    ts_ns: int


class TradingStateChanged(msgspec.Struct, frozen=True, kw_only=True):
    """An operator set the trading state."""

    name: ClassVar[str] = "trading state changed"

    old: TradingState
    new: TradingState
    reason: str
    ts_ns: int


class TradingDayStarted(msgspec.Struct, frozen=True, kw_only=True):
    """The New York trading day changed: the daily counters were reset."""

    name: ClassVar[str] = "trading day started"

    day: str
    previous: str
    ts_ns: int


BreakerEvent = BreakerTripped | BreakerEscalated | BreakerDeactivated
RiskEvent = BreakerEvent | TradingStateChanged | TradingDayStarted
BREAKER_EVENTS = (BreakerTripped, BreakerEscalated, BreakerDeactivated)


def describe(event: RiskEvent) -> str:
    """`field=value ...` of an event for a log line (enums by value)."""
    parts = []
    for field in event.__struct_fields__:
        value = getattr(event, field)
        parts.append(f"{field}={value.value if isinstance(value, TradingState | BreakerTrigger) else value}")
    return " ".join(parts)
