"""Runs a list of tasks through an executor with the resume file and a progress display:
tasks whose key is already in `runs.jsonl` are not run again; each finished row is appended
before the next one is awaited."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TextIO

from pyrt.research.store import RunStore
from pyrt.research.sweep import SweepJob, Task


class Executor(Protocol):
    def describe(self) -> str: ...
    def run(self, job: SweepJob, tasks: Sequence[Task], on_done: Callable[[dict[str, Any]], None]) -> None: ...


class Progress:
    """`done/total runs, elapsed, ETA`: a rich bar on a terminal, else a line per ~10 %."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.stream = stream or sys.stderr
        self.quiet = quiet or total == 0
        self.t0 = time.monotonic()
        self._next_line = 0
        self._bar: Any = None
        self._task: Any = None
        if not self.quiet and self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("runs, ETA"),
                TimeRemainingColumn(), console=Console(file=self.stream),
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task(label, total=total)

    def eta_s(self) -> float | None:
        if self.done == 0:
            return None
        return (time.monotonic() - self.t0) / self.done * (self.total - self.done)

    def step(self) -> None:
        self.done += 1
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
            return
        if self.done >= self._next_line or self.done == self.total:
            eta = self.eta_s()
            elapsed = time.monotonic() - self.t0
            eta_text = f", ETA {eta:.0f}s" if eta is not None and self.done < self.total else ""
            print(
                f"{self.label}: {self.done}/{self.total} runs, {elapsed:.0f}s{eta_text}", file=self.stream, flush=True
            )
            self._next_line = self.done + max(1, self.total // 10)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def run_tasks(
    job: SweepJob,
    tasks: Sequence[Task],
    executor: Executor,
    store: RunStore,
    *,
    label: str = "sweep",
    quiet: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Every task's row, in the tasks' order, and how many were taken from the resume file."""
    todo: list[Task] = []
    seen: set[str] = set()
    for t in tasks:
        if t.key not in store and t.key not in seen:
            todo.append(t)
            seen.add(t.key)
    reused = len({t.key for t in tasks}) - len(todo)
    if todo:
        progress = Progress(len(todo), label, quiet=quiet)

        def done(row: dict[str, Any]) -> None:
            store.add(row)
            progress.step()

        try:
            executor.run(job, todo, done)
        finally:
            progress.close()
    rows = [store.get(t.key) for t in tasks]
    return [r for r in rows if r is not None], reused
