"""`pyrt backtest sweep` on local processes as a user runs it: interrupted with Ctrl-C
(SIGINT) mid-sweep it keeps the finished runs, and the same command run again resumes: only
the rest run, every set once. A local worker process killed mid-sweep costs only the tasks
in flight (run again in a new pool)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pyrt.backtest.settings import BacktestSettings
from pyrt.research.executors import LocalPool
from pyrt.research.grid import grid_sets, parse_grid
from pyrt.research.store import RUNS_FILE
from pyrt.research.sweep import build_job, make_task
from tests.support.backtest import ROOT, SHARED
from tests.support.deploy import wait_for

DAILY = SHARED / "data" / "historical"
GRID = "fast=2..11,slow=22..37:5"  # 40 sets, all valid


def _cmd(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "pyrt", "backtest", "sweep", "--config-dir", str(ROOT / "examples" / "reference"),
        "--data", str(DAILY), "--strategy", "ref_long", "--grid", GRID, "--out", str(out), *extra,
    ]  # fmt: skip


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]


@pytest.fixture(autouse=True)
def _data() -> None:
    if not DAILY.is_dir():
        pytest.skip(f"{DAILY} not found")


def test_interrupted_sweep_keeps_its_runs_and_a_rerun_resumes(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    runs = out / RUNS_FILE
    proc = subprocess.Popen(_cmd(out, "--workers", "1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(_lines(runs)) >= 3 or proc.poll() is not None, 60, "three finished runs", 0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted: finished runs are kept" in err
    kept = _lines(runs)
    assert 3 <= len(kept) < 40
    assert not (out / "sweep.json").exists()

    again = subprocess.run(
        _cmd(out, "--workers", "2", "--json"), capture_output=True, text=True, timeout=300, check=False
    )
    assert again.returncode == 0, again.stderr
    body = json.loads(again.stdout)
    assert body["sets"] == 40 and body["runs"] == 40
    assert body["resumed"] == len(kept)
    keys = [r["key"] for r in _lines(runs)]
    assert len(keys) == 40 == len(set(keys))  # each set ran once
    assert pq.read_table(out / "sweep.parquet").num_rows == 40
    assert body["diagnostics"]["sharpe_significance"]["n_trials"] == 40
    assert "best" in body and json.loads((out / "best" / "report.json").read_text())["diagnostics"]


def _children() -> set[int]:
    me = os.getpid()
    return {int(p) for p in Path(f"/proc/{me}/task/{me}/children").read_text().split()}


def test_a_local_worker_killed_mid_sweep_costs_only_the_tasks_in_flight(tmp_path: Path) -> None:
    job = build_job(ROOT / "examples" / "reference", [str(DAILY)], "ref_long", BacktestSettings())
    tasks = [make_task(job, p) for p in grid_sets(parse_grid("fast=3..8,slow=20|40"))]
    pool = LocalPool(2)
    rows: list[dict[str, Any]] = []
    before = _children()

    def done(row: dict[str, Any]) -> None:
        rows.append(row)
        if len(rows) == 2 and pool.restarts == 0:
            workers = sorted(_children() - before)  # the pool's processes
            assert workers
            os.kill(workers[0], signal.SIGKILL)

    pool.run(job, tasks, done)
    assert pool.restarts == 1
    assert sorted(r["key"] for r in rows) == sorted(t.key for t in tasks)  # each once, none lost
    assert all(r["status"] == "ok" for r in rows)
