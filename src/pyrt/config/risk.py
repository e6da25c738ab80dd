"""Typed model of `config/risk_limits.toml`: the hard pre-trade limits and the circuit
breaker. Section and field names follow the original system's file. Every limit must be
given explicitly and be positive: a missing or zero limit is a configuration error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from pyrt.config.errors import problems_error
from pyrt.config.types import StrictModel

PositiveDecimal = Annotated[Decimal, Field(gt=0)]
Percent = Annotated[Decimal, Field(gt=0, le=100)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]

BreakerMode = Literal["HALTED", "REDUCING"]
"""HALTED: no new orders at all; REDUCING: only orders that reduce a position."""

BREAKER_TRIGGERS = (
    "daily_loss",
    "drawdown",
    "consecutive_losses",
    "max_trades_per_day",
    "consecutive_rejections",
    "error_rate",
    "market_data_stale",
    "integrity",
    "manual",
)
"""Why the circuit breaker can trip (the risk core's `Trigger` values); also the `trigger`
label of its activation metric."""


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
                [("max_orders_per_symbol_per_minute", f"must be <= max_orders_per_minute ({self.max_orders_per_minute})")]
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


class BreakerModes(StrictModel):
    """[circuit_breaker.modes]: the trading state each trigger puts the system in. Losses
    stop adding risk but let positions be closed; an unhealthy system stops everything."""

    daily_loss: BreakerMode = "REDUCING"
    drawdown: BreakerMode = "REDUCING"
    consecutive_losses: BreakerMode = "REDUCING"
    max_trades_per_day: BreakerMode = "REDUCING"
    consecutive_rejections: BreakerMode = "HALTED"
    error_rate: BreakerMode = "HALTED"
    market_data_stale: BreakerMode = "HALTED"
    integrity: BreakerMode = "HALTED"  # overfill, broker-position mismatch
    manual: BreakerMode = "HALTED"

    def for_trigger(self, trigger: str) -> BreakerMode:
        """The mode of a trigger in BREAKER_TRIGGERS."""
        if trigger not in BREAKER_TRIGGERS:
            raise KeyError(f"unknown breaker trigger {trigger!r}")
        mode: BreakerMode = getattr(self, trigger)
        return mode


class CircuitBreaker(StrictModel):
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
    def _manual_resume(self) -> CircuitBreaker:
        if self.auto_resume:
            raise problems_error([("auto_resume", "not supported: only an operator resumes a tripped breaker")])
        return self


class RiskMetadata(StrictModel):
    """[metadata]: free description of the limits file."""

    version: str = ""
    last_updated: str | date | datetime = ""
    description: str = ""


class RiskLimits(StrictModel):
    """The whole of risk_limits.toml."""

    position_limits: PositionLimits
    order_validation: OrderValidation
    throttle: Throttle
    loss_limits: LossLimits
    circuit_breaker: CircuitBreaker
    metadata: RiskMetadata = Field(default_factory=RiskMetadata)

    @model_validator(mode="after")
    def _daily_loss(self) -> RiskLimits:
        problems = list(self._problems())
        if problems:
            raise problems_error(problems)
        if self.circuit_breaker.daily_loss_threshold is None:
            breaker = self.circuit_breaker.model_copy(
                update={"daily_loss_threshold": self.loss_limits.max_daily_loss}
            )
            object.__setattr__(self, "circuit_breaker", breaker)
        return self

    def _problems(self) -> Iterator[tuple[str, str]]:
        threshold = self.circuit_breaker.daily_loss_threshold
        if threshold is not None and threshold != self.loss_limits.max_daily_loss:
            yield (
                "circuit_breaker.daily_loss_threshold",
                f"must equal loss_limits.max_daily_loss ({self.loss_limits.max_daily_loss}) or be absent",
            )
