"""Fuzz the journal's read side: rows in a real SQLite journal file read back by
`Journal.iter_records` and replayed through `OrderProjection.apply`, which is what a
restarting execution engine does. Rows are order lifecycles (intent, submit_sent, ack,
fills, statuses, trade events, local decisions, cancels, adopted positions, audit), then
the same with payload fields dropped, retyped or set to hurtful values ("1e999999", NaN,
huge ints, lists for objects), kinds and client_order_ids swapped, and payloads that are not
JSON objects, not JSON, or not UTF-8 (as a damaged or hand-edited file could hold; the
journal itself only writes objects).

Pass: each row is applied (accepted), or is counted: an `Anomaly` noted by the projection
or a `JournalError` from the journal naming the row; nothing else escapes the replay, and
what the projection holds afterwards is finite."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import strategies as st

from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent
from pyrt.persistence.journal import Journal, JournalError, RecordKind
from pyrt.persistence.projections import OrderProjection
from tests.fuzz.harness import fuzz
from tests.fuzz.mutate import mutate_bytes, mutate_text, mutate_value, nasty

num = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=Decimal("0.01"), max_value=10**5).map(str)
ident = st.text(alphabet="abcdef0123456789", min_size=1, max_size=6)
intents = st.builds(
    OrderIntent, intent_id=ident, strategy=st.just("s"), symbol=st.sampled_from(["AAPL", "MSFT"]),
    side=st.sampled_from(OrderSide), qty=num.map(Decimal), order_type=st.sampled_from(OrderType),
    time_in_force=st.sampled_from(TimeInForce), limit_price=st.none() | num.map(Decimal),
).map(msgspec.to_builtins)  # fmt: skip
STATUSES = [
    "new",
    "accepted",
    "partially_filled",
    "filled",
    "canceled",
    "rejected",
    "expired",
    "replaced",
    "pending_new",
]
events = st.one_of(
    st.just(("submit_sent", {})),
    st.builds(lambda b, s: ("ack", {"broker_order_id": b, "status": s}), ident, st.sampled_from(STATUSES)),
    st.just(("unknown", {"reason": "timeout"})),
    st.builds(lambda e, q, p, pq: ("fill", {"execution_id": e, "qty": q, "price": p, **({"position_qty": pq} if pq else {})}),
              ident, num, num, st.none() | num),
    st.builds(lambda s, q, p: ("status", {"status": s, "filled_qty": q, "filled_avg_price": p}),
              st.sampled_from(STATUSES), st.none() | num, st.none() | num),
    st.builds(lambda e, b: ("status", {"event": e, "broker_order_id": b}),
              st.sampled_from(["new", "canceled", "expired", "replaced", "pending_cancel"]), ident),
    st.builds(lambda loc: ("reconciliation", {"local": loc, "reason": "x"}), st.sampled_from(["denied", "rejected", "not_found"])),
    st.just(("cancel_requested", {})),
    st.builds(lambda q, p: ("reconciliation", {"adopt_position": {"symbol": "AAPL", "qty": q, "avg_entry_price": p}}), num, num),
    st.just(("audit", {"actor": "op", "action": "halt"})),
)  # fmt: skip
lifecycles = st.lists(st.tuples(intents, st.lists(events, min_size=1, max_size=6)), min_size=1, max_size=3)

KINDS = [k.value for k in RecordKind] + ["bogus", "", "INTENT"]
Row = tuple[Any, str, str, Any]  # ts_ns, kind, client_order_id, payload (str, or bytes stored as a BLOB)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _mutate(row: Row, coids: list[str], rng: random.Random) -> Row:
    ts, kind, coid, payload = row
    op = rng.randrange(12)
    if op < 5:
        try:
            return ts, kind, coid, _json(mutate_value(msgspec.json.decode(payload), rng))
        except (msgspec.EncodeError, TypeError, ValueError, OverflowError):  # ints past 64 bits: json.dumps them
            return ts, kind, coid, json.dumps(mutate_value(msgspec.json.decode(payload), rng))
    if op == 5:
        return ts, rng.choice(KINDS), coid, payload
    if op == 6:
        return ts, kind, rng.choice([*coids, "", "nope"]), payload
    if op == 7:
        return ts, kind, coid, mutate_text(payload, rng)  # often not JSON any more
    if op == 8:
        return ts, kind, coid, rng.choice(["[]", "3", "null", '"x"', "", "{", '{"a": 1} 2', "[{}]"])
    if op == 9:
        return ts, kind, coid, mutate_bytes(payload.encode(), rng)  # a BLOB, perhaps not UTF-8
    if op == 10:
        return rng.choice([-1, 0, 2**63 - 1, -(2**63), "abc", 1.5, b"\x00"]), kind, coid, payload
    return (
        ts,
        kind,
        coid,
        _json({**msgspec.json.decode(payload), rng.choice(["qty", "status", "event", "local"]): nasty(rng)}),
    )


def expand(
    recipe: list[tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]], rng: random.Random, n: int
) -> Iterator[Row]:
    made = 0
    k = rng.randrange(10**9)
    while made < n:
        intent, evs = rng.choice(recipe)
        k += 1
        coid = f"s-{intent['intent_id']}-{k}"
        rows: list[Row] = [(1000 + k, "intent", coid, _json(intent))]
        rows += [(1001 + k + i, kind, coid, _json(p)) for i, (kind, p) in enumerate(evs)]
        for row in rows:
            if made == n:
                return
            made += 1
            yield _mutate(row, [coid, f"s-{intent['intent_id']}-{k - 1}"], rng) if rng.random() < 0.4 else row


def _finite(projection: OrderProjection, coid: str, symbols: tuple[str, ...] = ("AAPL", "MSFT")) -> None:
    """What the record touched holds finite numbers (an order, the positions)."""
    o = projection.orders.get(coid)
    if o is not None:
        for value in (
            o.qty,
            o.filled_qty,
            o.limit_price,
            o.stop_price,
            o.avg_fill_price,
            o.fills_notional,
            o.reported_filled_qty,
            o.reported_avg_price,
        ):
            assert value is None or value.is_finite(), f"order {coid} holds {value}"
    for symbol in symbols:
        p = projection.positions.get(symbol)
        if p is not None:
            assert p.qty.is_finite() and p.avg_entry_price.is_finite() and p.realized_pnl.is_finite(), p


class JournalCheck:
    """Writes each batch into the journal file with a second SQLite connection (the
    journal's own `append` refuses what the fuzz needs to store), then replays it."""

    def __init__(self, path: Path) -> None:
        self.journal = Journal(path, synchronous="NORMAL")
        self.raw = sqlite3.connect(path, isolation_level=None)

    def close(self) -> None:
        self.raw.close()
        self.journal.close()

    def __call__(self, rows: list[Row]) -> Iterator[tuple[Row, bool | BaseException]]:
        base = self.journal.last_seq()
        self.raw.execute("BEGIN")
        self.raw.executemany("INSERT INTO journal (ts_ns, kind, client_order_id, payload) VALUES (?, ?, ?, ?)", rows)
        self.raw.execute("COMMIT")
        projection = OrderProjection()
        since = base
        while since < base + len(rows):
            try:
                for record in self.journal.iter_records(since):
                    noted = len(projection.anomalies)
                    try:
                        projection.apply(record)
                        _finite(projection, record.client_order_id)
                    except Exception as exc:  # noqa: BLE001 - a crash of the replay
                        projection.last_seq = record.seq
                        yield rows[record.seq - base - 1], exc
                    else:
                        yield rows[record.seq - base - 1], len(projection.anomalies) == noted
                    since = record.seq
            except JournalError as exc:
                assert f"seq {since + 1}" in str(exc), f"a JournalError that does not name the row: {exc}"
                yield rows[since - base], False
                since += 1
            except Exception as exc:  # noqa: BLE001 - reading the row crashed
                yield rows[since - base], exc
                since += 1


@pytest.fixture
def journal_check(tmp_path: Path) -> Iterator[JournalCheck]:
    check = JournalCheck(tmp_path / "journal.db")
    yield check
    check.close()


def test_fuzz_journal_replay(journal_check: JournalCheck) -> None:
    fuzz("journal record (iter_records+replay)", lifecycles, expand, check_batch=journal_check)


# Crashes this fuzz found (each one failed before its fix): a row that is not a journal
# row is now a JournalError naming it (journal.py `_record`), a number that is NaN,
# infinite or beyond 1e18 a bad event the projection notes (domain/events.py
# `_check_numbers`).
INTENT = _json({"intent_id": "i", "strategy": "s", "symbol": "AAPL", "side": "buy", "qty": "10"})
REGRESSIONS = {
    "payload_not_json": ("submit_sent", "{}{", 1),  # msgspec.DecodeError out of iter_records
    "payload_blob_not_utf8": ("audit", b'{"actor\xca": 1}', 1),  # UnicodeDecodeError out of iter_records
    "payload_not_an_object": ("reconciliation", "0.5", 1),  # TypeError: `key in payload` on a float
    "ts_ns_not_an_int": ("submit_sent", "{}", "abc"),  # TypeError comparing ts_ns in domain/orders.py
    "intent_price_nan": ("intent", _json({**msgspec.json.decode(INTENT), "stop_price": "-nan"}), 1),  # NaN order
    "adopted_qty_nan": ("reconciliation", _json({"adopt_position": {"symbol": "AAPL", "qty": "NaN", "avg_entry_price": "1"}}), 1),
    "status_avg_price_overflow": ("status", _json({"status": "filled", "filled_qty": "7", "filled_avg_price": "1E+1000000000"}), 1),
    "fill_price_overflow": ("fill", _json({"execution_id": "x", "qty": "10", "price": "1e999999"}), 1),
    "status_filled_qty_nan": ("status", _json({"status": "replaced", "filled_qty": "NaN"}), 1),
}  # fmt: skip


@pytest.mark.parametrize("name", list(REGRESSIONS))
def test_bad_record_is_counted_not_a_crash(journal_check: JournalCheck, name: str) -> None:
    kind, payload, ts = REGRESSIONS[name]
    coid = "s-i-1" if kind != "intent" else "s-i-2"
    rows: list[Row] = [(1, "intent", "s-i-1", INTENT), (2 if ts == 1 else ts, kind, coid, payload)]
    results = [result for _row, result in journal_check(rows)]
    assert len(results) == 2
    assert not any(isinstance(r, BaseException) for r in results), results
