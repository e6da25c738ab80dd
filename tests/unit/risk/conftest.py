"""A tiny harness around RiskCore: a ManualClock, quotes stamped with the clock, and
intents with unique ids."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from pyrt.domain.clock import ManualClock, datetime_to_ns
from pyrt.domain.enums import OrderSide, OrderType
from pyrt.domain.intents import OrderIntent, RiskDecision
from pyrt.domain.market import Quote
from pyrt.services.risk.core import RiskCore
from pyrt.services.risk.limits import RiskLimits

# Tuesday 2024-03-05 10:00 in New York
START_NS = datetime_to_ns(datetime(2024, 3, 5, 15, 0, tzinfo=UTC))

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


class Env:
    """One RiskCore on a ManualClock."""

    def __init__(self, loose: bool = True, **overrides: Any) -> None:
        self.clock = ManualClock(START_NS)
        self.limits = RiskLimits(**{**(LOOSE if loose else {}), **overrides})
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

    def events(self, name: str) -> list[dict]:
        return [e for e in self.core.drain_events() if e["event"] == name]


@pytest.fixture
def env() -> Env:
    env = Env()
    env.quote()
    return env


@pytest.fixture
def make_env() -> type[Env]:
    """The Env class itself, for tests that need several or custom ones."""
    return Env
