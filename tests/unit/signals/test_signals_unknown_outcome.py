"""Review D5 in the signal core: an unknown outcome (EXECUTION_TIMEOUT: the engine may have
sent the order) keeps the intent pending, whether the risk manager sent it as an approval
(now) or as a denial (a risk manager of before D5); only the order's reports end it."""

from __future__ import annotations

from decimal import Decimal

from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide
from pyrt.domain.market import Quote
from pyrt.domain.orders import OrderState
from pyrt.services.signals.core import SignalCore
from pyrt.services.signals.strategy import Strategy, StrategyContext


class Buyer(Strategy):
    """A 1-share buy per quote; records how its intents end."""

    kind = "buyer"
    allow_concurrent_intents = True

    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.closed: list[tuple[str, str]] = []

    def on_quote(self, ctx: StrategyContext, quote: Quote):  # type: ignore[no-untyped-def]
        return [self.make_intent(ctx, quote.symbol, OrderSide.BUY, Decimal(1), "buy")]

    def on_intent_closed(self, ctx, intent, outcome):  # type: ignore[no-untyped-def]
        self.closed.append((intent.intent_id, outcome))


def test_unknown_outcome_keeps_the_intent_pending_until_its_report() -> None:
    strategy = Buyer("l", ["AAPL"])
    closed = strategy.closed
    core = SignalCore([strategy], ManualClock())
    now, before, denied = (core.on_quote(Quote("AAPL", 100.0, 1, 100.02, 1, 0))[0] for _ in range(3))
    core.on_risk_decision(now.intent_id, True, "EXECUTION_TIMEOUT")
    core.on_risk_decision(before.intent_id, False, "EXECUTION_TIMEOUT")
    core.on_risk_decision(denied.intent_id, False, "MAX_ORDER_VALUE")
    assert closed == [(denied.intent_id, "denied")]
    assert core.pending_intents() == [now, before]
    core.on_execution_report("l", "AAPL", OrderState.FILLED, None, before.intent_id)
    assert core.pending_intents() == [now] and closed[-1][0] == before.intent_id
