"""`pyrt backtest sweep` and `pyrt backtest walk-forward`: one strategy's parameter sets
through the backtester on local processes (default: every core) or a Dask cluster
(`--dask tcp://HOST:8786`, or PYRT_DASK_SCHEDULER). Results go to `--out`; rerunning the same
command there resumes (finished runs are kept in runs.jsonl)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from pyrt.ops.commands.backtest_flags import (
    CASH_OPTION,
    FEES_OPTION,
    FILL_AT_OPTION,
    FROM_OPTION,
    SLIPPAGE_OPTION,
    SPREAD_OPTION,
    TO_OPTION,
    parse_date,
    run_settings,
)
from pyrt.ops.commands.common import CONFIG_DIR_OPTION, EXIT_USAGE

DASK_ENV = "PYRT_DASK_SCHEDULER"

# the options sweep and walk-forward share (besides the run flags of backtest_flags)
DATA_OPTION = typer.Option([], "--data", help="CSV/Parquet bar files or folders.")
STRATEGY_OPTION = typer.Option(None, "--strategy", help="Strategy in system.json (default: the enabled one).")
RANDOM_OPTION = typer.Option(None, "--random", help="Run N sets drawn from the grid (seeded).")
SEED_OPTION = typer.Option(42, "--seed", help="Seed of the random search.")
WORKERS_OPTION = typer.Option(None, "--workers", help="Local processes (default: every core).")
DASK_OPTION = typer.Option(None, "--dask", envvar=DASK_ENV, help="Dask scheduler, tcp://HOST:8786.")
OUT_OPTION = typer.Option(..., "--out", help="Folder for the results (a rerun there resumes).")


def _plan(job: Any, grid: str, random_n: int | None, seed: int) -> tuple[list[Any], list[str], dict[str, Any]]:
    from pyrt.research.grid import grid_sets, grid_size, parse_grid, random_sets
    from pyrt.research.sweep import check_sets

    space = parse_grid(grid)
    if random_n is None:
        sets, search = grid_sets(space), {"kind": "grid", "grid": grid, "size": grid_size(space)}
    else:
        sets = random_sets(space, random_n, seed)
        search = {"kind": "random", "grid": grid, "size": grid_size(space), "n": random_n, "seed": seed}
    good, refused = check_sets(job, sets)
    if not good:
        raise ValueError(f"grid: the strategy refuses every parameter set, e.g. {refused[0]}")
    return good, refused, search


def _executor(dask: str | None, workers: int | None) -> Any:
    from pyrt.research.executors import DaskPool, LocalPool

    if dask:
        return DaskPool(dask)
    if workers is not None and workers < 1:
        raise typer.BadParameter("must be >= 1", param_hint="--workers")
    return LocalPool(workers)


def register(app: typer.Typer) -> None:
    from pyrt.ops.commands.backtest import BACKTEST

    @BACKTEST.command("sweep")
    def sweep(
        config_dir: Path = CONFIG_DIR_OPTION,
        data: list[str] = DATA_OPTION,
        strategy: str | None = STRATEGY_OPTION,
        grid: str = typer.Option(..., "--grid", help="Parameter space: 'fast=5..20,slow=20..60:5', 'size=50|100'."),
        random_n: int | None = RANDOM_OPTION,
        seed: int = SEED_OPTION,
        rank: str = typer.Option("sharpe", "--rank", help="Metric ranking the sets (sharpe, total_return, ...)."),
        walk_forward: str | None = typer.Option(
            None, "--walk-forward", help="Walk-forward windows in trading days: train=60d,test=20d,step=20d."
        ),
        workers: int | None = WORKERS_OPTION,
        dask: str | None = DASK_OPTION,
        start: str | None = FROM_OPTION,
        end: str | None = TO_OPTION,
        cash: str = CASH_OPTION,
        fill_at: str = FILL_AT_OPTION,
        fees: str = FEES_OPTION,
        spread_bps: float = SPREAD_OPTION,
        slippage_bps: str = SLIPPAGE_OPTION,
        out: Path = OUT_OPTION,
        as_json: bool = typer.Option(False, "--json", help="Print sweep.json / walk_forward.json's summary as JSON."),
    ) -> None:
        """Run every parameter set of one strategy (or walk forward over windows)."""
        _sweep(locals())

    @BACKTEST.command("walk-forward")
    def walk_forward_cmd(
        config_dir: Path = CONFIG_DIR_OPTION,
        data: list[str] = DATA_OPTION,
        strategy: str | None = STRATEGY_OPTION,
        grid: str = typer.Option(..., "--grid", help="Parameter space: 'fast=5..20,slow=20..60:5'."),
        windows: str = typer.Option(
            "train=60d,test=20d,step=20d", "--windows", help="Windows in trading days: train=60d,test=20d,step=20d."
        ),
        random_n: int | None = RANDOM_OPTION,
        seed: int = SEED_OPTION,
        rank: str = typer.Option("sharpe", "--rank", help="Metric choosing each window's winner."),
        workers: int | None = WORKERS_OPTION,
        dask: str | None = DASK_OPTION,
        start: str | None = FROM_OPTION,
        end: str | None = TO_OPTION,
        cash: str = CASH_OPTION,
        fill_at: str = FILL_AT_OPTION,
        fees: str = FEES_OPTION,
        spread_bps: float = SPREAD_OPTION,
        slippage_bps: str = SLIPPAGE_OPTION,
        out: Path = OUT_OPTION,
        as_json: bool = typer.Option(False, "--json", help="Print walk_forward.json as JSON."),
    ) -> None:
        """Walk forward: optimise on each training window, test the winner on the next one
        (the same as `pyrt backtest sweep --walk-forward ...`)."""
        args = dict(locals())
        args["walk_forward"] = args.pop("windows")
        _sweep(args)


def _sweep(a: dict[str, Any]) -> None:
    import json

    from pyrt.backtest.data import BarDataError
    from pyrt.domain.errors import BadInput
    from pyrt.ops.commands.common import load_or_exit
    from pyrt.research.sweep import build_job

    cfg = load_or_exit(a["config_dir"])
    try:
        settings = run_settings(a["cash"], a["fill_at"], a["fees"], a["spread_bps"], a["slippage_bps"])
        wf = None
        if a["walk_forward"]:
            from pyrt.research.walk_forward import parse_walk_forward

            wf = parse_walk_forward(a["walk_forward"])
        executor = _executor(a["dask"], a["workers"])
        job = build_job(
            a["config_dir"],
            a["data"],
            a["strategy"],
            settings,
            parse_date(a["start"], "--from"),
            parse_date(a["end"], "--to"),
            cfg,
        )
        sets, refused, search = _plan(job, a["grid"], a["random_n"], a["seed"])
        quiet = a["as_json"]
        if not quiet:
            typer.echo(
                f"{len(sets)} parameter set(s) of {job.spec['name']} on {executor.describe()} -> {a['out']}", err=True
            )
        if wf is not None:
            from pyrt.research.walk_forward import run_walk_forward

            body = run_walk_forward(job, sets, wf, executor, a["out"], rank=a["rank"], quiet=quiet)
        else:
            from pyrt.research.sweep_run import run_sweep

            body = run_sweep(job, sets, executor, a["out"], rank=a["rank"], refused=refused, search=search, quiet=quiet)
    except KeyboardInterrupt:
        typer.echo(f"interrupted: finished runs are kept in {a['out'] / 'runs.jsonl'}; rerun to resume", err=True)
        raise typer.Exit(130) from None
    except (BadInput, BarDataError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if a["as_json"]:
        typer.echo(json.dumps(body, indent=2, sort_keys=True))
        return
    _show(body, a["out"], wf is not None)


def _show(body: dict[str, Any], out: Path, walk: bool) -> None:
    diag = body.get("diagnostics") or {}
    if walk:
        typer.echo(f"{'win':>3}  {'train':<23} {'test':<23} {'params':<24} {'IS':>9} {'OOS':>9}")
        rank = body["rank_by"]
        for w in body["windows"]:
            oos = w["out_of_sample"].get(rank)
            typer.echo(
                f"{w['window']:>3}  {' to '.join(w['train']):<23} {' to '.join(w['test']):<23} "
                f"{','.join(f'{k}={v}' for k, v in w['params'].items()):<24} "
                f"{_f(w['in_sample'].get(rank)):>9} {_f(oos):>9}"
            )
        oos = body["out_of_sample"]
        typer.echo(
            f"out of sample: {oos['days']} days, total return {_f(oos['total_return'])}, Sharpe {_f(oos['sharpe'])}; "
            f"walk-forward efficiency {_f(body['walk_forward_efficiency'])}; "
            f"modal set {body['parameter_stability']['modal_set']} "
            f"({_f(body['parameter_stability']['modal_set_share'])} of windows)"
        )
    else:
        from pyrt.research.sweep import rank_rows
        from pyrt.research.sweep_output import ranked_table

        typer.echo(ranked_table(rank_rows(body["ranked"], body["rank_by"]), body["rank_by"]))
        typer.echo(
            f"{body['runs']} run(s) ({body['resumed']} resumed), {len(body['refused'])} set(s) refused, "
            f"{len(body['errors'])} error(s)"
        )
    sig = diag.get("sharpe_significance") or {}
    if sig:
        typer.echo(
            f"deflated Sharpe p = {_f(sig.get('p_value'))} over {sig.get('n_trials')} set(s): "
            + ("significant" if sig.get("significant") else "NOT significant")
        )
    for w in diag.get("warnings", []):
        typer.echo(f"warning: {w}")
    files = ", ".join(body.get("files", []))
    typer.echo(f"results: {out} ({files})")


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)
