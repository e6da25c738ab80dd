"""Typed model of `config/risk_limits.toml`: the hard pre-trade limits and the circuit
breaker. Section and field names follow the original system's file. Every limit must be
given explicitly and be positive: a missing or zero limit is a configuration error.

This is the only risk-limits model: the risk core takes `RiskLimits` as it is (reading the
sections, plus the few derived values below), so a limit, a default or a check is written
once, here. The triggers and trading states are domain enums (`pyrt.domain.enums`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from pyrt.config.errors import problems_error
from pyrt.config.types import StrictModel
from pyrt.domain.enums import BreakerTrigger, TradingState

PositiveDecimal = Annotated[Decimal, Field(gt=0)]
Percent = Annotated[Decimal, Field(gt=0, le=100)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]

BreakerMode = Literal["HALTED", "REDUCING"]
"""HALTED: no new orders at all; REDUCING: only orders that reduce a position."""

NS_PER_SECOND = 1_000_000_000


class PositionLimits(StrictModel):
    """[position_limits]: per position and for the whole book (shares and dollars)."""

    max_shares: PositiveDecimal
    max_notional_per_position: PositiveDecimal
    max_total_exposure: PositiveDecimal
    max_open_positions: PositiveInt
    allow_shorting: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> PositionLimits:
        if self.max_notional_per_position > self.max_total_exposure:
            raise problems_error(
                [("max_notional_per_position", f"must be <= max_total_exposure ({self.max_total_exposure})")]
            )
        return self


class OrderValidation(StrictModel):
    """[order_validation]: checks on each single order."""

    min_order_size: PositiveDecimal
    max_order_size: PositiveDecimal
    max_order_value: PositiveDecimal
    min_price: PositiveDecimal
    max_price: PositiveDecimal
    price_collar_percent: Percent  # max distance of a limit price from the last quote
    max_quote_age_seconds: PositiveFloat  # older market data is stale: deny

    @model_validator(mode="after")
    def _ordered(self) -> OrderValidation:
        problems = []
        if self.min_order_size > self.max_order_size:
            problems.append(("min_order_size", f"must be <= max_order_size ({self.max_order_size})"))
        if self.min_price > self.max_price:
            problems.append(("min_price", f"must be <= max_price ({self.max_price})"))
        if problems:
            raise problems_error(problems)
        return self


class Throttle(StrictModel):
    """[throttle]: order rate limits."""

    max_orders_per_minute: PositiveInt
    max_orders_per_symbol_per_minute: PositiveInt

    @model_validator(mode="after")
    def _ordered(self) -> Throttle:
        if self.max_orders_per_symbol_per_minute > self.max_orders_per_minute:
            raise problems_error(
                [
                    (
                        "max_orders_per_symbol_per_minute",
                        f"must be <= max_orders_per_minute ({self.max_orders_per_minute})",
                    )
                ]
            )
        return self


class LossLimits(StrictModel):
    """[loss_limits]: dollars per trade and per day, drawdown from the day's peak equity."""

    max_loss_per_trade: PositiveDecimal
    max_daily_loss: PositiveDecimal
    drawdown_threshold_percent: Percent

    @model_validator(mode="after")
    def _ordered(self) -> LossLimits:
        if self.max_loss_per_trade > self.max_daily_loss:
            raise problems_error([("max_loss_per_trade", f"must be <= max_daily_loss ({self.max_daily_loss})")])
        return self


def _default(trigger: BreakerTrigger) -> BreakerMode:
    mode: BreakerMode = trigger.default_mode.value  # type: ignore[assignment]
    return mode


