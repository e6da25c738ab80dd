"""Crash tests: a child process follows the journal-first protocol and is killed by an
armed failpoint; what it committed before the crash must be on disk and replayable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyrt.domain.orders import PRE_ACK_STATES, OrderState
from pyrt.persistence.journal import Journal
from pyrt.persistence.projections import replay

CHILD = r"""
import sys
from decimal import Decimal
from pyrt.domain.intents import OrderIntent
from pyrt.persistence.journal import Journal, failpoint

journal = Journal(sys.argv[1])
intent = OrderIntent(intent_id="i1", strategy="s", symbol="AAPL", side="buy", qty=Decimal(10))
journal.append("intent", "s-i1-0", intent)
journal.append("submit_sent", "s-i1-0", {})
failpoint("after_journal_before_send")
print("SENT", flush=True)  # stands for the POST
failpoint("after_send_before_ack_write")
journal.append("ack", "s-i1-0", {"broker_order_id": "b1", "status": "accepted"})
journal.append("fill", "s-i1-0", {"execution_id": "e1", "qty": "10", "price": "101.5"})
failpoint("after_fill_before_position_update")
print("DONE", flush=True)
journal.close()
"""


def run_child(path: Path, armed: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYRT_FAILPOINTS=armed)
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], env=env, check=False, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("armed", "printed", "kinds", "state"),
    [
        ("after_journal_before_send", "", ["intent", "submit_sent"], OrderState.SUBMITTED),
        ("other,after_send_before_ack_write", "SENT\n", ["intent", "submit_sent"], OrderState.SUBMITTED),
        (
            "after_fill_before_position_update",
            "SENT\n",
            ["intent", "submit_sent", "ack", "fill"],
            OrderState.FILLED,
        ),
    ],
)
def test_crash_at_failpoint_leaves_committed_records(
    tmp_path: Path, armed: str, printed: str, kinds: list[str], state: OrderState
) -> None:
    path = tmp_path / "journal.db"
    result = run_child(path, armed)
    assert result.returncode == 137, result.stderr
    assert result.stdout == printed
    assert "failpoint" in result.stderr
    with Journal(path) as journal:
        assert journal.integrity_check() == []
        records = list(journal.iter_records())
    assert [r.kind for r in records] == kinds
    projection = replay(records)
    order = projection.orders["s-i1-0"]
    assert order.state == state
    if state == OrderState.SUBMITTED:
        assert [o for o in projection.orders.values() if o.state in PRE_ACK_STATES] == [
            order
        ]  # look it up, never POST again
    else:
        assert projection.position("AAPL").qty == 10


def test_nothing_armed_runs_to_the_end(tmp_path: Path) -> None:
    result = run_child(tmp_path / "journal.db", "")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "SENT\nDONE\n"
