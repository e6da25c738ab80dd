"""Intents whose outcome the signal core does not know yet, and how each one ends:
- review D5: EXECUTION_TIMEOUT (the engine may have sent the order) keeps the intent pending,
  whether the risk manager sent it as an approval (now) or as a denial (before D5); only the
  order's reports end it;
- no answer from the risk manager: pending, asked again with backoff until an answer;
- an answered intent whose final report never arrives: ended once overdue when the engine
  no longer holds its order open."""

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


def test_an_unanswered_intent_stays_pending_and_is_asked_again_with_backoff() -> None:
    """No answer from the risk manager is no denial: the request may still be on its way, or
    the order sent. The intent stays pending, the same intent is due again after 1 s, then 2 s,
    4 s ... up to 30 s, until an answer or a final report ends it."""
    strategy = Buyer("l", ["AAPL"])
    clock = ManualClock()
    core = SignalCore([strategy], clock)
    intent = core.on_quote(Quote("AAPL", 100.0, 1, 100.02, 1, 0))[0]
    core.on_risk_unanswered(intent.intent_id)
    assert core.pending_intents() == [intent] and strategy.closed == []
    assert core.unanswered == 1 and core.reask_due() == []
    delays = []
    for _ in range(8):
        waited = 0.0
        while not core.reask_due():
            clock.advance(0.5)
            waited += 0.5
        assert core.reask_due() == [intent]  # the same intent, the same id
        delays.append(waited)
        core.on_risk_unanswered(intent.intent_id)  # asked again, still no answer
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert core.pending_intents() == [intent] and strategy.closed == []


def test_an_answer_or_a_final_report_ends_the_asking() -> None:
    strategy = Buyer("l", ["AAPL"])
    clock = ManualClock()
    core = SignalCore([strategy], clock)
    approved, denied, reported = (core.on_quote(Quote("AAPL", 100.0, 1, 100.02, 1, 0))[0] for _ in range(3))
    for intent in (approved, denied, reported):
        core.on_risk_unanswered(intent.intent_id)
    core.on_risk_decision(approved.intent_id, True, "OK")
    core.on_risk_decision(denied.intent_id, False, "MAX_ORDER_VALUE")
    core.on_execution_report("l", "AAPL", OrderState.FILLED, None, reported.intent_id)
    clock.advance(60)
    assert core.unanswered == 0 and core.reask_due() == []
    assert core.pending_intents() == [approved]
    assert strategy.closed == [(denied.intent_id, "denied"), (reported.intent_id, "filled")]


def test_an_unanswered_intent_that_is_no_longer_pending_is_not_asked() -> None:
    core = SignalCore([Buyer("l", ["AAPL"])], ManualClock())
    core.on_risk_unanswered("never-sent")
    assert core.unanswered == 0


# An answered intent whose final report never arrives would keep its strategy waiting for
# ever: once overdue it is checked against the engine's open orders and ended ("ended")
# when the engine no longer holds its order open.


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
    strategy = Buyer("b", ["AAPL"])
    clock = ManualClock()
    core = SignalCore([strategy], clock)
    intent = core.on_quote(Quote("AAPL", 100.0, 1, 100.02, 1, 0))[0]
    core.on_risk_decision(intent.intent_id, True, "OK")
    core.on_execution_report("b", "AAPL", OrderState.FILLED, Decimal(1), intent.intent_id)
    clock.advance(120)
    assert core.overdue_intents(60) == [] and strategy.closed == [(intent.intent_id, "filled")]
