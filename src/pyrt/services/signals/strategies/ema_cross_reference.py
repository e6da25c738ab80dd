"""The two reference strategies, specified exactly so that any backtest engine can be compared
with ours trade for trade (issue "pyrt backtest", item 7):

- EMAs with alpha = 2/(n+1), seeded with the first close and updated with every bar's close;
- no decision until both EMAs have had `slow` updates (the seed counts as the first);
- no decision on a bar whose open, high, low and close are all equal (the EMAs still update);
- `ema_cross_long_only`: flat and fast >= slow: buy `trade_size` at market; long and
  fast < slow: sell the whole position at market;
- `ema_cross_reversal`: the same EMAs and rules, long and short: flat: buy if fast >= slow,
  else sell short; long and fast < slow: close, then sell short; short and fast >= slow:
  close, then buy (two orders per reversal).

Nothing is decided while an earlier order of the strategy for the symbol is still open.
The backtester closes what is left at the end of the data at the last close."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import msgspec

from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar
from pyrt.services.signals.strategy import NO_OUTPUT, Output, Strategy, StrategyContext, SymbolState


class EmaCrossReferenceParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`fast` and `slow` EMA periods in bars (1 <= fast < slow); `trade_size` shares per entry."""

    fast: int = 10
    slow: int = 20
    trade_size: Decimal = Decimal(100)

    def __post_init__(self) -> None:
        if self.fast < 1:
            raise ValueError("fast: must be >= 1")
        if self.slow <= self.fast:
            raise ValueError("slow: must be greater than fast")
        if self.trade_size <= 0:
            raise ValueError("trade_size: must be > 0")


class _EmaPair(SymbolState):
    __slots__ = ("fast", "n", "slow")

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.fast = 0.0
        self.slow = 0.0
        self.n = 0


class EmaCrossLongOnly(Strategy):
    """Long-only EMA cross, as specified in the module docstring."""

    kind = "ema_cross_long_only"
    params_type = EmaCrossReferenceParams
    reversal = False

    def __init__(self, name: str, symbols: Sequence[str], params: dict[str, object] | None = None) -> None:
        super().__init__(name, symbols, params)
        p: EmaCrossReferenceParams = self.params
        self._a_fast = 2.0 / (p.fast + 1)
        self._a_slow = 2.0 / (p.slow + 1)
        self._warm = p.slow
        self._size = p.trade_size

    def create_state(self, symbol: str) -> _EmaPair:
        return _EmaPair(symbol)

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Sequence[Output]:
        st: _EmaPair = ctx.state(bar.symbol)  # type: ignore[assignment]
        close = bar.close
        if st.n:
            st.fast += self._a_fast * (close - st.fast)
            st.slow += self._a_slow * (close - st.slow)
        else:
            st.fast = st.slow = close
        st.n += 1
        if st.n < self._warm or (bar.open == close and bar.high == close and bar.low == close):
            return NO_OUTPUT
        if ctx.has_pending(bar.symbol):
            return NO_OUTPUT
        up = st.fast >= st.slow
        pos = ctx.position(bar.symbol)
        if pos == 0:
            if up:
                return (self._order(ctx, bar.symbol, OrderSide.BUY, self._size, "ema cross up: enter long"),)
            if self.reversal:
                return (self._order(ctx, bar.symbol, OrderSide.SELL, self._size, "ema cross down: enter short"),)
            return NO_OUTPUT
        if pos > 0 and not up:
            close_long = self._order(ctx, bar.symbol, OrderSide.SELL, pos, "ema cross down: exit long")
            if self.reversal:
                return (
                    close_long,
                    self._order(ctx, bar.symbol, OrderSide.SELL, self._size, "ema cross down: enter short"),
                )
            return (close_long,)
        if pos < 0 and up and self.reversal:
            return (
                self._order(ctx, bar.symbol, OrderSide.BUY, -pos, "ema cross up: exit short"),
                self._order(ctx, bar.symbol, OrderSide.BUY, self._size, "ema cross up: enter long"),
            )
        return NO_OUTPUT

    def _order(self, ctx: StrategyContext, symbol: str, side: OrderSide, qty: Decimal, reason: str) -> OrderIntent:
        return OrderIntent(
            intent_id=ctx.next_intent_id(symbol),
            strategy=self.name,
            symbol=symbol,
            side=side,
            qty=qty,
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            ts_ns=ctx.now_ns(),
            reason=reason,
        )


class EmaCrossReversal(EmaCrossLongOnly):
    """Long and short EMA cross: a reversal is two orders (close, then open the other way)."""

    kind = "ema_cross_reversal"
    reversal = True
    allow_concurrent_intents = True
