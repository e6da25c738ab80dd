"""The order transition table, exhaustively, and the event functions on it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D

import msgspec
import pytest

from pyrt.domain.enums import OrderStatus, TradeEvent
from pyrt.domain.intents import OrderIntent
from pyrt.domain.orders import (
    LATE_FILL,
    OPEN_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    Applied,
    DuplicateFill,
    NoChange,
    Order,
    OrderState,
    Outcome,
    OverfillDetected,
    TransitionRejected,
    apply_ack,
    apply_cancel_requested,
    apply_deny,
    apply_fill,
    apply_not_found,
    apply_reject,
    apply_status,
    apply_submit_sent,
    apply_trade_event,
    apply_unknown,
    can_transition,
    map_alpaca_status,
    new_order,
)

S = OrderState
DO_NOT_TOUCH = [
    "new",
    "accepted",
    "pending_new",
    "done_for_day",
    "calculated",
    "stopped",
    "suspended",
    "accepted_for_bidding",
]


def order(state: OrderState = S.INITIALIZED, qty: str = "10", **kw: object) -> Order:
    intent = OrderIntent(intent_id="i1", strategy="s", symbol="AAPL", side="buy", qty=D(qty))
    return msgspec.structs.replace(new_order(intent, "s-i1-0", 1), state=state, **kw)


# --- the status map -----------------------------------------------------------------


@pytest.mark.parametrize("status", list(OrderStatus))
def test_every_alpaca_status_is_mapped(status: OrderStatus) -> None:
    assert isinstance(map_alpaca_status(status), OrderState)
    assert map_alpaca_status(status.value) == map_alpaca_status(status)


@pytest.mark.parametrize("status", DO_NOT_TOUCH)
def test_open_do_not_touch_statuses_map_to_accepted(status: str) -> None:
    assert map_alpaca_status(status) == S.ACCEPTED


def test_terminal_statuses_map_to_terminal_states() -> None:
    for status in ["filled", "canceled", "expired", "replaced", "rejected"]:
        assert map_alpaca_status(status) in TERMINAL_STATES


def test_undocumented_status_raises_and_apply_rejects() -> None:
    with pytest.raises(ValueError):
        map_alpaca_status("bogus")
    o = order(S.ACCEPTED)
    assert isinstance(apply_status(o, "bogus"), TransitionRejected)
    assert isinstance(apply_ack(o, "b", "bogus", 2), TransitionRejected)


# --- the table ----------------------------------------------------------------------


def test_table_covers_every_state_and_terminal_states_have_no_exit_but_late_fill() -> None:
    assert set(TRANSITIONS) == set(OrderState)
    for state in TERMINAL_STATES:
        allowed = TRANSITIONS[state]
        assert allowed <= {S.FILLED}, state
    assert S.SUBMITTED not in TRANSITIONS[S.UNKNOWN]  # never a second POST
    assert all(can_transition(s, s) for s in OrderState)


# --- every event on every state: table respected, idempotent, rejection leaves it alone


def _events() -> dict[str, Callable[[Order], Outcome]]:
    events: dict[str, Callable[[Order], Outcome]] = {
        "submit_sent": lambda o: apply_submit_sent(o, 5),
        "unknown": lambda o: apply_unknown(o, "timeout", 5),
        "deny": lambda o: apply_deny(o, "halted", 5),
        "reject": lambda o: apply_reject(o, "403", 5),
        "not_found": lambda o: apply_not_found(o, "404", 5),
        "cancel_requested": lambda o: apply_cancel_requested(o, 5),
        "fill": lambda o: apply_fill(o, "e1", D(3), D(10), 5),
        "full_fill": lambda o: apply_fill(o, "e2", D(10), D(10), 5),
    }
    for status in OrderStatus:
        events[f"ack:{status.value}"] = lambda o, st=status: apply_ack(o, "b1", st, 5)
        events[f"status:{status.value}"] = lambda o, st=status: apply_status(o, st, D(0), None, 5)
        events[f"snap:{status.value}"] = lambda o, st=status: apply_status(o, st, D(4), D("9.5"), 5)
    for event in TradeEvent:
        events[f"event:{event.value}"] = lambda o, ev=event: apply_trade_event(o, ev, 5)
    return events


EVENTS = _events()


@pytest.mark.parametrize("state", list(OrderState))
def test_every_event_on_every_state(state: OrderState) -> None:
    for name in sorted(EVENTS):
        _check_event(order(state), name)


def _check_event(before: Order, name: str) -> None:
    first = EVENTS[name](before)
    if isinstance(first, TransitionRejected):
        assert first.order is before and first.reason
        return
    after = first.order
    if isinstance(first, Applied) and after.state != before.state:
        assert can_transition(before.state, after.state), (name, before.state, after.state)
        if before.state in TERMINAL_STATES:
            assert LATE_FILL in first.alerts
    assert after.filled_qty >= before.filled_qty
    second = EVENTS[name](after)
    assert isinstance(second, (NoChange, TransitionRejected)), (name, before.state, second)
    assert second.order == after


# --- scenarios ------------------------------------------------------------------------


def test_happy_path_submit_ack_fills() -> None:
    o = order()
    o = apply_submit_sent(o, 2).order
    assert o.state == S.SUBMITTED
    o = apply_ack(o, "b1", "accepted", 3).order
    assert (o.state, o.broker_order_id) == (S.ACCEPTED, "b1")
    r = apply_fill(o, "e1", D(4), D("100.10"), 4)
    assert r.order.state == S.PARTIALLY_FILLED and r.fill_qty_delta == 4
    r = apply_fill(r.order, "e2", D(6), D("100.20"), 5)
    assert r.order.state == S.FILLED
    assert r.order.avg_fill_price == D("100.16")
    assert r.order.updated_ns == 5


def test_unknown_is_never_resubmitted_and_resolves_by_broker_evidence() -> None:
    o = apply_unknown(order(S.SUBMITTED), "timeout", 3).order
    assert o.state == S.UNKNOWN and o.reason == "timeout"
    assert isinstance(apply_submit_sent(o, 4), TransitionRejected)
    assert apply_ack(o, "b1", "new", 5).order.state == S.ACCEPTED
    assert apply_fill(o, "e1", D(10), D(1), 5).order.state == S.FILLED
    back = apply_not_found(o, "confirmed 404", 5).order
    assert back.state == S.INITIALIZED
    assert apply_submit_sent(back, 6).order.state == S.SUBMITTED


def test_unknown_after_ack_changes_nothing() -> None:
    o = order(S.ACCEPTED, broker_order_id="b1")
    r = apply_unknown(o, "late timeout", 3)
    assert isinstance(r, NoChange) and r.order is o


def test_ack_after_stream_events_only_records_broker_id() -> None:
    o = apply_fill(order(S.SUBMITTED), "e1", D(10), D(5), 2).order
    r = apply_ack(o, "b1", "accepted", 3)
    assert r.order.state == S.FILLED and r.order.broker_order_id == "b1"
    assert isinstance(apply_ack(r.order, "b2", "accepted", 4), TransitionRejected)


def test_ack_with_partial_fill_already_known_stays_partially_filled() -> None:
    o = apply_fill(order(S.SUBMITTED), "e1", D(2), D(5), 2).order
    assert apply_ack(o, "b1", "new", 3).order.state == S.PARTIALLY_FILLED


def test_duplicate_fill_is_a_no_op() -> None:
    o = apply_fill(order(S.ACCEPTED), "e1", D(2), D(5), 2).order
    r = apply_fill(o, "e1", D(2), D(5), 3)
    assert isinstance(r, DuplicateFill) and r.order is o and r.fill_qty_delta == 0


@pytest.mark.parametrize(("qty", "price"), [(D(0), D(1)), (D(-1), D(1)), (D(1), D(0)), (D("NaN"), D(1))])
def test_bad_fills_are_rejected(qty: D, price: D) -> None:
    o = order(S.ACCEPTED)
    r = apply_fill(o, "e1", qty, price, 2)
    assert isinstance(r, TransitionRejected) and r.order is o
    assert isinstance(apply_fill(o, "", D(1), D(1), 2), TransitionRejected)


def test_overfill_is_applied_and_flagged() -> None:
    o = apply_fill(order(S.ACCEPTED), "e1", D(8), D(5), 2).order
    r = apply_fill(o, "e2", D(4), D(5), 3)
    assert isinstance(r, OverfillDetected)
    assert r.excess_qty == 2 and r.order.overfilled and r.order.filled_qty == 12
    assert r.order.state == S.FILLED


def test_late_fill_on_canceled_is_applied_with_an_alert() -> None:
    o = apply_trade_event(apply_fill(order(S.ACCEPTED), "e1", D(3), D(5), 2).order, "canceled", 3).order
    assert o.state == S.CANCELED
    r = apply_fill(o, "e2", D(2), D(6), 4)
    assert isinstance(r, Applied) and LATE_FILL in r.alerts
    assert r.order.state == S.CANCELED and r.order.filled_qty == 5 and r.fill_qty_delta == 2
    done = apply_fill(r.order, "e3", D(5), D(6), 5)
    assert done.order.state == S.FILLED and LATE_FILL in done.alerts


@pytest.mark.parametrize("state", [S.REJECTED, S.REPLACED, S.DENIED])
def test_fill_on_never_working_terminal_state_is_rejected(state: OrderState) -> None:
    assert isinstance(apply_fill(order(state), "e1", D(1), D(1), 2), TransitionRejected)


def test_stale_snapshot_never_moves_filled_qty_backwards() -> None:
    o = apply_fill(order(S.ACCEPTED), "e1", D(6), D(5), 2).order
    r = apply_status(o, "partially_filled", D(2), D(5), 3)
    assert r.order.filled_qty == 6 and r.fill_qty_delta == 0
    filled = apply_fill(o, "e2", D(4), D(5), 3).order
    stale = apply_status(filled, "new", D(0), None, 4)
    assert isinstance(stale, TransitionRejected) and stale.order is filled


def test_snapshot_ahead_of_stream_is_not_counted_twice() -> None:
    o = order(S.ACCEPTED)
    r = apply_status(o, "partially_filled", D(5), D("10.2"), 2)
    assert r.order.filled_qty == 5 and r.fill_qty_delta == 5 and r.fill_notional_delta == D("51.0")
    r2 = apply_fill(r.order, "e1", D(5), D("10.2"), 3)  # the execution behind the snapshot
    assert r2.order.filled_qty == 5 and r2.fill_qty_delta == 0
    r3 = apply_fill(r2.order, "e2", D(5), D("10.4"), 4)
    assert r3.order.filled_qty == 10 and r3.fill_qty_delta == 5 and r3.order.state == S.FILLED
    assert r3.order.avg_fill_price == D("10.3")


def test_snapshot_with_fill_but_no_price_is_rejected() -> None:
    assert isinstance(apply_status(order(S.ACCEPTED), "partially_filled", D(5), None, 2), TransitionRejected)


def test_terminal_state_is_not_left_by_a_status() -> None:
    for state in TERMINAL_STATES:
        for status in OrderStatus:
            r = apply_status(order(state), status, None, None, 2)
            assert r.order.state == state


def test_cancel_rejected_returns_to_working_state() -> None:
    o = apply_fill(order(S.ACCEPTED), "e1", D(2), D(5), 2).order
    o = apply_cancel_requested(o, 3).order
    assert o.cancel_requested
    o = apply_trade_event(o, "pending_cancel", 4).order
    assert o.state == S.PENDING_CANCEL
    r = apply_trade_event(o, "order_cancel_rejected", 5)
    assert r.order.state == S.PARTIALLY_FILLED and not r.order.cancel_requested
    assert isinstance(apply_trade_event(r.order, "order_cancel_rejected", 6), NoChange)


def test_replaced_links_to_the_new_order() -> None:
    r = apply_trade_event(order(S.PENDING_REPLACE, broker_order_id="b1"), "replaced", 3, replaced_by="b2")
    assert r.order.state == S.REPLACED and r.order.replaced_by == "b2"


def test_fill_events_must_use_apply_fill() -> None:
    assert isinstance(apply_trade_event(order(S.ACCEPTED), "fill", 2), TransitionRejected)
    assert isinstance(apply_trade_event(order(S.ACCEPTED), "nope", 2), TransitionRejected)


def test_partial_fill_while_pending_cancel_stays_pending() -> None:
    r = apply_fill(order(S.PENDING_CANCEL), "e1", D(2), D(5), 2)
    assert r.order.state == S.PENDING_CANCEL
    assert apply_trade_event(r.order, "canceled", 3).order.state == S.CANCELED


def test_open_states_are_the_working_ones() -> None:
    assert {s for s in OrderState if order(s).is_open} == OPEN_STATES
    assert order(S.ACCEPTED, filled_qty=D(4)).remaining_qty == 6


def test_local_refusals() -> None:
    assert apply_deny(order(), "halted", 2).order.state == S.DENIED
    assert isinstance(apply_deny(order(S.SUBMITTED), "x", 2), TransitionRejected)
    assert apply_reject(order(S.SUBMITTED), "403 buying power", 2).order.state == S.REJECTED
    assert isinstance(apply_reject(order(S.ACCEPTED), "x", 2), TransitionRejected)
    assert isinstance(apply_cancel_requested(order(S.FILLED), 2), TransitionRejected)
    assert isinstance(apply_ack(order(S.DENIED), "b", "new", 2), TransitionRejected)
