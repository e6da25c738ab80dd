"""A tiny harness around RiskCore: a ManualClock, quotes stamped with the clock, intents
with unique ids, and limits given by field name (`make_env(max_shares=D(10))`) that are
built into the config's own `RiskLimits`, so every test runs on limits the config accepts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from pyrt.config.risk import RiskLimits
from pyrt.domain.clock import ManualClock, datetime_to_ns
from pyrt.domain.enums import OrderSide, OrderType
from pyrt.domain.intents import OrderIntent, RiskDecision
from pyrt.domain.market import Quote
from pyrt.services.risk.core import RiskCore
from pyrt.services.risk.events import RiskEvent

# Tuesday 2024-03-05 10:00 in New York
E = TypeVar("E", bound=RiskEvent)

START_NS = datetime_to_ns(datetime(2024, 3, 5, 15, 0, tzinfo=UTC))

# The limits of the example config/risk_limits.toml, by section.
DEFAULTS: dict[str, dict[str, Any]] = {
    "position_limits": dict(max_shares=Decimal(1000), max_notional_per_position=Decimal(10000),
                            max_total_exposure=Decimal(50000), max_open_positions=5, allow_shorting=False),
    "order_validation": dict(min_order_size=Decimal(1), max_order_size=Decimal(1000), max_order_value=Decimal(10000),
                             min_price=Decimal("0.01"), max_price=Decimal(10000), price_collar_percent=Decimal(5),
                             max_quote_age_seconds=5.0),
    "throttle": dict(max_orders_per_minute=60, max_orders_per_symbol_per_minute=10),
    "loss_limits": dict(max_loss_per_trade=Decimal(500), max_daily_loss=Decimal(5000),
                        drawdown_threshold_percent=Decimal(10)),
    "circuit_breaker": dict(enabled=True, max_consecutive_losses=5, max_trades_per_day=50, max_consecutive_rejections=5,
                            max_error_rate_per_minute=10, market_data_stale_seconds=30.0, cooldown_minutes=60.0),
}  # fmt: skip
SECTION_OF = {name: section for section, fields in DEFAULTS.items() for name in fields}
# (lower, upper): the config requires lower <= upper. A limit a test sets wins; the other
# one of the pair (not set by the test) is moved so that the pair stays valid.
ORDERED = (
    ("max_notional_per_position", "max_total_exposure"),
    ("min_order_size", "max_order_size"),
    ("min_price", "max_price"),
    ("max_orders_per_symbol_per_minute", "max_orders_per_minute"),
    ("max_loss_per_trade", "max_daily_loss"),
)

# Limits loose enough that only the limit a test sets bites.
LOOSE = dict(
    max_shares=Decimal(10**6),
    max_notional_per_position=Decimal(10**9),
    max_total_exposure=Decimal(10**9),
    max_open_positions=100,
    min_order_size=Decimal("0.001"),
    max_order_size=Decimal(10**6),
    max_order_value=Decimal(10**9),
    min_price=Decimal("0.0001"),
    max_price=Decimal(10**6),
    price_collar_percent=Decimal(50),
    max_orders_per_minute=10**6,
    max_orders_per_symbol_per_minute=10**6,
    max_trades_per_day=10**6,
    max_consecutive_rejections=10**6,
    max_error_rate_per_minute=10**6,
    max_consecutive_losses=10**6,
    max_daily_loss=Decimal(10**9),
    drawdown_threshold_percent=Decimal(99),
)


def risk_limits(loose: bool = True, **overrides: Any) -> RiskLimits:
    """The config model from DEFAULTS, LOOSE (unless `loose` is false) and `overrides`, each
    a field name of any section (`enabled` is the breaker's)."""
    flat = {name: value for fields in DEFAULTS.values() for name, value in fields.items()}
    flat.update(LOOSE if loose else {})
    unknown = set(overrides) - set(flat)
    if unknown:
        raise TypeError(f"unknown limits {sorted(unknown)}")
    flat.update(overrides)
    for lower, upper in ORDERED:
        if lower in overrides and upper not in overrides:
            flat[upper] = max(flat[upper], flat[lower])
        elif lower not in overrides:
            flat[lower] = min(flat[lower], flat[upper])
    sections: dict[str, dict[str, Any]] = {section: {} for section in DEFAULTS}
    for name, value in flat.items():
        sections[SECTION_OF[name]][name] = value
    return RiskLimits.model_validate(sections)


class Env:
    """One RiskCore on a ManualClock."""

    def __init__(self, loose: bool = True, **overrides: Any) -> None:
        self.clock = ManualClock(START_NS)
        self.limits = risk_limits(loose, **overrides)
        self.core = RiskCore(self.limits, self.clock)
        self._ids = itertools.count(1)

    def quote(self, symbol: str = "AAPL", bid: float = 100.0, ask: float = 100.0, age_s: float = 0.0) -> None:
        ts = self.clock.now_ns() - int(age_s * 1_000_000_000)
        self.core.on_quote(Quote(symbol, bid, 100.0, ask, 100.0, ts))

    def intent(
        self,
        side: str = "buy",
        qty: Any = 10,
        symbol: str = "AAPL",
        order_type: str = "market",
        limit: Any = None,
        stop: Any = None,
        intent_id: str | None = None,
    ) -> OrderIntent:
        return OrderIntent(
            intent_id=intent_id or f"i{next(self._ids)}",
            strategy="test",
            symbol=symbol,
            side=OrderSide(side),
            qty=Decimal(str(qty)),
            order_type=OrderType(order_type),
            limit_price=None if limit is None else Decimal(str(limit)),
            stop_price=None if stop is None else Decimal(str(stop)),
        )

    def check(self, **kwargs: Any) -> RiskDecision:
        return self.core.check(self.intent(**kwargs))

    def hold(self, symbol: str, qty: Any, price: Any = 100) -> None:
        """Set a position as execution would report it."""
        self.core.on_position(symbol, Decimal(str(qty)), Decimal(str(price)))

    def events(self, kind: type[E]) -> list[E]:
        """The drained events of one type (the others are dropped)."""
        return [e for e in self.core.drain_events() if isinstance(e, kind)]


@pytest.fixture
def env() -> Env:
    env = Env()
    env.quote()
    return env


@pytest.fixture
def make_env() -> type[Env]:
    """The Env class itself, for tests that need several or custom ones."""
    return Env
