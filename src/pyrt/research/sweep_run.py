"""A whole sweep: the parameter sets through an executor (resuming from `runs.jsonl`), then
its files: `sweep.parquet`, `heatmap.html`, `sweep.json` (the ranked table, the refused
sets, and the diagnostics of the best set given how many sets were tried) and `best/`, the
full backtest report of the best set."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyrt.research.diagnostics import diagnose_run
from pyrt.research.driver import Executor, run_tasks
from pyrt.research.grid import ParamSet, set_label
from pyrt.research.store import RunStore
from pyrt.research.sweep import SweepJob, backtest_of, make_task, rank_rows
from pyrt.research.sweep_output import heatmap_html, write_parquet

RANKED_KEPT = 50


def run_sweep(
    job: SweepJob,
    sets: Sequence[ParamSet],
    executor: Executor,
    out_dir: Path,
    *,
    rank: str = "sharpe",
    refused: Sequence[str] = (),
    search: dict[str, Any] | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Runs (or resumes) the sweep and writes its files; returns `sweep.json`'s content."""
    rank_rows([], rank)  # refuses an unknown metric before anything runs
    store = RunStore(out_dir)
    tasks = [make_task(job, p) for p in sets]
    rows, reused = run_tasks(job, tasks, executor, store, label="sweep", quiet=quiet)
    ranked = rank_rows(rows, rank)
    write_parquet(rows, out_dir / "sweep.parquet")
    title = f"Sweep of {job.spec['name']} ({job.spec.get('kind')}): {rank}"
    (out_dir / "heatmap.html").write_text(heatmap_html(rows, rank, title), encoding="utf-8")
    errors = [f"{set_label(r['params'])}: {r.get('error')}" for r in rows if r.get("status") != "ok"]
    body: dict[str, Any] = {
        "strategy": job.spec["name"],
        "kind": job.spec.get("kind"),
        "rank_by": rank,
        "search": search or {},
        "executor": executor.describe(),
        "sets": len(sets),
        "runs": len(rows),
        "resumed": reused,
        "refused": list(refused),
        "errors": errors,
        "ranked": [_public(r) for r in ranked[:RANKED_KEPT]],
        "best": None,
        "diagnostics": None,
        "files": ["runs.jsonl", "sweep.parquet", "heatmap.html", "sweep.json", "best/"],
    }
    if ranked:
        best = ranked[0]
        run = backtest_of(job, best["params"]).run()
        from pyrt.backtest.report import trades_of, write_report

        trial_sharpes = [
            r["sharpe_daily"] for r in rows if r.get("status") == "ok" and r.get("sharpe_daily") is not None
        ]
        body["best"] = _public(best)
        body["diagnostics"] = diagnose_run(run, trades_of(run), n_trials=len(rows), trial_sharpes=trial_sharpes)
        write_report(run, out_dir / "best")

    from pyrt.backtest.report import clean

    body = clean(body)
    (out_dir / "sweep.json").write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return body


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("daily", "key", "window", "tag")}