class BreakerModes(StrictModel):
    """[circuit_breaker.modes]: the trading state each trigger puts the system in. One
    field per `BreakerTrigger`, defaulting to its `default_mode` (losses stop adding risk
    but let positions be closed; an unhealthy system stops everything)."""

    daily_loss: BreakerMode = _default(BreakerTrigger.DAILY_LOSS)
    drawdown: BreakerMode = _default(BreakerTrigger.DRAWDOWN)
    consecutive_losses: BreakerMode = _default(BreakerTrigger.CONSECUTIVE_LOSSES)
    max_trades_per_day: BreakerMode = _default(BreakerTrigger.MAX_TRADES_PER_DAY)
    consecutive_rejections: BreakerMode = _default(BreakerTrigger.CONSECUTIVE_REJECTIONS)
    error_rate: BreakerMode = _default(BreakerTrigger.ERROR_RATE)
    market_data_stale: BreakerMode = _default(BreakerTrigger.MARKET_DATA_STALE)
    integrity: BreakerMode = _default(BreakerTrigger.INTEGRITY)  # overfill, broker-position mismatch
    manual: BreakerMode = _default(BreakerTrigger.MANUAL)

    def for_trigger(self, trigger: BreakerTrigger | str) -> TradingState:
        """The mode (REDUCING or HALTED) of a trigger; ValueError for an unknown one."""
        return TradingState(getattr(self, BreakerTrigger(trigger).value))


if set(BreakerModes.model_fields) != {t.value for t in BreakerTrigger}:  # pragma: no cover - caught at import
    raise TypeError("BreakerModes must have exactly one field per BreakerTrigger")


class CircuitBreakerLimits(StrictModel):
    """[circuit_breaker]. `daily_loss_threshold` may be omitted; if given it must equal
    loss_limits.max_daily_loss (after loading it always does). A tripped breaker stays
    tripped until an operator resumes it: `auto_resume` must be false."""

    enabled: bool = True
    daily_loss_threshold: PositiveDecimal | None = None
    max_consecutive_losses: PositiveInt
    max_trades_per_day: PositiveInt
    max_consecutive_rejections: PositiveInt
    max_error_rate_per_minute: PositiveInt
    market_data_stale_seconds: PositiveFloat
    cooldown_minutes: PositiveFloat
    auto_resume: bool = False
    modes: BreakerModes = Field(default_factory=BreakerModes)

    @model_validator(mode="after")
    def _manual_resume(self) -> CircuitBreakerLimits:
        if self.auto_resume:
            raise problems_error([("auto_resume", "not supported: only an operator resumes a tripped breaker")])
        return self


class RiskMetadata(StrictModel):
    """[metadata]: free description of the limits file."""

    version: str = ""
    last_updated: str | date | datetime = ""
    description: str = ""


class RiskLimits(StrictModel):
    """The whole of risk_limits.toml, as the risk core uses it."""

    position_limits: PositionLimits
    order_validation: OrderValidation
    throttle: Throttle
    loss_limits: LossLimits
    circuit_breaker: CircuitBreakerLimits
    metadata: RiskMetadata = Field(default_factory=RiskMetadata)

    @model_validator(mode="after")
    def _daily_loss(self) -> RiskLimits:
        problems = list(self._problems())
        if problems:
            raise problems_error(problems)
        if self.circuit_breaker.daily_loss_threshold is None:
            breaker = self.circuit_breaker.model_copy(update={"daily_loss_threshold": self.loss_limits.max_daily_loss})
            object.__setattr__(self, "circuit_breaker", breaker)
        return self

    def mode_for(self, trigger: BreakerTrigger) -> TradingState:
        """The breaker mode (REDUCING or HALTED) a trigger puts trading in."""
        return self.circuit_breaker.modes.for_trigger(trigger)

    @property
    def cooldown_ns(self) -> int:
        """How long a tripped breaker stays active before an unforced deactivation."""
        return int(self.circuit_breaker.cooldown_minutes * 60 * NS_PER_SECOND)

    def _problems(self) -> Iterator[tuple[str, str]]:
        threshold = self.circuit_breaker.daily_loss_threshold
        if threshold is not None and threshold != self.loss_limits.max_daily_loss:
            yield (
                "circuit_breaker.daily_loss_threshold",
                f"must equal loss_limits.max_daily_loss ({self.loss_limits.max_daily_loss}) or be absent",
            )
