"""A journal written by the code before typed order events (commit dcad572, made by
tests/fixtures/make_journal_dcad572.py) opens, is stamped with the current event format,
and replays to exactly the state that code replayed it to."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from pyrt.domain.events import decode_event
from pyrt.persistence.journal import EVENT_FORMAT, Journal, JournalError
from pyrt.persistence.projections import replay

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "journal_dcad572.db"

# what the code of dcad572 replayed this file to (printed by the fixture's script)
STATES = {
    "ema-a1-0": "filled",
    "ema-a2-0": "filled",
    "rsi-a3-0": "canceled",
    "ema-a4-0": "rejected",
    "manual-a5-0": "rejected",
    "ema-a6-0": "submitted",
}
POSITIONS = {"AAPL": ("3", "100.7", "2.6"), "GOOGL": ("3", "150", "0")}


def test_a_journal_of_the_previous_format_replays_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    shutil.copy(FIXTURE, path)
    with Journal(path) as journal:  # the first writable open migrates (stamps) it
        records = list(journal.iter_records())
    assert len(records) == 27
    for record in records:
        decode_event(record)  # every record is a typed event
    proj = replay(records)
    assert {c: o.state.value for c, o in proj.orders.items()} == STATES
    assert {
        s: (str(p.qty), str(p.avg_entry_price), str(p.realized_pnl)) for s, p in proj.positions.items()
    } == POSITIONS
    assert proj.anomalies == [] and proj.orders["ema-a1-0"].filled_qty == Decimal(5)
    import sqlite3

    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='event_format'").fetchone() == (str(EVENT_FORMAT),)


def test_a_journal_of_an_unknown_newer_format_refuses_to_open(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "journal.db"
    shutil.copy(FIXTURE, path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO meta VALUES ('event_format', '99')")
    with pytest.raises(JournalError, match="event format '99'"):
        Journal(path, read_only=True)
