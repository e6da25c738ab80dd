"""The sweep driver: finished rows are stored as they come, an interrupted run keeps them,
a rerun hands the executor only the tasks not yet done; the progress line has an ETA."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from pyrt.research.driver import Progress, run_tasks
from pyrt.research.store import RunStore
from pyrt.research.sweep import SweepJob, Task


class Recorder:
    """An executor that finishes tasks in order in-process, and can stop after `stop_after`."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after = stop_after
        self.given: list[str] = []

    def describe(self) -> str:
        return "recorder"

    def run(self, job: SweepJob, tasks: Sequence[Task], on_done: Callable[[dict[str, Any]], None]) -> None:
        self.given = [t.key for t in tasks]
        for i, t in enumerate(tasks):
            if self.stop_after is not None and i == self.stop_after:
                raise KeyboardInterrupt
            on_done({"key": t.key, "params": t.params, "status": "ok", "sharpe": float(i)})


JOB = cast(SweepJob, object())  # the driver only hands it to the executor
TASKS = [Task({"fast": f}, key=f"k{f}") for f in range(5)]


def test_an_interrupted_run_keeps_its_rows_and_a_rerun_does_the_rest(tmp_path: Path) -> None:
    first = Recorder(stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        run_tasks(JOB, TASKS, first, RunStore(tmp_path), quiet=True)
    assert first.given == ["k0", "k1", "k2", "k3", "k4"]
    second = Recorder()
    rows, reused = run_tasks(JOB, TASKS, second, RunStore(tmp_path), quiet=True)
    assert reused == 2 and second.given == ["k2", "k3", "k4"]
    assert [r["key"] for r in rows] == ["k0", "k1", "k2", "k3", "k4"]  # in the tasks' order
    third = Recorder()
    assert run_tasks(JOB, TASKS, third, RunStore(tmp_path), quiet=True)[1] == 5 and third.given == []


def test_a_task_given_twice_runs_once(tmp_path: Path) -> None:
    rec = Recorder()
    rows, _ = run_tasks(JOB, [*TASKS, TASKS[0]], rec, RunStore(tmp_path), quiet=True)
    assert rec.given == ["k0", "k1", "k2", "k3", "k4"] and len(rows) == 6


def test_progress_lines_with_eta() -> None:
    out = io.StringIO()
    p = Progress(20, "sweep", stream=out)
    for _ in range(20):
        p.step()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("sweep: 1/20 runs, ") and "ETA" in lines[0]
    assert lines[-1].startswith("sweep: 20/20 runs") and "ETA" not in lines[-1]
    assert len(lines) == 11  # about every 10 %
    assert p.eta_s() == 0.0
