"""Shared plumbing for the built-in bar-close strategies: they run on bar closes, or on
quote mids sampled into fixed intervals (the last mid of each interval acts as a close)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pyrt.domain.market import Bar, Quote
from pyrt.services.signals.indicators import BarSampler
from pyrt.services.signals.strategy import (
    NO_OUTPUT,
    OrderSettings,
    Output,
    Strategy,
    StrategyContext,
    SymbolState,
)


class CloseParams(OrderSettings, kw_only=True, forbid_unknown_fields=True):
    """OrderSettings plus the price source: "bar" (bar closes) or "quote" (mid of the last
    quote in each `sample_interval_s` interval)."""

    source: Literal["bar", "quote"] = "bar"
    sample_interval_s: int = 60

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sample_interval_s < 1:
            raise ValueError("sample_interval_s: must be >= 1")


class CloseState(SymbolState):
    """State with an optional quote sampler; subclasses add their indicators."""

    def __init__(self, symbol: str, sample_interval_s: int | None) -> None:
        super().__init__(symbol)
        self.sampler = BarSampler(sample_interval_s * 1_000_000_000) if sample_interval_s else None


class CloseStrategy(Strategy):
    """Routes bar closes or sampled quote mids to `on_close`."""

    params_type = CloseParams

    def __init__(self, name: str, symbols: Sequence[str], params: Mapping[str, Any] | None = None) -> None:
        super().__init__(name, symbols, params)
        self.wants_quotes = self.params.source == "quote"
        self.wants_bars = self.params.source == "bar"

    def on_close(self, ctx: StrategyContext, state: Any, symbol: str, close: float, ts_ns: int) -> Sequence[Output]:
        """A new close for `symbol`; `state` is what `create_state` made for it."""
        raise NotImplementedError

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Sequence[Output]:
        """Feed the bar's close to `on_close` (when source is "bar")."""
        if self.params.source != "bar":
            return NO_OUTPUT
        return self.on_close(ctx, ctx.state(bar.symbol), bar.symbol, bar.close, bar.ts_ns)

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> Sequence[Output]:
        """Sample the mid; feed the previous interval's close to `on_close` when a new
        interval starts (when source is "quote"). Crossed or empty quotes are ignored."""
        if self.params.source != "quote":
            return NO_OUTPUT
        if not (0.0 < quote.bid_price <= quote.ask_price):
            return NO_OUTPUT
        state: Any = ctx.state(quote.symbol)  # a CloseState made by create_state
        close = state.sampler.update(quote.ts_ns, quote.mid)
        if close is None:
            return NO_OUTPUT
        return self.on_close(ctx, state, quote.symbol, close, quote.ts_ns)

    def sample_interval(self) -> int | None:
        """Sampling interval for CloseState, or None when running on bars."""
        return self.params.sample_interval_s if self.params.source == "quote" else None
