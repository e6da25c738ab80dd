"""An answered intent whose final report never arrives (lost on the bus) would keep its
strategy waiting for ever: after `older_than_s` it is checked against the engine's open
orders, and ended ("ended") when the engine no longer holds its order open."""

from __future__ import annotations

from decimal import Decimal

from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide
from pyrt.domain.market import Quote
from pyrt.services.signals.core import SignalCore
from pyrt.services.signals.strategy import Strategy, StrategyContext


class Buyer(Strategy):
    kind = "buyer"
    allow_concurrent_intents = True

    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.closed: list[tuple[str, str]] = []

    def on_quote(self, ctx: StrategyContext, quote: Quote):  # type: ignore[no-untyped-def]
        return [self.make_intent(ctx, quote.symbol, OrderSide.BUY, Decimal(1), "buy")]

    def on_intent_closed(self, ctx, intent, outcome):  # type: ignore[no-untyped-def]
        self.closed.append((intent.intent_id, outcome))


def test_an_overdue_intent_the_engine_no_longer_holds_open_ends() -> None:
    strategy = Buyer("b", ["AAPL"])
    clock = ManualClock()
    core = SignalCore([strategy], clock)
    ended, still_open, unanswered = (core.on_quote(Quote("AAPL", 100.0, 1, 100.02, 1, 0))[0] for _ in range(3))
    core.on_risk_decision(ended.intent_id, True, "OK")
    core.on_risk_decision(still_open.intent_id, True, "OK")
    core.on_risk_unanswered(unanswered.intent_id)
    clock.advance(30)
    assert core.overdue_intents(60) == [] and core.settle_overdue(set(), 60) == []  # not overdue yet
    clock.advance(31)
    assert core.overdue_intents(60) == [ended.intent_id, still_open.intent_id]  # the unanswered one is asked again
    assert core.settle_overdue({still_open.intent_id}, 60) == [ended.intent_id]
    assert strategy.closed == [(ended.intent_id, "ended")]
    assert core.pending_intents() == [still_open, unanswered]


def test_a_final_report_ends_the_watch() -> None:
    from pyrt.domain.orders import OrderState

    strategy = Buyer("b", ["AAPL"])
    clock = ManualClock()
    core = SignalCore([strategy], clock)
    intent = core.on_quote(Quote("AAPL", 100.0, 1, 100.02, 1, 0))[0]
    core.on_risk_decision(intent.intent_id, True, "OK")
    core.on_execution_report("b", "AAPL", OrderState.FILLED, Decimal(1), intent.intent_id)
    clock.advance(120)
    assert core.overdue_intents(60) == [] and strategy.closed == [(intent.intent_id, "filled")]
