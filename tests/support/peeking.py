"""A strategy that cheats on purpose, for the look-ahead check's tests: it finds the bars of
the backtest running it (walking up the call stack to the engine, as a careless helper
reading a shared list of all the bars would) and trades on the NEXT bar's close: buy 1 when
it will be higher, sell 1 when lower. On the last bar it sees no next bar and decides
nothing, so cutting the data changes its decision at every cut."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

import msgspec
import numpy as np

from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar
from pyrt.services.signals.strategy import NO_OUTPUT, Output, Strategy, StrategyContext


class PeekParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    qty: int = 1


def _running_data() -> Any:
    """The BarData of the backtest on the call stack (the engine's `self.data`)."""
    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if type(owner).__name__ == "Backtest":
            return owner.data
        frame = frame.f_back  # type: ignore[assignment]
    raise RuntimeError("not run by a backtest")


class PeekNextBar(Strategy):
    kind: ClassVar[str] = "test_peek_next_bar"
    params_type = PeekParams
    allow_concurrent_intents = True

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Sequence[Output]:
        data = _running_data()
        si = data.symbols.index(bar.symbol)
        later = np.flatnonzero((data.sym == si) & (data.close_ns > ctx.now_ns()))
        if len(later) == 0:
            return NO_OUTPUT
        upcoming = float(data.close[later[0]])
        if upcoming == bar.close:
            return NO_OUTPUT
        side = OrderSide.BUY if upcoming > bar.close else OrderSide.SELL
        return (
            OrderIntent(
                intent_id=ctx.next_intent_id(bar.symbol),
                strategy=self.name,
                symbol=bar.symbol,
                side=side,
                qty=Decimal(self.params.qty),
                order_type=OrderType.MARKET,
                time_in_force=TimeInForce.DAY,
                ts_ns=ctx.now_ns(),
                reason="peeked at the next bar",
            ),
        )
