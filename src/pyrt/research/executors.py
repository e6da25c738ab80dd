"""Where a sweep's tasks run: local processes (default, one per core) or a Dask cluster.

Both ship the `SweepJob` (bars included) to each worker ONCE: the process pool through its
initializer (forked workers inherit it; no pickling per task), Dask through
`Client.scatter(job, broadcast=True)`, every task then referring to that one future. Tasks
carry only a parameter set and a bar range.

A worker that dies: Dask reschedules the task it held on another worker (the scheduler's
`allowed-failures`), the others go on. The local pool breaks as a whole when one of its
processes dies (`BrokenProcessPool`): the finished rows are kept, a new pool is started and
only the tasks that had not finished (the one that died and those in flight with it) run
again, up to `MAX_POOL_RESTARTS` times."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pyrt.research.sweep import SweepJob, Task, run_task

OnDone = Callable[[dict[str, Any]], None]
MAX_POOL_RESTARTS = 3

_JOB: SweepJob | None = None  # a pool worker's copy, set once by its initializer


def _init_worker(job: SweepJob) -> None:
    global _JOB
    _JOB = job
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle


def _run_in_worker(task: Task) -> dict[str, Any]:
    assert _JOB is not None, "worker started without its job"
    return run_task(_JOB, task)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class LocalPool:
    """A process pool of `workers` processes (default: every core this process may use)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self.restarts = 0

    def describe(self) -> str:
        return f"{self.workers} local process(es)"

    def run(self, job: SweepJob, tasks: Sequence[Task], on_done: OnDone) -> None:
        pending = {t.key: t for t in tasks}
        while pending:
            try:
                self._run_pool(job, pending, on_done)
            except BrokenProcessPool:
                self.restarts += 1
                if self.restarts > MAX_POOL_RESTARTS:
                    raise RuntimeError(
                        f"sweep: a worker process died {self.restarts} times; {len(pending)} task(s) not run "
                        "(finished ones are kept: rerun to resume)"
                    ) from None

    def _run_pool(self, job: SweepJob, pending: dict[str, Task], on_done: OnDone) -> None:
        ex = ProcessPoolExecutor(self.workers, initializer=_init_worker, initargs=(job,))
        try:
            # at most two tasks per worker queued at a time: an interrupt leaves little to cancel
            todo = list(pending.values())
            running: dict[Future[dict[str, Any]], Task] = {}
            while todo or running:
                while todo and len(running) < 2 * self.workers:
                    t = todo.pop(0)
                    running[ex.submit(_run_in_worker, t)] = t
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in done:
                    task = running.pop(f)
                    row = f.result()  # raises BrokenProcessPool when a worker died
                    pending.pop(task.key, None)
                    on_done(row)
        except BaseException:
            ex.shutdown(wait=False, cancel_futures=True)
            raise
        ex.shutdown(wait=True)


def _run_on_dask_worker(job: SweepJob, task: Task) -> dict[str, Any]:
    return run_task(job, task)


class DaskPool:
    """Tasks on the Dask cluster whose scheduler is at `address` (tcp://HOST:8786). Its
    workers need the same py_rt version and locked dependencies (and the config folder's
    strategy files, when it has any, at the same path)."""

    def __init__(self, address: str, retries: int = 2, connect_timeout_s: float = 30.0) -> None:
        if not address.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise ValueError(f"dask: {address!r} is not a scheduler address (expected tcp://HOST:8786)")
        self.address = address
        self.retries = retries
        self.connect_timeout_s = connect_timeout_s
        self.replicas = 0

    def describe(self) -> str:
        return f"the Dask cluster at {self.address}"

    def run(self, job: SweepJob, tasks: Sequence[Task], on_done: OnDone) -> None:
        from distributed import Client, as_completed

        with Client(self.address, timeout=self.connect_timeout_s, set_as_default=False) as client:
            shipped = client.scatter(job, broadcast=True, hash=False)
            self.replicas = len(client.who_has([shipped]).get(shipped.key, ()))  # workers holding the job
            futures = [client.submit(_run_on_dask_worker, shipped, t, pure=False, retries=self.retries) for t in tasks]
            try:
                for f in as_completed(futures, loop=client.loop):
                    on_done(f.result())
            except BaseException:
                client.cancel(futures)
                raise
