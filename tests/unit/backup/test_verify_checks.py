"""The pieces of verify-data: seq continuity, risk state vs journal positions, the report."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from pyrt.domain.intents import OrderIntent
from pyrt.ops.verify import FAIL, OK, WARN, Check, compare_positions, report, seq_problems, verify_data
from pyrt.persistence.journal import Journal
from pyrt.persistence.projections import replay
from tests.unit.backup.helpers import make_layout


def test_seq_continuity() -> None:
    assert seq_problems([1, 2, 3], 3) == []
    assert seq_problems([], None) == []
    assert seq_problems([1, 2, 5], 5) == ["gap: seq 3..4 missing"]
    assert seq_problems([2, 3], 3) == ["gap: seq 1 missing"]
    assert seq_problems([1, 2, 2, 3], 3) == ["seq 2 duplicated or out of order"]
    assert seq_problems([1, 2], 4) == ["seq 3..4 written but gone (records lost at the end)"]


def journal_with_position(path: Path) -> None:
    with Journal(path) as j:
        intent = OrderIntent(
            intent_id="a",
            strategy="s",
            symbol="AAPL",
            side="buy",  # type: ignore[arg-type]
            qty=D(10),
        )
        j.append("intent", "s-a-0", intent)
        j.append("submit_sent", "s-a-0", {})
        j.append("fill", "s-a-0", {"execution_id": "x1", "qty": "10", "price": "100"})


@pytest.mark.parametrize(
    ("saved", "running", "status"),
    [
        ({"AAPL": "10"}, False, OK),
        ({"AAPL": "7"}, False, FAIL),
        ({"AAPL": "10", "MSFT": "1"}, False, FAIL),
        ({"AAPL": "7"}, True, WARN),
        ({}, False, FAIL),
    ],
)
def test_risk_state_against_journal(tmp_path: Path, saved: dict, running: bool, status: str) -> None:
    journal = tmp_path / "journal.db"
    journal_with_position(journal)
    with Journal(journal, read_only=True) as j:
        projection = replay(j.iter_records())
    state = tmp_path / "risk_state.json"
    state.write_text(
        json.dumps(
            {"saved_at_ns": 1_761_055_200_000_000_000, "book": {"positions": {s: {"qty": q} for s, q in saved.items()}}}
        )
    )
    check = compare_positions(state, projection, running)
    assert check.status == status, check
    assert "compared signed qty per symbol" in check.detail and "2025-10-21T14:00:00Z" in check.detail


def test_missing_or_garbled_risk_state(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    journal_with_position(journal)
    with Journal(journal, read_only=True) as j:
        projection = replay(j.iter_records())
    assert compare_positions(tmp_path / "none.json", projection, False).status == OK
    (tmp_path / "bad.json").write_text("{")
    assert compare_positions(tmp_path / "bad.json", projection, False).status == FAIL


def test_verify_data_of_a_healthy_and_a_corrupt_journal(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, records=20)
    text, ok = report(verify_data(layout), "verify-data")
    assert ok, text
    assert "✓ journal seq continuity: 20 records" in text
    # every page after the first (the schema) overwritten with garbage
    raw = bytearray(layout.journal_path.read_bytes())
    raw[4096:] = b"\xa5" * (len(raw) - 4096)
    layout.journal_path.write_bytes(bytes(raw))
    text, ok = report(verify_data(layout), "verify-data")
    assert not ok and "✗" in text and text.endswith("FAILED")


def test_report_summary() -> None:
    text, ok = report([Check("a", OK), Check("b", WARN, "look"), Check("c", FAIL, "bad")], "t")
    assert text.splitlines() == ["✓ a", "⚠ b: look", "✗ c: bad", "t: 3 checks, 1 failed, 1 warnings: FAILED"]
    assert not ok


def test_deleted_and_garbled_records_are_found(tmp_path: Path) -> None:
    import sqlite3

    layout = make_layout(tmp_path, records=10)
    conn = sqlite3.connect(layout.journal_path)
    conn.executescript(
        "DROP TRIGGER journal_no_delete; DROP TRIGGER journal_no_update;"
        "DELETE FROM journal WHERE seq IN (4, 5); UPDATE journal SET payload = 'x{' WHERE seq = 6;"
    )
    conn.close()
    lines = report(verify_data(layout), "verify-data")[0].splitlines()
    assert any(line.startswith("✗ journal seq continuity") and "gap: seq 4..5 missing" in line for line in lines), lines
    assert any(line.startswith("✗ journal integrity") and "seq 6" in line for line in lines), lines
    assert any(line.startswith("✗ journal records decode") for line in lines), lines


def test_a_journal_with_an_autoincrement_counter_shows_records_lost_at_the_end(tmp_path: Path) -> None:
    """Journals created before seq became a plain rowid carry SQLite's counter of the
    highest seq handed out; verify uses it to see a deleted tail."""
    import sqlite3

    (tmp_path / "data").mkdir()
    conn = sqlite3.connect(tmp_path / "data" / "journal.db")
    conn.execute(
        "CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts_ns INTEGER NOT NULL, "
        "kind TEXT NOT NULL, client_order_id TEXT NOT NULL DEFAULT '', payload TEXT NOT NULL)"
    )
    conn.close()
    layout = make_layout(tmp_path / "x", records=10)
    layout.journal_path.unlink()
    (tmp_path / "data" / "journal.db").rename(layout.journal_path)
    with Journal(layout.journal_path) as journal:  # the legacy table is kept as it is
        for i in range(10):
            journal.append("audit", "", {"n": i})
    conn = sqlite3.connect(layout.journal_path)
    conn.executescript("DROP TRIGGER journal_no_delete; DELETE FROM journal WHERE seq = 10;")
    conn.close()
    lines = report(verify_data(layout), "verify-data")[0].splitlines()
    assert any(line.startswith("✗ journal seq continuity") and "seq 10 written but gone" in line for line in lines), (
        lines
    )
