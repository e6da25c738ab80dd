"""The diagnostics' verdicts on seeded data (issue 10's check): the best of a 100-set sweep
over a random walk with no edge is not significant (deflated Sharpe p > 0.05) and walks
forward with an efficiency below 0.5 (or none: no in-sample gain); with a planted edge
(positive drift) it is significant (p < 0.01). A seeded random search reproduces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyrt.backtest.settings import BacktestSettings
from pyrt.research.executors import LocalPool
from pyrt.research.grid import grid_sets, parse_grid, random_sets
from pyrt.research.sweep import SweepJob, build_job, check_sets
from pyrt.research.sweep_run import run_sweep
from pyrt.research.walk_forward import parse_walk_forward, run_walk_forward
from tests.support.backtest import ROOT
from tests.support.synthetic_bars import write_daily

GRID = "fast=2..11,slow=12..57:5"  # 100 sets


def _job(tmp: Path, seed: int, drift: float) -> SweepJob:
    csv = write_daily(tmp / f"AAPL_{seed}.csv", "AAPL", 500, seed, drift=drift)
    return build_job(ROOT / "examples" / "reference", [str(csv)], "ref_long", BacktestSettings())


def _sets(job: SweepJob) -> list[Any]:
    sets, refused = check_sets(job, grid_sets(parse_grid(GRID)))
    assert len(sets) == 100 and not refused
    return sets


def test_no_edge_is_not_significant_and_does_not_walk_forward(tmp_path: Path) -> None:
    job = _job(tmp_path, seed=1, drift=0.0)
    sets = _sets(job)
    body = run_sweep(job, sets, LocalPool(2), tmp_path / "sweep", quiet=True)
    sig = body["diagnostics"]["sharpe_significance"]
    assert sig["n_trials"] == 100
    assert sig["p_value"] > 0.05 and not sig["significant"]
    assert any("not significant" in w for w in body["diagnostics"]["warnings"])
    wf = run_walk_forward(
        job, sets, parse_walk_forward("train=120d,test=40d"), LocalPool(2), tmp_path / "wf", quiet=True
    )
    wfe = wf["walk_forward_efficiency"]
    assert wfe is None or wfe < 0.5
    assert len(wf["windows"]) == 9 and wf["out_of_sample"]["days"] == 360
    assert (tmp_path / "wf" / "oos_equity.csv").read_text().count("\n") == 361


def test_a_planted_edge_is_significant(tmp_path: Path) -> None:
    job = _job(tmp_path, seed=2, drift=0.004)
    body = run_sweep(job, _sets(job), LocalPool(2), tmp_path / "sweep", quiet=True)
    sig = body["diagnostics"]["sharpe_significance"]
    assert sig["p_value"] < 0.01 and sig["significant"]
    assert body["diagnostics"]["t_test"]["p_value"] < 0.01


def test_a_seeded_random_search_reproduces(tmp_path: Path) -> None:
    job = _job(tmp_path, seed=3, drift=0.0)
    space = parse_grid("fast=2..30,slow=31..90")
    texts = []
    for name, workers in (("a", 2), ("b", 1)):
        sets = random_sets(space, 8, seed=5)
        body = run_sweep(job, sets, LocalPool(workers), tmp_path / name, quiet=True)
        body.pop("executor")
        texts.append(json.dumps(body, sort_keys=True))
        assert (tmp_path / name / "best" / "report.json").is_file()
    assert texts[0] == texts[1]
    assert (tmp_path / "a" / "best" / "report.json").read_bytes() == (
        tmp_path / "b" / "best" / "report.json"
    ).read_bytes()
