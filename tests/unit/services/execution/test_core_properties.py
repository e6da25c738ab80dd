"""Property: whatever the burst, budget, broker faults and timing, once things settle the
journal's positions equal the broker's, nothing is sent after a local rejection, and every
order has a final or resting state (order-safety review D1)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide
from pyrt.domain.intents import OrderIntent
from pyrt.domain.orders import OrderState
from pyrt.services.execution.budget import RequestBudget
from pyrt.services.execution.core import ExecutionCore
from pyrt.services.execution.inline import InlineExecution
from pyrt.services.execution.messages import TradeUpdateSeen
from tests.fakes import FakeVenue
from tests.unit.services.execution.toy_broker import ToyBroker

SYMBOLS = ("AAPL", "MSFT")
FAULTS = st.sampled_from(["ok", "ok", "lost_reply", "timeout", "timeout", "429", "429", "422"])
STEP = st.one_of(
    st.tuples(st.just("intent"), st.sampled_from(SYMBOLS), st.sampled_from(["buy", "sell"]), st.integers(1, 5), FAULTS),
    st.tuples(st.just("burst"), st.integers(2, 25), FAULTS),
    st.tuples(st.just("advance"), st.floats(0.01, 20.0)),
    st.tuples(st.just("deliver")),
    st.tuples(st.just("stream"), st.sampled_from(["all", "drop", "duplicate", "reverse"])),
)


def _stream(ex: InlineExecution, broker: ToyBroker, how: str) -> None:
    updates = broker.take_updates()
    if how == "drop":
        updates = updates[::2]
    elif how == "duplicate":
        updates = updates + updates
    elif how == "reverse":
        updates = updates[::-1]
    for u in updates:
        ex.handle(TradeUpdateSeen(u))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(per_minute=st.integers(8, 40), steps=st.lists(STEP, min_size=1, max_size=60))
def test_journal_equals_broker_and_nothing_is_sent_after_a_local_rejection(per_minute: int, steps: list) -> None:
    clock = ManualClock()
    broker = ToyBroker()
    core = ExecutionCore(
        clock, RequestBudget(per_minute, 2, clock, read_reserve=2), max_resend_age_s=30, submit_timeout_s=10
    )
    ex = InlineExecution(core, FakeVenue(broker), hold_answers=True)
    ex.run(core.start_accepting())
    n = 0
    for step in steps:
        if step[0] == "intent":
            _, symbol, side, qty, fault = step
            broker.script.append(fault)
            n += 1
            ex.intent(
                OrderIntent(intent_id=f"p{n}", strategy="prop", symbol=symbol, side=OrderSide(side), qty=Decimal(qty))
            )
        elif step[0] == "burst":
            for k in range(step[1]):
                broker.script.append(step[2])
                n += 1
                ex.intent(
                    OrderIntent(
                        intent_id=f"p{n}", strategy="prop", symbol=SYMBOLS[k % 2], side=OrderSide.BUY, qty=Decimal(1)
                    )
                )
        elif step[0] == "advance":
            clock.advance(step[1])
            ex.tick()
        elif step[0] == "deliver":
            ex.deliver()
        else:
            _stream(ex, broker, step[1])
    broker.script.clear()  # the broker recovers; let everything settle
    for _ in range(400):
        clock.advance(0.5)
        ex.deliver()
        _stream(ex, broker, "all")
        ex.tick()
    proj = core.proj
    for symbol in SYMBOLS:
        assert proj.position(symbol).qty == broker.position(symbol), (symbol, ex.journal.records[-5:])
    rejected_at = {
        r.client_order_id: i for i, r in enumerate(ex.journal.records, 1) if r.payload.get("local") == "rejected"
    }
    late = [(coid, at) for coid, at in ex.sent if coid in rejected_at and at >= rejected_at[coid]]
    assert not late, f"sent after a local rejection: {late}"
    for order in proj.orders.values():
        assert order.is_terminal or order.state is OrderState.ACCEPTED, order
    for coid in rejected_at:
        assert not broker.has(coid), f"{coid} rejected locally but at the broker"
