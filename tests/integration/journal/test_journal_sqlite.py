"""The journal on a real SQLite file: durability settings, append-only rows, and failures
that surface as JournalWriteError."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from pyrt.domain.clock import ManualClock
from pyrt.domain.intents import OrderIntent
from pyrt.persistence.journal import (
    SCHEMA_VERSION,
    Journal,
    JournalError,
    JournalWriteError,
    RecordKind,
    failpoint,
)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.db"


def test_write_read_roundtrip_and_since_seq(path: Path) -> None:
    clock = ManualClock(start_ns=1_000)
    intent = OrderIntent(intent_id="i1", strategy="s", symbol="AAPL", side="buy", qty=Decimal("1.5"))
    with Journal(path, clock=clock) as journal:
        assert journal.last_seq() == 0
        assert journal.append(RecordKind.INTENT, "s-i1-0", intent) == 1
        clock.advance(1)
        assert journal.append("ack", "s-i1-0", {"broker_order_id": "b1", "status": "accepted"}) == 2
        assert journal.append("audit", "", None, ts_ns=5) == 3
        records = list(journal.iter_records())
        assert [r.seq for r in records] == [1, 2, 3]
        assert records[0].payload["qty"] == "1.5" and records[0].ts_ns == 1_000
        assert records[1].ts_ns == 1_000_001_000 and records[2].payload == {}
        assert [r.seq for r in journal.iter_records(since_seq=2)] == [3]
        assert journal.last_seq() == 3


def test_append_records_returns_what_a_reader_sees(path: Path) -> None:
    with Journal(path) as journal:
        live = journal.append_records(
            [("fill", "c1", {"execution_id": "e1", "qty": Decimal(2), "price": Decimal("9.99")})]
        )
        assert list(journal.iter_records()) == live


def test_records_survive_reopen_and_paging(path: Path) -> None:
    with Journal(path) as journal:
        records = journal.append_records([("fill", f"c{i}", {"i": i}) for i in range(1_234)])
        assert [r.seq for r in records] == list(range(1, 1_235))
    with Journal(path) as journal:
        assert [r.payload["i"] for r in journal.iter_records()] == list(range(1_234))
        assert journal.integrity_check() == []


def test_wal_and_synchronous_full_are_set(path: Path) -> None:
    with Journal(path) as journal:
        assert journal.pragma("journal_mode") == "wal"
        assert journal.pragma("synchronous") == 2  # FULL
        journal.append("intent", "c1", {})
        other = sqlite3.connect(path)  # committed: visible to another connection at once
        try:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert other.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 1
            assert other.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(
                SCHEMA_VERSION
            )
        finally:
            other.close()


def test_rows_cannot_be_updated_or_deleted(path: Path) -> None:
    with Journal(path) as journal:
        journal.append("intent", "c1", {})
    raw = sqlite3.connect(path)
    try:
        for sql in ("UPDATE journal SET kind = 'fill'", "DELETE FROM journal"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                raw.execute(sql)
    finally:
        raw.close()


def test_read_only_journal_refuses_writes(path: Path) -> None:
    with Journal(path) as journal:
        journal.append("intent", "c1", {})
        with Journal(path, read_only=True) as reader:  # a second reader is fine
            assert reader.last_seq() == 1
            with pytest.raises(JournalWriteError):
                reader.append("intent", "c2", {})


def test_corrupt_file_raises_journal_write_error(path: Path) -> None:
    path.write_bytes(b"this is not a database" * 200)
    with pytest.raises(JournalWriteError):
        Journal(path)
    Journal(path.with_name("other.db")).close()  # the failed open released its claim


def test_disk_full_raises_and_leaves_the_journal_usable(path: Path) -> None:
    with Journal(path) as journal:
        journal.append("intent", "c1", {})
        pages = journal.pragma("page_count")
        journal._conn.execute(f"PRAGMA max_page_count = {pages + 1}")  # type: ignore[union-attr]
        with pytest.raises(JournalWriteError, match="full"):
            journal.append_records([("fill", "c1", {"blob": "x" * 3_000}) for _ in range(20)])
        assert journal.last_seq() == 1  # all or nothing
        assert journal.append("audit", "", {"note": "small"}) == 2


@pytest.mark.parametrize(
    ("kind", "payload"),
    [("nonsense", {}), ("intent", {"bad": object()}), ("intent", [1, 2])],
)
def test_bad_records_raise_journal_write_error(path: Path, kind: str, payload: object) -> None:
    with Journal(path) as journal:
        with pytest.raises(JournalWriteError):
            journal.append(kind, "c1", payload)  # type: ignore[arg-type]
        assert journal.last_seq() == 0


def test_closed_journal_and_second_writer(path: Path) -> None:
    journal = Journal(path)
    with pytest.raises(JournalError, match="writer"):
        Journal(path)
    journal.close()
    journal.close()
    with pytest.raises(JournalWriteError):
        journal.append("intent", "c1", {})
    Journal(path).close()


def test_schema_version_mismatch_is_refused(path: Path) -> None:
    Journal(path).close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with pytest.raises(JournalError, match="schema version"):
        Journal(path)


def test_integrity_check_reports_foreign_rows(path: Path) -> None:
    with Journal(path) as journal:
        journal.append("intent", "c1", {})
        raw = sqlite3.connect(path)
        raw.execute("INSERT INTO journal (ts_ns, kind, client_order_id, payload) VALUES (1, 'weird', '', 'not json')")
        raw.execute("INSERT INTO journal (ts_ns, kind, client_order_id, payload) VALUES (1, 'fill', '', '[1]')")
        raw.commit()
        raw.close()
        problems = journal.integrity_check()
    assert problems == [
        "seq 2: unknown kind 'weird'",
        "seq 2: payload is not valid JSON",
        "seq 3: payload is not a JSON object",
    ]


def test_unarmed_failpoint_is_a_no_op() -> None:
    failpoint("a_name_nobody_arms")
