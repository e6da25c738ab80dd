"""A parameter sweep: every parameter set of one strategy through the backtester.

`SweepJob` is what every worker needs (the strategy's spec, risk limits, execution and run
settings, the bars); it is built once in the driver and shipped to each worker once (a
process pool's initializer, a Dask scatter/broadcast). A `Task` is one parameter set on all
bars or on a range of them (a walk-forward window); `run_task` runs it and returns a plain
row (JSON-ready) of its figures. A task's `key` hashes the parameter set, the range and the
job's key (data files' sha256, config digest, settings), so a finished row can be reused by
a rerun (`store.py`)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from pyrt.backtest.data import BarData
from pyrt.backtest.engine import Backtest, execution_record
from pyrt.backtest.results import RunResult
from pyrt.backtest.settings import BacktestSettings, SettingsError
from pyrt.config.risk import RiskLimits
from pyrt.config.system import ExecutionConfig
from pyrt.research.diagnostics import daily_returns, sharpe, t_test
from pyrt.research.grid import ParamSet, set_label

METRICS = (
    "sharpe", "total_return", "annual_return", "sortino", "calmar", "max_drawdown", "profit_factor",
    "win_rate", "expectancy", "trades", "exposure", "final_equity",
)  # fmt: skip
RANKABLE = ("sharpe", "total_return", "annual_return", "sortino", "calmar", "max_drawdown", "profit_factor",
            "win_rate", "expectancy", "final_equity")  # fmt: skip


@dataclass(frozen=True, eq=False)
class SweepJob:
    spec: dict[str, Any]  # the swept strategy's entry in system.json (its params the base)
    strategies_dir: str | None
    limits: RiskLimits
    execution: ExecutionConfig
    settings: BacktestSettings
    data: BarData
    base_config: dict[str, Any]  # the report's config section, without "strategies"
    key: str  # sha256 of the data, config and settings

    def spec_with(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.spec, "enabled": True, "params": {**(self.spec.get("params") or {}), **params}}


@dataclass(frozen=True)
class Task:
    params: ParamSet
    window: tuple[int, int] | None = None  # bar indices [lo, hi) of the job's data; None: all
    tag: str = ""  # "w3/train", "w3/test" in a walk-forward
    keep_returns: bool = False  # the row carries the daily returns (stitching a walk-forward)
    key: str = field(default="", compare=False)
    warm_from: int | None = None  # bars [warm_from, window[0]) warm the strategy up first (never traded)


def task_key(
    job_key: str, params: Mapping[str, Any], window: tuple[int, int] | None, keep: bool, warm_from: int | None = None
) -> str:
    parts: list[Any] = [job_key, dict(params), list(window) if window else None, keep]
    if warm_from is not None:
        parts.append(warm_from)
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def make_task(job: SweepJob, params: ParamSet, window: tuple[int, int] | None = None, tag: str = "",
              keep_returns: bool = False, warm_from: int | None = None) -> Task:  # fmt: skip
    if warm_from is not None and (window is None or not 0 <= warm_from <= window[0]):
        raise ValueError(f"warm-up start {warm_from} is not before the window {window}")
    if warm_from is not None and window is not None and warm_from == window[0]:
        warm_from = None  # nothing before the window to warm up on
    key = task_key(job.key, params, window, keep_returns, warm_from)
    return Task(dict(params), window, tag, keep_returns, key, warm_from)


def slice_bars(data: BarData, lo: int, hi: int) -> BarData:
    """Bars [lo, hi) of `data` (views, no copy)."""
    if not 0 <= lo < hi <= len(data):
        raise ValueError(f"bar range [{lo}, {hi}) outside the data's {len(data)} bars")
    s = slice(lo, hi)
    return replace(
        data,
        open_ns=data.open_ns[s], close_ns=data.close_ns[s], sym=data.sym[s], open=data.open[s],
        high=data.high[s], low=data.low[s], close=data.close[s], volume=data.volume[s], problems=[],
    )  # fmt: skip


def backtest_of(
    job: SweepJob, params: Mapping[str, Any], window: tuple[int, int] | None = None, warm_from: int | None = None
) -> Backtest:
    from pyrt.services.signals.strategies.registry import build_strategies

    spec = job.spec_with(params)
    strategies = build_strategies([spec], Path(job.strategies_dir) if job.strategies_dir else None)
    data = job.data if window is None else slice_bars(job.data, *window)
    warmup = slice_bars(job.data, warm_from, window[0]) if window is not None and warm_from is not None else None
    config = {**job.base_config, "strategies": [spec]}
    return Backtest(strategies, job.limits, data, job.settings, job.execution, config, warmup=warmup)


def run_task(job: SweepJob, task: Task) -> dict[str, Any]:
    """One parameter set's figures: a row with `status` "ok", or "error" and the message
    (a bad parameter set is a result, not a crash: the sweep goes on)."""
    row: dict[str, Any] = {"key": task.key, "params": dict(task.params), "tag": task.tag}
    row["window"] = list(task.window) if task.window else None
    try:
        run = backtest_of(job, task.params, task.window, task.warm_from).run()
    except Exception as exc:  # noqa: BLE001 - reported in the row
        return {**row, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
    return {**row, "status": "ok", **figures(run, keep_returns=task.keep_returns)}


def figures(run: RunResult, keep_returns: bool = False) -> dict[str, Any]:
    from pyrt.backtest.report import trades_of
    from pyrt.backtest.summary import build_summary

    summary = build_summary(run, trades_of(run))["summary"]
    rets = daily_returns(run)
    out: dict[str, Any] = {name: _plain(summary.get(name)) for name in METRICS}
    out["sharpe_daily"] = _plain(sharpe(rets))
    out["t_pvalue"] = _plain(t_test(rets).p_value)
    out["days"] = int(rets.size)
    if keep_returns:
        from pyrt.backtest import metrics as m

        days, _ = m.daily_closes(run.equity_ts, run.equity)
        out["daily"] = [[d, float(r)] for d, r in zip(days, rets.tolist(), strict=True)]
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def rank_rows(rows: Sequence[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """The "ok" rows best first by `metric` (max_drawdown: the shallowest first); rows
    without the figure last; ties by parameter label, so the order is reproducible."""
    if metric not in RANKABLE:
        raise SettingsError(f"rank: {metric!r} is not one of {', '.join(RANKABLE)}")
    ok = [r for r in rows if r.get("status") == "ok"]

    def key(r: Mapping[str, Any]) -> tuple[int, float, str]:
        v = r.get(metric)
        return (1, 0.0, set_label(r["params"])) if v is None else (0, -float(v), set_label(r["params"]))

    return sorted(ok, key=key)


def job_key(parts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def build_job(
    config_dir: Path,
    data: Sequence[str],
    strategy: str | None,
    settings: BacktestSettings,
    start: Any = None,
    end: Any = None,
    cfg: Any | None = None,
) -> SweepJob:
    """Config loaded, the strategy chosen (named, or the only enabled one), bars loaded once."""
    from pyrt.backtest.data import load_bars
    from pyrt.backtest.run import chosen_specs, config_digest
    from pyrt.bootstrap import load_app
    from pyrt.services.signals.strategies.registry import build_strategies, strategies_dir

    cfg = cfg if cfg is not None else load_app(config_dir)
    specs = chosen_specs(cfg, [strategy] if strategy else [])
    if len(specs) != 1:
        names = ", ".join(s["name"] for s in specs)
        raise SettingsError(f"strategy: {len(specs)} strategies are enabled ({names}); name the one to sweep")
    spec = specs[0]
    sdir = strategies_dir(cfg)
    symbols = sorted(build_strategies([spec], sdir)[0].symbols)
    if not data:
        raise SettingsError("data: give --data PATH (CSV or Parquet files or folders)")
    bars = load_bars([Path(p) for p in data], start=start, end=end, symbols=symbols)
    missing = [s for s in symbols if s not in bars.symbols]
    if missing:
        raise SettingsError(f"data: no bars for {', '.join(missing)} in {', '.join(s.path for s in bars.sources)}")
    ex = cfg.system.execution
    digest = config_digest(Path(cfg.config_dir))
    base = {
        "risk_limits": cfg.risk.model_dump(mode="json"),
        "execution": execution_record(ex),
        "settings": settings.to_dict(),
        "range": {"from": start.isoformat() if start else None, "to": end.isoformat() if end else None},
        "config_sha256": digest,
    }
    spec_base = {k: v for k, v in spec.items() if k != "params"}
    key = job_key(
        {"sources": [(s.sha256, s.rows) for s in bars.sources], "config": base, "spec": spec_base,
         "params": spec.get("params")}
    )  # fmt: skip
    return SweepJob(spec, str(sdir), cfg.risk, ex, settings, bars, base, key)


def check_sets(job: SweepJob, sets: Sequence[ParamSet]) -> tuple[list[ParamSet], list[str]]:
    """The sets the strategy accepts, and why each other one was refused (e.g. fast >= slow).
    An unknown parameter name refuses the whole sweep (a typo would make every set equal)."""
    from pyrt.services.signals.strategies.registry import build_strategies

    sdir = Path(job.strategies_dir) if job.strategies_dir else None
    good: list[ParamSet] = []
    refused: list[str] = []
    for params in sets:
        try:
            build_strategies([job.spec_with(params)], sdir)
        except Exception as exc:  # noqa: BLE001 - StrategyConfigError and the params' own checks
            text = str(exc)
            if "unknown field" in text or "Object contains unknown field" in text:
                raise SettingsError(f"grid: strategy {job.spec['name']!r} ({job.spec.get('kind')}): {text}") from None
            refused.append(f"{set_label(params)}: {text}")
            continue
        good.append(params)
    return good, refused
