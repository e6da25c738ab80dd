"""Property tests: fills shuffled, duplicated and dropped, mixed with stale snapshots, and a
state machine driving every kind of event at one order."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pyrt.domain.enums import OrderStatus, TradeEvent
from pyrt.domain.intents import OrderIntent
from pyrt.domain.orders import (
    LATE_FILL,
    OVERFILL,
    TERMINAL_STATES,
    Order,
    OrderState,
    Outcome,
    OverfillDetected,
    TransitionRejected,
    apply_ack,
    apply_cancel_requested,
    apply_fill,
    apply_status,
    apply_submit_sent,
    apply_trade_event,
    apply_unknown,
    can_transition,
    new_order,
)

prices = st.decimals(min_value=D("0.01"), max_value=D(500), places=2)
fill_qtys = st.integers(min_value=1, max_value=40).map(D)


def fresh(qty: D) -> Order:
    intent = OrderIntent(intent_id="i1", strategy="s", symbol="AAPL", side="buy", qty=qty)
    o = new_order(intent, "s-i1-0", 1)
    return apply_ack(apply_submit_sent(o, 2).order, "b1", "accepted", 3).order


@st.composite
def fill_scenarios(draw: st.DrawFn) -> tuple[D, list[tuple[str, D, D]], list[int]]:
    fills = [
        (f"e{i}", q, p)
        for i, (q, p) in enumerate(draw(st.lists(st.tuples(fill_qtys, prices), min_size=1, max_size=12)))
    ]
    total = sum((q for _, q, _ in fills), D(0))
    qty = draw(st.sampled_from([total, total + 5, max(total - 3, D(1))]))
    # indexes into fills: shuffled, some repeated, some left out
    order = draw(st.lists(st.integers(0, len(fills) - 1), max_size=3 * len(fills)))
    return qty, fills, order


@settings(max_examples=120, deadline=None)
@given(fill_scenarios(), st.data())
def test_fills_in_any_order_with_duplicates_and_drops(scenario, data) -> None:  # type: ignore[no-untyped-def]
    qty, fills, sequence = scenario
    o = fresh(qty)
    applied: dict[str, tuple[D, D]] = {}
    sum_qty_delta = D(0)
    sum_notional_delta = D(0)
    for step, index in enumerate(sequence):
        before = o
        if data.draw(st.booleans(), label=f"stale snapshot before step {step}"):
            # A REST snapshot that may lag: it reports at most what has been applied.
            lag = data.draw(st.integers(0, len(applied)))
            seen = list(applied.values())[:lag]
            seen_qty = sum((q for q, _ in seen), D(0))
            avg = (sum((q * p for q, p in seen), D(0)) / seen_qty) if seen_qty else None
            r = apply_status(o, "partially_filled", seen_qty, avg, 10 + step)
            assert r.order.filled_qty >= o.filled_qty
            o = r.order
        exec_id, fq, fp = fills[index]
        r = apply_fill(o, exec_id, fq, fp, 100 + step)
        if exec_id in applied:
            assert not r.applied and r.order is o
        else:
            applied[exec_id] = (fq, fp)
        sum_qty_delta += r.fill_qty_delta
        sum_notional_delta += r.fill_notional_delta
        o = r.order
        assert o.filled_qty >= before.filled_qty
        if o.filled_qty > qty:
            assert o.overfilled
            if before.filled_qty <= qty and r.fill_qty_delta:
                assert isinstance(r, OverfillDetected) and OVERFILL in r.alerts
        else:
            assert not o.overfilled
        if applied:
            used = [p for _, p in applied.values()]
            assert o.avg_fill_price is not None and min(used) <= o.avg_fill_price <= max(used)
    expected = sum((q for q, _ in applied.values()), D(0))
    assert o.filled_qty == expected == sum_qty_delta
    assert sum_notional_delta == sum((q * p for q, p in applied.values()), D(0))
    assert o.execution_ids == frozenset(applied)
    assert o.state == (
        OrderState.FILLED if expected >= qty else OrderState.PARTIALLY_FILLED if expected else OrderState.ACCEPTED
    )


class OneOrderMachine(RuleBasedStateMachine):
    """Any interleaving of events keeps the invariants, and re-applying an event is a no-op."""

    def __init__(self) -> None:
        super().__init__()
        intent = OrderIntent(intent_id="i1", strategy="s", symbol="AAPL", side="buy", qty=D(50))
        self.order = new_order(intent, "s-i1-0", 1)
        self.ts = 1
        self.seen_exec: set[str] = set()

    def _step(self, outcome: Outcome, again: Outcome) -> None:
        before = self.order
        after = outcome.order
        if isinstance(outcome, TransitionRejected):
            assert after is before
        assert after.filled_qty >= before.filled_qty
        if after.state != before.state:
            assert can_transition(before.state, after.state)
            if before.state in TERMINAL_STATES:
                assert LATE_FILL in outcome.alerts
        assert not again.applied and again.order == after  # idempotent
        self.order = after

    def _ts(self) -> int:
        self.ts += 1
        return self.ts

    @rule()
    def submit(self) -> None:
        ts = self._ts()
        r = apply_submit_sent(self.order, ts)
        self._step(r, apply_submit_sent(r.order, ts))

    @rule()
    def unknown(self) -> None:
        ts = self._ts()
        r = apply_unknown(self.order, "timeout", ts)
        self._step(r, apply_unknown(r.order, "timeout", ts))

    @rule(status=st.sampled_from(list(OrderStatus)))
    def ack(self, status: OrderStatus) -> None:
        ts = self._ts()
        r = apply_ack(self.order, "b1", status, ts)
        self._step(r, apply_ack(r.order, "b1", status, ts))

    @rule(event=st.sampled_from([e for e in TradeEvent if e not in (TradeEvent.FILL, TradeEvent.PARTIAL_FILL)]))
    def trade_event(self, event: TradeEvent) -> None:
        ts = self._ts()
        r = apply_trade_event(self.order, event, ts)
        self._step(r, apply_trade_event(r.order, event, ts))

    @rule(exec_no=st.integers(0, 8), qty=st.integers(1, 20).map(D), price=prices)
    def fill(self, exec_no: int, qty: D, price: D) -> None:
        ts = self._ts()
        r = apply_fill(self.order, f"e{exec_no}", qty, price, ts)
        self._step(r, apply_fill(r.order, f"e{exec_no}", qty, price, ts))

    @rule(status=st.sampled_from(list(OrderStatus)), extra=st.integers(-10, 10), price=prices)
    def snapshot(self, status: OrderStatus, extra: int, price: D) -> None:
        ts = self._ts()
        filled = max(self.order.filled_qty + extra, D(0))
        r = apply_status(self.order, status, filled, price, ts)
        self._step(r, apply_status(r.order, status, filled, price, ts))

    @rule()
    def cancel(self) -> None:
        ts = self._ts()
        r = apply_cancel_requested(self.order, ts)
        self._step(r, apply_cancel_requested(r.order, ts))

    @invariant()
    def consistent(self) -> None:
        o = self.order
        assert o.filled_qty == max(o.fills_qty, o.reported_filled_qty)
        assert o.overfilled or o.filled_qty <= o.qty
        assert len(o.execution_ids) <= 9
        roundtrip = msgspec.json.decode(msgspec.json.encode(o), type=Order)
        assert roundtrip == o


OneOrderMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestOneOrderMachine = OneOrderMachine.TestCase
