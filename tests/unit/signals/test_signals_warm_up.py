"""`SignalCore.warm_up`: history before the start reaches the strategies (their indicators
warm up) and every intent it yields is dropped with the reason "warm-up"."""

from __future__ import annotations

from decimal import Decimal

from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide
from pyrt.domain.market import Quote
from pyrt.services.signals.core import WARM_UP, IntentDropped, SignalCore
from pyrt.services.signals.strategy import Strategy, StrategyContext


class Counter(Strategy):
    """Counts quotes; asks to buy on each."""

    kind = "counter"

    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.seen = 0

    def on_quote(self, ctx: StrategyContext, quote: Quote):  # type: ignore[no-untyped-def]
        self.seen += 1
        return [self.make_intent(ctx, quote.symbol, OrderSide.BUY, Decimal(1), "buy")]


def test_warm_up_history_reaches_the_strategy_and_never_trades() -> None:
    strategy = Counter("c", ["AAPL"])
    core = SignalCore([strategy], ManualClock())
    for _ in range(3):
        core.warm_up(Quote("AAPL", 100.0, 1, 100.02, 1, 0))
    assert strategy.seen == 3
    assert core.pending_intents() == [] and core.sent_intents == 0
    dropped = [e for e in core.drain_events() if isinstance(e, IntentDropped)]
    assert [d.reason for d in dropped] == [WARM_UP] * 3
    assert core.on_quote(Quote("AAPL", 100.0, 1, 100.02, 1, 0))  # after the warm-up it trades
