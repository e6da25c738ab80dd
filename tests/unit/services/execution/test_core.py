"""The execution core's rules, driven without threads, sockets or HTTP: the core under
`InlineExecution` against a toy broker, with a manual clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide, ReportEvent
from pyrt.domain.intents import OrderIntent
from pyrt.domain.orders import OrderState, is_terminal_status
from pyrt.services.execution.budget import RequestBudget
from pyrt.services.execution.core import BUDGET_EXHAUSTED, ExecutionCore
from pyrt.services.execution.inline import InlineExecution
from pyrt.services.execution.messages import BrokerPositions, LookupMissing, TradeUpdateSeen
from pyrt.services.execution.watchdog import Watchdog
from pyrt.venues.port import BrokerPosition, TradeUpdateReport
from tests.fakes import FakeVenue
from tests.unit.services.execution.toy_broker import PRICE, ToyBroker


def make(
    budget: RequestBudget | None = None, watchdog: bool = False, hold: bool = False, broker: ToyBroker | None = None
) -> tuple[InlineExecution, ToyBroker, ManualClock]:
    clock = ManualClock()
    broker = broker or ToyBroker()
    core = ExecutionCore(
        clock,
        budget or RequestBudget(600, 30, clock, read_reserve=10),
        max_resend_age_s=30,
        submit_timeout_s=10,
        watchdog=Watchdog(clock.now_ns(), 3, 30) if watchdog else None,
    )
    ex = InlineExecution(core, FakeVenue(broker), hold_answers=hold)
    ex.run(core.start_accepting())
    return ex, broker, clock


def intent(n: int, symbol: str = "AAPL", side: str = "buy", qty: int = 1) -> OrderIntent:
    return OrderIntent(intent_id=f"i{n}", strategy="s", symbol=symbol, side=OrderSide(side), qty=Decimal(qty))


def stream(ex: InlineExecution, broker: ToyBroker) -> None:
    for update in broker.take_updates():
        ex.handle(TradeUpdateSeen(update))


def settle(ex: InlineExecution, broker: ToyBroker, clock: ManualClock, seconds: float = 120, step: float = 0.5) -> None:
    for _ in range(int(seconds / step)):
        clock.advance(step)
        ex.deliver()
        stream(ex, broker)
        ex.tick()


def state(ex: InlineExecution, coid: str) -> OrderState:
    return ex.core.proj.orders[coid].state


def test_order_is_journalled_before_its_post_and_filled_once() -> None:
    ex, broker, _ = make()
    adm = ex.intent(intent(1))
    kinds = [r.kind for r in ex.journal.records]
    assert adm.accepted and kinds[:2] == ["intent", "submit_sent"] and broker.posts == [adm.client_order_id]
    stream(ex, broker)
    stream(ex, broker)  # nothing new; a duplicate delivery below
    fill = next(r for r in ex.journal.records if r.kind == "fill")
    ex.handle(
        TradeUpdateSeen(
            TradeUpdateReport(
                "fill",
                broker.order(adm.client_order_id),
                "t",
                price=PRICE,
                qty=Decimal(1),
                execution_id=fill.payload["execution_id"],
            )
        )
    )
    assert state(ex, adm.client_order_id) is OrderState.FILLED and ex.core.proj.position("AAPL").qty == 1


def test_unknown_outcome_resolved_by_lookup_never_by_second_post() -> None:
    ex, broker, clock = make()
    broker.script.append("lost_reply")  # the broker acted; the answer was lost
    adm = ex.intent(intent(1))
    assert state(ex, adm.client_order_id) is OrderState.UNKNOWN
    settle(ex, broker, clock, seconds=5)
    assert broker.posts == [adm.client_order_id]
    assert state(ex, adm.client_order_id) is OrderState.FILLED and ex.core.proj.position("AAPL").qty == 1


def test_a_fill_learned_by_lookup_is_reported_with_a_terminal_status() -> None:
    """The stuck-intent defect: the report of a fill learned from a REST lookup must say
    the order is finished, by the one rule every consumer asks."""
    ex, broker, clock = make()
    broker.script.append("lost_reply")
    adm = ex.intent(intent(1))
    broker.take_updates()  # the trade stream is down: only the lookup can tell
    settle(ex, broker, clock, seconds=5)
    last = [p.message for p in ex.published if getattr(p.message, "client_order_id", "") == adm.client_order_id][-1]
    assert last.event is ReportEvent.STATUS and last.status == "filled" and is_terminal_status(last.status)


def test_a_post_that_never_arrived_is_resent_with_the_same_client_order_id() -> None:
    ex, broker, clock = make()
    broker.script.append("timeout")  # never reached the broker
    adm = ex.intent(intent(1))
    settle(ex, broker, clock, seconds=5)
    assert broker.posts == [adm.client_order_id, adm.client_order_id]
    assert [r.payload for r in ex.journal.records if r.kind == "submit_sent"][-1] == {"resend": True}
    assert state(ex, adm.client_order_id) is OrderState.FILLED and broker.position("AAPL") == 1


def test_a_duplicate_id_refusal_is_looked_up_not_taken_as_a_rejection() -> None:
    ex, broker, clock = make()
    broker.script.append("timeout")
    adm = ex.intent(intent(1))
    broker.script.appendleft("ok")
    # the first POST lands late, after our 404 and before our resend
    ex.handle(LookupMissing(adm.client_order_id))
    ex.venue.submit_order(adm.client_order_id, intent(1))
    settle(ex, broker, clock, seconds=5)
    assert state(ex, adm.client_order_id) is OrderState.FILLED
    assert broker.position("AAPL") == 1 == ex.core.proj.position("AAPL").qty


def test_a_stale_unsent_order_is_rejected_locally_and_never_sent_after() -> None:
    ex, broker, clock = make(hold=True)
    broker.script.append("timeout")
    adm = ex.intent(intent(1))
    clock.advance(40)  # older than max_resend_age (30 s) when its 404 comes
    ex.deliver()
    settle(ex, broker, clock, seconds=30)
    assert state(ex, adm.client_order_id) is OrderState.REJECTED
    assert broker.posts == [adm.client_order_id] and broker.position("AAPL") == 0
    settle(ex, broker, clock, seconds=120)
    assert broker.posts == [adm.client_order_id]


def test_a_burst_beyond_the_submit_budget_is_refused_at_admission() -> None:
    clock = ManualClock()
    budget = RequestBudget(20, 5, clock, read_reserve=5)
    ex, broker, _ = make(budget=budget)
    answers = [ex.intent(intent(n)) for n in range(40)]
    accepted = [a for a in answers if a.accepted]
    refused = [a for a in answers if not a.accepted]
    assert len(accepted) == budget.limit("submit") and refused
    assert {a.reason_code for a in refused} == {BUDGET_EXHAUSTED} and "retry in" in refused[0].message
    assert len(ex.core.proj.orders) == len(accepted) == len(broker.posts)  # a refusal journals nothing


def test_a_rate_limited_order_waits_unlooked_up_then_expires_with_an_alert_and_is_never_sent() -> None:
    ex, broker, clock = make(hold=True)
    broker.script.extend(["429"] * 200)
    adm = ex.intent(intent(1))
    lookups = 0
    for _ in range(100):
        clock.advance(0.5)
        ex.deliver()
        before = len(broker.posts)
        ex.tick()
        lookups += sum(1 for a in ex.answers if type(a).__name__.startswith("Lookup"))
        assert len(broker.posts) - before <= 1
    assert lookups == 0  # never looked up as if it had been sent
    assert state(ex, adm.client_order_id) is OrderState.REJECTED
    assert any(a.kind == "submit_stalled" for a in ex.alerts)
    posts = len(broker.posts)
    broker.script.clear()
    settle(ex, broker, clock, seconds=60)
    assert len(broker.posts) == posts and broker.position("AAPL") == 0


def test_a_failed_journal_write_sends_nothing_and_halts() -> None:
    ex, broker, _ = make()
    ex.journal.fail_next = True
    adm = ex.intent(intent(1))
    assert not adm.accepted and broker.posts == [] and ex.core.halted_reason.startswith("journal write failed")
    assert not ex.intent(intent(2)).accepted


def test_duplicate_and_out_of_order_fills_apply_once() -> None:
    ex, broker, _ = make()
    adm = ex.intent(intent(1, qty=2))
    updates = broker.take_updates()
    for update in reversed(updates + updates):  # fill before new, each twice
        ex.handle(TradeUpdateSeen(update))
    assert state(ex, adm.client_order_id) is OrderState.FILLED and ex.core.proj.position("AAPL").qty == 2


def test_an_overfill_halts_the_symbol_and_alerts() -> None:
    ex, broker, _ = make()
    adm = ex.intent(intent(1))
    stream(ex, broker)
    order = broker.order(adm.client_order_id)
    ex.handle(TradeUpdateSeen(TradeUpdateReport("fill", order, "t", price=PRICE, qty=Decimal(1), execution_id="extra")))
    assert any(a.kind == "overfill" for a in ex.alerts)
    assert ex.intent(intent(2)).reason_code == "SYMBOL_HALTED"


def _positions(**qty: int) -> BrokerPositions:
    return BrokerPositions([BrokerPosition(s, Decimal(q), PRICE, PRICE, Decimal(0), PRICE) for s, q in qty.items()])


def test_a_moving_position_drift_is_confirmed_on_the_second_check_and_halts() -> None:
    ex, _, _ = make()
    ex.handle(_positions(AAPL=3))
    assert not ex.core.halted_reason
    ex.handle(_positions(AAPL=5))  # the drift moved: still a drift
    assert ex.core.halted_reason.startswith("position mismatch") and ex.halts
    published = [p.message for p in ex.published if getattr(p.message, "kind", "") == "position_mismatch"]
    assert [(a.symbol, a.detail) for a in published] == [("AAPL", "ours 0 broker 5")]


def test_a_mismatch_that_goes_away_is_not_reported() -> None:
    ex, _, _ = make()
    ex.handle(_positions(AAPL=3))
    ex.handle(_positions())
    ex.handle(_positions(AAPL=3))
    assert not ex.core.halted_reason


def test_a_busy_symbol_needs_three_checks_and_adoption_lifts_the_halt() -> None:
    ex, broker, clock = make(hold=True)
    ex.intent(intent(1))  # in flight: AAPL is busy
    ex.handle(_positions(AAPL=1))
    ex.handle(_positions(AAPL=1))
    assert not ex.core.halted_reason
    ex.handle(_positions(AAPL=1))
    assert ex.core.halted_reason
    mismatches = {"AAPL": (Decimal(0), Decimal(1))}
    ex.run(ex.core.adopt(mismatches, _positions(AAPL=1).positions, "ops", "adopt"))
    assert not ex.core.halted_reason and ex.core.proj.position("AAPL").qty == 1


def test_watchdog_blocks_orders_then_cancels_everything() -> None:
    ex, _, clock = make(watchdog=True)
    clock.advance(5)
    ex.tick()
    assert ex.core.watchdog_reason and ex.intent(intent(1)).reason_code == "WATCHDOG"
    clock.advance(30)
    ex.tick()
    assert ex.cancel_alls == 1 and {a.kind for a in ex.alerts} >= {"watchdog", "watchdog_cancel"}
    ex.core.heard("risk_manager")
    clock.advance(1)
    ex.tick()
    assert not ex.core.watchdog_reason and ex.intent(intent(2)).accepted


@pytest.mark.parametrize("outcome", ["422"])
def test_a_broker_refusal_is_final(outcome: str) -> None:
    ex, broker, clock = make()
    broker.script.append(outcome)
    adm = ex.intent(intent(1))
    settle(ex, broker, clock, seconds=30)
    assert state(ex, adm.client_order_id) is OrderState.REJECTED and broker.posts == [adm.client_order_id]


def test_strategy_positions_snapshot_nets_each_strategys_own_fills() -> None:
    ex, broker, _ = make()
    for n, (strategy, side, qty) in enumerate([("a", "buy", 5), ("b", "buy", 2), ("a", "sell", 1)]):
        ex.intent(
            OrderIntent(intent_id=f"x{n}", strategy=strategy, symbol="AAPL", side=OrderSide(side), qty=Decimal(qty))
        )
        stream(ex, broker)
    items = ex.core.snapshot("strategy_positions")
    assert [(p.strategy, p.symbol, p.qty) for p in items] == [("a", "AAPL", Decimal(4)), ("b", "AAPL", Decimal(2))]
    [total] = ex.core.snapshot("positions")
    assert total.qty == Decimal(6) and total.strategy == ""


def test_every_broker_rejection_is_logged_and_counted_however_it_arrives(caplog: pytest.LogCaptureFixture) -> None:
    from dataclasses import replace

    ex, broker, _ = make()
    broker.script.append("422")  # refused in the POST's answer
    first = ex.intent(intent(1))
    second = ex.intent(
        intent(2, qty=1),
    )
    # accepted by the POST, then rejected on trade_updates (a venue's late refusal)
    order = broker.order(second.client_order_id)
    broker.updates.clear()
    ex.handle(TradeUpdateSeen(TradeUpdateReport("rejected", replace(order, status="rejected"), "t")))
    assert state(ex, first.client_order_id) is OrderState.REJECTED
    assert state(ex, second.client_order_id) is OrderState.REJECTED
    assert [c for c in ex.counts if c.name == "orders_rejected"] == [
        c for c in ex.counts if c.name == "orders_rejected" and c.label == "broker"
    ]
    assert len([c for c in ex.counts if c.name == "orders_rejected" and c.label == "broker"]) == 2
    lines = [r for r in caplog.records if r.getMessage().startswith("order rejected by the broker")]
    assert [r.getMessage().rsplit("via=", 1)[1] for r in lines] == ["submit", "trade_updates"]
    assert all(getattr(r, "error_kind", None) == "BrokerRejection" for r in lines)


def test_an_intent_seen_before_is_a_duplicate_naming_its_orders_state() -> None:
    """Asked again (a caller that had no answer): the earlier order stands, nothing is sent
    twice, and the answer says the order's state (the risk manager releases an ended one)."""
    ex, broker, clock = make()
    first = ex.intent(intent(1))
    settle(ex, broker, clock, seconds=5)
    assert is_terminal_status(state(ex, first.client_order_id))
    again = ex.intent(intent(1))
    assert again.duplicate and again.accepted and again.client_order_id == first.client_order_id
    assert again.state == state(ex, first.client_order_id).value and broker.posts == [first.client_order_id]
