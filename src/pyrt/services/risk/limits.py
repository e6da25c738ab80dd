"""The risk limits the risk core enforces, as one frozen value built from the nested
`config/risk_limits.toml` shape. Money is Decimal; durations are seconds or minutes as the
field names say."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pyrt.domain.money import to_decimal
from pyrt.services.risk.state import TradingState, Trigger

DEFAULT_TRIGGER_MODES: dict[str, TradingState] = {
    # Losses: stop adding risk but let positions be closed.
    Trigger.DAILY_LOSS.value: TradingState.REDUCING,
    Trigger.DRAWDOWN.value: TradingState.REDUCING,
    Trigger.CONSECUTIVE_LOSSES.value: TradingState.REDUCING,
    Trigger.MAX_TRADES_PER_DAY.value: TradingState.REDUCING,
    # The system itself is unhealthy: nothing passes.
    Trigger.CONSECUTIVE_REJECTIONS.value: TradingState.HALTED,
    Trigger.ERROR_RATE.value: TradingState.HALTED,
    Trigger.MARKET_DATA_STALE.value: TradingState.HALTED,
    Trigger.INTEGRITY.value: TradingState.HALTED,
    Trigger.MANUAL.value: TradingState.HALTED,
}

# TOML section -> {key in the section: RiskLimits field}
_SECTIONS: dict[str, dict[str, str]] = {
    "position_limits": {
        "max_shares": "max_shares",
        "max_notional_per_position": "max_notional_per_position",
        "max_total_exposure": "max_total_exposure",
        "max_open_positions": "max_open_positions",
        "allow_shorting": "allow_shorting",
    },
    "order_validation": {
        "min_order_size": "min_order_size",
        "max_order_size": "max_order_size",
        "max_order_value": "max_order_value",
        "min_price": "min_price",
        "max_price": "max_price",
        "price_collar_percent": "price_collar_percent",
        "max_quote_age_seconds": "max_quote_age_seconds",
    },
    "throttle": {
        "max_orders_per_minute": "max_orders_per_minute",
        "max_orders_per_symbol_per_minute": "max_orders_per_symbol_per_minute",
    },
    "loss_limits": {
        "max_loss_per_trade": "max_loss_per_trade",
        "max_daily_loss": "max_daily_loss",
        "drawdown_threshold_percent": "drawdown_threshold_percent",
    },
    "circuit_breaker": {
        "enabled": "breaker_enabled",
        "daily_loss_threshold": "max_daily_loss",
        "max_consecutive_losses": "max_consecutive_losses",
        "max_trades_per_day": "max_trades_per_day",
        "max_consecutive_rejections": "max_consecutive_rejections",
        "max_error_rate_per_minute": "max_error_rate_per_minute",
        "market_data_stale_seconds": "market_data_stale_seconds",
        "cooldown_minutes": "cooldown_minutes",
    },
}


@dataclass(frozen=True)
class RiskLimits:
    """Every limit the pre-trade checks and the circuit breaker use. Defaults follow the
    example `config/risk_limits.toml`. Keys of the TOML the risk core does not use (stop
    loss, take profit, volatility, ...) are ignored by `from_mapping`."""

    # positions (per symbol and in total), signed-aware
    max_shares: Decimal = Decimal(1000)
    max_notional_per_position: Decimal = Decimal(10000)
    max_total_exposure: Decimal = Decimal(50000)
    max_open_positions: int = 5
    allow_shorting: bool = False
    # one order
    min_order_size: Decimal = Decimal(1)
    max_order_size: Decimal = Decimal(1000)
    max_order_value: Decimal = Decimal(10000)
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal(10000)
    price_collar_percent: Decimal = Decimal(5)
    max_quote_age_seconds: float = 5.0
    # throttle (sliding 60 s window of approved orders)
    max_orders_per_minute: int = 60
    max_orders_per_symbol_per_minute: int = 10
    # losses
    max_loss_per_trade: Decimal | None = None  # carried for stop management; not a pre-trade check
    max_daily_loss: Decimal = Decimal(5000)
    drawdown_threshold_percent: Decimal = Decimal(10)
    # circuit breaker
    breaker_enabled: bool = True
    max_consecutive_losses: int = 5
    max_trades_per_day: int = 50
    max_consecutive_rejections: int = 5
    max_error_rate_per_minute: int = 10
    market_data_stale_seconds: float = 30.0
    cooldown_minutes: float = 60.0
    trigger_modes: dict[str, TradingState] = field(default_factory=lambda: dict(DEFAULT_TRIGGER_MODES), hash=False)

    def __post_init__(self) -> None:
        for name in (
            "max_shares", "max_notional_per_position", "max_total_exposure", "min_order_size",
            "max_order_size", "max_order_value", "min_price", "max_price",
            "price_collar_percent", "max_daily_loss", "drawdown_threshold_percent",
        ):  # fmt: skip
            object.__setattr__(self, name, _positive_decimal(name, getattr(self, name)))
        if self.max_loss_per_trade is not None:
            per_trade = _positive_decimal("max_loss_per_trade", self.max_loss_per_trade)
            object.__setattr__(self, "max_loss_per_trade", per_trade)
        for name in (
            "max_open_positions", "max_orders_per_minute", "max_orders_per_symbol_per_minute",
            "max_consecutive_losses", "max_trades_per_day", "max_consecutive_rejections",
            "max_error_rate_per_minute",
        ):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a whole number >= 1, got {value!r}")
        for name in ("max_quote_age_seconds", "market_data_stale_seconds", "cooldown_minutes"):
            value = float(getattr(self, name))
            if not value >= 0:
                raise ValueError(f"{name}: expected a duration >= 0, got {value!r}")
            object.__setattr__(self, name, value)
        for name in ("allow_shorting", "breaker_enabled"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        if self.min_order_size > self.max_order_size:
            raise ValueError("min_order_size is larger than max_order_size")
        if self.min_price > self.max_price:
            raise ValueError("min_price is larger than max_price")
        object.__setattr__(self, "trigger_modes", _modes(self.trigger_modes))

    def mode_for(self, trigger: Trigger) -> TradingState:
        """The breaker mode (REDUCING or HALTED) a trigger puts trading in."""
        return self.trigger_modes.get(trigger.value, TradingState.HALTED)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RiskLimits:
        """Build limits from the nested TOML shape (`[position_limits]`, `[order_validation]`,
        `[throttle]`, `[loss_limits]`, `[circuit_breaker]` with its `modes` table). Missing
        keys keep their defaults. Raises ValueError on bad values, on
        `circuit_breaker.auto_resume = true` (deactivation is manual only) and when
        `loss_limits.max_daily_loss` and `circuit_breaker.daily_loss_threshold` disagree."""
        values: dict[str, Any] = {}
        for section, keys in _SECTIONS.items():
            table = data.get(section) or {}
            for key, name in keys.items():
                if key not in table:
                    continue
                if name in values and _differs(values[name], table[key]):
                    raise ValueError(f"{section}.{key} ({table[key]}) disagrees with {name} ({values[name]})")
                values[name] = table[key]
        breaker = data.get("circuit_breaker") or {}
        if breaker.get("auto_resume", False):
            raise ValueError("circuit_breaker.auto_resume: not supported, deactivation is manual only")
        if "modes" in breaker:
            values["trigger_modes"] = {**DEFAULT_TRIGGER_MODES, **breaker["modes"]}
        return cls(**values)


def _positive_decimal(name: str, value: object) -> Decimal:
    result = to_decimal(value, name)
    if result <= 0:
        raise ValueError(f"{name}: expected a positive amount, got {value!r}")
    return result


def _differs(a: object, b: object) -> bool:
    try:
        return to_decimal(a) != to_decimal(b)
    except ValueError:
        return a != b


def _modes(raw: Mapping[str, object]) -> dict[str, TradingState]:
    modes: dict[str, TradingState] = {}
    for key, value in raw.items():
        if value is None:  # an unset entry of a config model: keep the default
            continue
        trigger = Trigger(str(key))  # ValueError names an unknown trigger
        mode = TradingState(str(getattr(value, "value", value)).upper())
        if mode is TradingState.ACTIVE:
            raise ValueError(f"circuit_breaker.modes.{key}: must be HALTED or REDUCING")
        modes[trigger.value] = mode
    return {**DEFAULT_TRIGGER_MODES, **modes}
