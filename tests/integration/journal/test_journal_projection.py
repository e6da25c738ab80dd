"""Projections: the live projection (fed each record as it is appended) equals a replay of
the journal file, replay is deterministic, and a crash at any record changes nothing."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrt.domain.clock import ManualClock
from pyrt.domain.intents import OrderIntent
from pyrt.domain.orders import PRE_ACK_STATES, OrderState
from pyrt.persistence.journal import Journal, JournalRecord
from pyrt.persistence.projections import OrderProjection, replay


def intent(intent_id: str, symbol: str, side: str, qty: str) -> OrderIntent:
    return OrderIntent(intent_id=intent_id, strategy="s", symbol=symbol, side=side, qty=D(qty))  # type: ignore[arg-type]


SCENARIO: list[tuple[str, str, Any]] = [
    # AAPL: buy 10 in two fills (one repeated), with a stale snapshot between
    ("intent", "s-a-0", intent("a", "AAPL", "buy", "10")),
    ("submit_sent", "s-a-0", {}),
    ("status", "s-a-0", {"event": "new", "broker_order_id": "b-a"}),
    ("ack", "s-a-0", {"broker_order_id": "b-a", "status": "accepted"}),
    ("fill", "s-a-0", {"execution_id": "x1", "qty": "4", "price": "100", "position_qty": "4"}),
    ("fill", "s-a-0", {"execution_id": "x1", "qty": "4", "price": "100"}),
    ("status", "s-a-0", {"status": "new", "filled_qty": "0"}),
    ("fill", "s-a-0", {"execution_id": "x2", "qty": "6", "price": "105", "position_qty": "10"}),
    # AAPL: sell 15 -> flips to short 5
    ("intent", "s-b-0", intent("b", "AAPL", "sell", "15")),
    ("submit_sent", "s-b-0", {}),
    ("unknown", "s-b-0", {"reason": "timeout"}),
    (
        "reconciliation",
        "s-b-0",
        {"status": "filled", "filled_qty": "15", "filled_avg_price": "110", "broker_order_id": "b-b"},
    ),
    ("fill", "s-b-0", {"execution_id": "y1", "qty": "15", "price": "110"}),  # the execution behind it
    # MSFT: canceled, then a late fill
    ("intent", "s-c-0", intent("c", "MSFT", "buy", "5")),
    ("submit_sent", "s-c-0", {}),
    ("ack", "s-c-0", {"broker_order_id": "b-c", "status": "new"}),
    ("cancel_requested", "s-c-0", {}),
    ("status", "s-c-0", {"event": "canceled"}),
    ("fill", "s-c-0", {"execution_id": "z1", "qty": "2", "price": "300", "position_qty": "3"}),
    # TSLA: overfill halts the symbol
    ("intent", "s-d-0", intent("d", "TSLA", "buy", "1")),
    ("submit_sent", "s-d-0", {}),
    ("fill", "s-d-0", {"execution_id": "w1", "qty": "1", "price": "200"}),
    ("fill", "s-d-0", {"execution_id": "w2", "qty": "1", "price": "201"}),
    # in flight, denied, rejected
    ("intent", "s-e-0", intent("e", "NVDA", "buy", "1")),
    ("submit_sent", "s-e-0", {}),
    ("intent", "s-f-0", intent("f", "NVDA", "buy", "1")),
    ("status", "s-f-0", {"local": "denied", "reason": "HALTED"}),
    ("intent", "s-g-0", intent("g", "NVDA", "buy", "1")),
    ("submit_sent", "s-g-0", {}),
    ("ack", "s-g-0", {"status": "rejected", "reason": "403 insufficient buying power"}),
    # noise
    ("audit", "", {"who": "ops", "what": "note"}),
    ("fill", "nobody", {"execution_id": "q", "qty": "1", "price": "1"}),
    ("fill", "s-a-0", {"execution_id": "bad", "qty": "lots", "price": "1"}),
]


def write_live(path: Path) -> OrderProjection:
    live = OrderProjection()
    clock = ManualClock()
    with Journal(path, clock=clock) as journal:
        for kind, coid, payload in SCENARIO:
            clock.advance(0.001)
            live.apply(*journal.append_records([(kind, coid, payload)]))
    return live


def test_live_projection_equals_replay_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    live = write_live(path)
    with Journal(path, read_only=True) as journal:
        records = list(journal.iter_records())
    replayed = replay(records)
    assert replayed == live
    assert replay(records) == replayed  # deterministic
    for record in records:  # re-applying is a no-op
        assert replayed.apply(record) is None
    assert replayed == live


def test_projected_state(tmp_path: Path) -> None:
    p = write_live(tmp_path / "journal.db")
    a, b, c, d = (p.orders[f"s-{x}-0"] for x in "abcd")
    assert (a.state, a.filled_qty, a.avg_fill_price) == (OrderState.FILLED, 10, D(103))
    assert (b.state, b.filled_qty, b.broker_order_id) == (OrderState.FILLED, 15, "b-b")
    assert (c.state, c.filled_qty, c.cancel_requested) == (OrderState.CANCELED, 2, True)
    assert d.overfilled and p.halted_symbols == {"TSLA"}
    aapl = p.position("AAPL")
    assert (aapl.qty, aapl.avg_entry_price, aapl.realized_pnl) == (-5, D(110), D(70))
    assert p.position("MSFT").qty == 2 and p.position("TSLA").qty == 2
    assert p.realized_pnl() == D(70)
    assert [o.client_order_id for o in p.orders.values() if o.state in PRE_ACK_STATES] == ["s-e-0"]
    assert p.open_orders() == []
    assert p.orders["s-f-0"].state == OrderState.DENIED
    assert p.orders["s-g-0"].state == OrderState.REJECTED
    whats = [(x.client_order_id, x.what.split(":")[0]) for x in p.anomalies]
    assert ("s-a-0", "rejected") not in whats  # a stale "new" snapshot is no error
    assert ("s-c-0", "LATE_FILL") in whats
    assert ("s-c-0", "position_qty 3 != projected 2") in whats
    assert ("s-d-0", "OVERFILL") in whats
    assert ("nobody", "fill for an unknown order") in whats
    assert ("s-a-0", "bad fill payload") in whats
    assert p.last_seq == len(SCENARIO)


# --- crash at any record: replay of a prefix, then the rest live, equals a full replay ---


def as_records(entries: list[tuple[str, str, Any]]) -> list[JournalRecord]:
    return [
        JournalRecord(i + 1, 1_000 + i, kind, coid, msgspec.json.decode(msgspec.json.encode(payload)))
        for i, (kind, coid, payload) in enumerate(entries)
    ]


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(len(SCENARIO))), st.integers(0, len(SCENARIO)), st.integers(0, len(SCENARIO)))
def test_crash_at_any_record_then_continue_equals_full_replay(order: list[int], cut: int, dup: int) -> None:
    records = as_records([SCENARIO[i] for i in order])  # any order, even nonsensical ones
    full = replay(records)
    resumed = replay(records[:cut])
    for record in records[cut:] + records[:dup]:  # the rest, then some repeated
        resumed.apply(record)
    assert resumed == full
