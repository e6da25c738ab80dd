"""Sweeps on a real Dask cluster: a LocalCluster of two worker processes on loopback. The
job (bars included) is scattered once; the figures equal the local pool's; a worker killed
mid-sweep loses only its task, which runs again on another worker."""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pyrt.backtest.settings import BacktestSettings
from pyrt.research.executors import DaskPool, LocalPool
from pyrt.research.grid import grid_sets, parse_grid
from pyrt.research.sweep import SweepJob, build_job, make_task
from pyrt.research.sweep_run import run_sweep
from tests.support.backtest import ROOT, SHARED

distributed = pytest.importorskip("distributed")
# a loaded machine can make the workers' scratch folders slow to create: a warning, not a failure
pytestmark = pytest.mark.filterwarnings("ignore:Creating scratch directories is taking a surprisingly long time")
DAILY = SHARED / "data" / "historical"


@pytest.fixture(scope="module")
def job() -> SweepJob:
    if not DAILY.is_dir():
        pytest.skip(f"{DAILY} not found")
    return build_job(ROOT / "examples" / "reference", [str(DAILY)], "ref_long", BacktestSettings())


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        # the scheduler's HTTP server on a free port: without an address it tries 8787 first,
        # the sim broker's default port (taken by `make run` or another test)
        dashboard_address="127.0.0.1:0",
    ) as c:
        yield c


def _figures(rows: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {r["key"]: (r["status"], r["sharpe"], r["total_return"], r["trades"]) for r in rows}


def test_a_sweep_on_the_cluster_equals_the_local_pool(job: SweepJob, cluster: Any, tmp_path: Path) -> None:
    sets = grid_sets(parse_grid("fast=5|10,slow=20|30"))
    body = run_sweep(job, sets, DaskPool(cluster.scheduler_address), tmp_path / "dask", quiet=True)
    assert body["runs"] == 4 and body["executor"] == f"the Dask cluster at {cluster.scheduler_address}"
    local: list[dict[str, Any]] = []
    LocalPool(2).run(job, [make_task(job, p) for p in sets], local.append)
    table = pq.read_table(tmp_path / "dask" / "sweep.parquet").to_pylist()
    assert _figures(table) == _figures(local)
    assert all(r["status"] == "ok" for r in table)
    assert body["best"]["params"] == max(local, key=lambda r: r["sharpe"])["params"]
    assert (tmp_path / "dask" / "best" / "report.json").is_file()
    assert "<table>" in (tmp_path / "dask" / "heatmap.html").read_text()


def test_the_job_is_shipped_to_each_worker_once(job: SweepJob, cluster: Any) -> None:
    pool = DaskPool(cluster.scheduler_address)
    tasks = [make_task(job, {"fast": f, "slow": 30}) for f in (3, 4, 6, 7)]
    rows: list[dict[str, Any]] = []
    pool.run(job, tasks, rows.append)
    assert len(rows) == 4
    assert pool.replicas == 2  # one copy of the job (bars included) on each worker
    # what each task carries: a parameter set and a bar range, not the bars
    assert max(len(pickle.dumps(t)) for t in tasks) < 1000 < len(pickle.dumps(job)) // 10


def test_a_worker_killed_mid_sweep_loses_only_its_task(job: SweepJob, cluster: Any, tmp_path: Path) -> None:
    sets = grid_sets(parse_grid("fast=3..8,slow=20|40"))
    tasks = [make_task(job, p) for p in sets]
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        pids = client.run(os.getpid)
        victim = min(pids.values())
        rows: list[dict[str, Any]] = []

        def done(row: dict[str, Any]) -> None:
            rows.append(row)
            if len(rows) == 1:
                os.kill(victim, signal.SIGKILL)  # the worker process, mid-sweep

        DaskPool(cluster.scheduler_address).run(job, tasks, done)
        client.wait_for_workers(2, timeout=60)  # the nanny restarts it
    assert sorted(r["key"] for r in rows) == sorted(t.key for t in tasks)  # each task once, none lost
    assert all(r["status"] == "ok" for r in rows)
    local: list[dict[str, Any]] = []
    LocalPool(1).run(job, tasks, local.append)
    assert _figures(rows) == _figures(local)
