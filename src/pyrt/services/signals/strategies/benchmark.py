"""A load generator, not a trading idea: every Nth quote of a symbol becomes an intent,
alternating buy and sell of `order_qty` (1 share). Used to measure tick-to-submit latency."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pyrt.domain.enums import OrderSide
from pyrt.domain.market import Quote
from pyrt.services.signals.strategy import (
    NO_OUTPUT,
    OrderSettings,
    Output,
    Strategy,
    StrategyContext,
    SymbolState,
)


class BenchmarkParams(OrderSettings, kw_only=True, forbid_unknown_fields=True):
    """`every_n` quotes per intent; `order_qty` defaults to 1 share."""

    order_qty: Decimal = Decimal(1)
    every_n: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.every_n < 1:
            raise ValueError("every_n: must be >= 1")


class BenchmarkState(SymbolState):
    """Quotes seen since the last intent and the side of the next one."""

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.count = 0
        self.next_side = OrderSide.BUY


class BenchmarkStrategy(Strategy):
    """Every `every_n`-th quote of a symbol yields one intent, buy and sell alternating.
    The intent's reason carries the quote's event time (`q=<ts_ns>`) for latency
    measurement. Intents do not wait for earlier ones to finish."""

    kind = "benchmark_every_n"
    params_type = BenchmarkParams
    allow_concurrent_intents = True

    def create_state(self, symbol: str) -> BenchmarkState:
        return BenchmarkState(symbol)

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> Sequence[Output]:
        state: BenchmarkState = ctx.state(quote.symbol)  # type: ignore[assignment]
        state.count += 1
        if state.count < self.params.every_n:
            return NO_OUTPUT
        state.count = 0
        side = state.next_side
        ref = quote.ask_price if side is OrderSide.BUY else quote.bid_price
        intent = self.make_intent(ctx, quote.symbol, side, self.params.order_qty, f"q={quote.ts_ns}", ref)
        if intent is None:
            return NO_OUTPUT
        state.next_side = OrderSide.SELL if side is OrderSide.BUY else OrderSide.BUY
        return (intent,)
