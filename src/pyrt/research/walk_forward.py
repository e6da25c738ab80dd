"""Walk-forward optimisation: on each training window every parameter set runs and the best
(by the rank metric) is tested on the next window, which it has not seen. The out-of-sample
(OOS) daily returns of the test windows are stitched into one equity curve.

Windows are counted in trading days of the data (`train=60d,test=20d,step=20d`; `step`
defaults to `test` and may not be shorter, so the stitched test windows never overlap).
Each window's backtest starts flat and warm: the `train` trading days of bars right before
it (for a test window, its own training window; none before the first one) run through the
strategy first with every intent dropped (`SignalCore.warm_up`), so its indicators are
ready on the window's first bar instead of spending the window's start warming up.

Walk-forward efficiency (Pardo): the OOS mean daily return over the in-sample (IS) one,
both pooled over all windows (None when the in-sample return is not positive). Parameter
stability: per parameter, its winning values, how many distinct, the modal value's share of
windows, and the coefficient of variation for numbers."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyrt.backtest.settings import SettingsError
from pyrt.domain.calendar import trading_day
from pyrt.research.diagnostics import diagnose
from pyrt.research.driver import Executor, run_tasks
from pyrt.research.grid import ParamSet, set_label
from pyrt.research.store import RunStore
from pyrt.research.sweep import SweepJob, make_task, rank_rows

_TERM = re.compile(r"^(train|test|step)=(\d+)d$")


@dataclass(frozen=True)
class WalkSpec:
    train: int  # trading days
    test: int
    step: int


@dataclass(frozen=True)
class Window:
    n: int
    train: tuple[int, int]  # day indices [a, b)
    test: tuple[int, int]


def parse_walk_forward(text: str) -> WalkSpec:
    """`train=60d,test=20d[,step=20d]` (trading days)."""
    got: dict[str, int] = {}
    for term in (t.strip() for t in text.split(",")):
        mt = _TERM.match(term)
        if not mt:
            raise SettingsError(f"walk-forward: {term!r}: expected train=Nd, test=Nd or step=Nd (N trading days)")
        if mt.group(1) in got:
            raise SettingsError(f"walk-forward: {mt.group(1)} is given twice")
        got[mt.group(1)] = int(mt.group(2))
    for need in ("train", "test"):
        if need not in got:
            raise SettingsError(f"walk-forward: {need}=Nd is missing (e.g. train=60d,test=20d,step=20d)")
    spec = WalkSpec(got["train"], got["test"], got.get("step", got["test"]))
    if min(spec.train, spec.test, spec.step) < 1:
        raise SettingsError("walk-forward: train, test and step must be at least 1d")
    if spec.step < spec.test:
        raise SettingsError(
            f"walk-forward: step={spec.step}d is shorter than test={spec.test}d (the out-of-sample windows would overlap)"
        )
    return spec


def plan_windows(n_days: int, spec: WalkSpec) -> list[Window]:
    """Windows whose test part ends within the data; refused when none fits."""
    out: list[Window] = []
    a = 0
    while a + spec.train + spec.test <= n_days:
        b = a + spec.train
        out.append(Window(len(out), (a, b), (b, b + spec.test)))
        a += spec.step
    if not out:
        raise SettingsError(
            f"walk-forward: the data holds {n_days} trading days, fewer than train + test = {spec.train + spec.test}"
        )
    return out


def day_starts(close_ns: np.ndarray) -> tuple[list[str], list[int]]:
    """The trading days of the bars (in order) and each one's first bar index, with the
    number of bars appended (so day i is bars [starts[i], starts[i + 1]))."""
    days: list[str] = []
    starts: list[int] = []
    bucket, day = -1, ""
    for i, t in enumerate(close_ns.tolist()):
        hb = t // 3_600_000_000_000
        if hb != bucket:
            bucket, day = hb, trading_day(t)
        if not days or days[-1] != day:
            days.append(day)
            starts.append(i)
    starts.append(len(close_ns))
    return days, starts


def stability(winners: Sequence[ParamSet]) -> dict[str, Any]:
    names = list(dict.fromkeys(k for w in winners for k in w))
    per: dict[str, Any] = {}
    for n in names:
        vals = [w.get(n) for w in winners]
        count = Counter(map(str, vals))
        mode, mode_n = count.most_common(1)[0]
        nums = [float(v) for v in vals if isinstance(v, (int, float))]
        mean = sum(nums) / len(nums) if nums else 0.0
        cv = float(np.std(nums, ddof=0)) / abs(mean) if len(nums) == len(vals) and mean else None
        per[n] = {"values": vals, "distinct": len(count), "mode": mode, "mode_share": mode_n / len(vals), "cv": cv}
    sets = Counter(set_label(w) for w in winners)
    top, top_n = sets.most_common(1)[0] if sets else ("", 0)
    return {"parameters": per, "modal_set": top, "modal_set_share": top_n / len(winners) if winners else None}


def run_walk_forward(
    job: SweepJob,
    sets: Sequence[ParamSet],
    spec: WalkSpec,
    executor: Executor,
    out_dir: Path,
    *,
    rank: str = "sharpe",
    quiet: bool = False,
) -> dict[str, Any]:
    rank_rows([], rank)
    days, starts = day_starts(job.data.close_ns)
    windows = plan_windows(len(days), spec)
    store = RunStore(out_dir)

    def bars(d: tuple[int, int]) -> tuple[int, int]:
        return starts[d[0]], starts[d[1]]

    def warm(d: tuple[int, int]) -> int:
        return starts[max(0, d[0] - spec.train)]

    train_tasks = [
        make_task(job, p, bars(w.train), f"w{w.n}/train", warm_from=warm(w.train)) for w in windows for p in sets
    ]
    rows, _ = run_tasks(job, train_tasks, executor, store, label="walk-forward train", quiet=quiet)
    by_window: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_window.setdefault(r["tag"], []).append(r)
    winners: list[dict[str, Any]] = []
    for w in windows:
        ranked = rank_rows(by_window.get(f"w{w.n}/train", []), rank)
        if not ranked:
            raise SettingsError(f"walk-forward: no parameter set ran on training window {w.n} (see runs.jsonl)")
        winners.append(ranked[0])
    test_tasks = [
        make_task(job, win["params"], bars(w.test), f"w{w.n}/test", keep_returns=True, warm_from=warm(w.test))
        for w, win in zip(windows, winners, strict=True)
    ]
    tests, _ = run_tasks(job, test_tasks, executor, store, label="walk-forward test", quiet=quiet)
    return _summarise(job, sets, spec, windows, days, winners, tests, rank, executor, out_dir)


def _summarise(
    job: SweepJob,
    sets: Sequence[ParamSet],
    spec: WalkSpec,
    windows: Sequence[Window],
    days: Sequence[str],
    winners: Sequence[dict[str, Any]],
    tests: Sequence[dict[str, Any]],
    rank: str,
    executor: Executor,
    out_dir: Path,
) -> dict[str, Any]:
    from pyrt.backtest.report import clean

    per_window = []
    oos_days: list[str] = []
    oos_returns: list[float] = []
    is_sum = is_n = oos_sum = oos_n = 0.0
    oos_trades = 0
    for w, win, t in zip(windows, winners, tests, strict=True):
        ok = t.get("status") == "ok"
        per_window.append({
            "window": w.n,
            "train": [days[w.train[0]], days[w.train[1] - 1]],
            "test": [days[w.test[0]], days[w.test[1] - 1]],
            "params": win["params"],
            "in_sample": {k: win.get(k) for k in (rank, "sharpe", "total_return", "trades", "days")},
            "out_of_sample": {k: t.get(k) for k in (rank, "sharpe", "total_return", "trades", "days")} if ok
            else {"error": t.get("error")},
        })  # fmt: skip
        is_sum += float(win.get("total_return") or 0.0)
        is_n += int(win.get("days") or 0)
        if ok:
            oos_sum += float(t.get("total_return") or 0.0)
            oos_n += int(t.get("days") or 0)
            oos_trades += int(t.get("trades") or 0)
            for d, r in t.get("daily") or []:
                oos_days.append(d)
                oos_returns.append(float(r))
    is_mean = is_sum / is_n if is_n else 0.0
    oos_mean = oos_sum / oos_n if oos_n else 0.0
    wfe = oos_mean / is_mean if is_mean > 0 else None
    rets = np.asarray(oos_returns, dtype=np.float64)
    cash = float(job.settings.cash)
    equity = (cash * np.cumprod(1.0 + rets)).tolist()
    n_params = len(sets[0]) if sets else 0
    body = {
        "strategy": job.spec["name"],
        "rank_by": rank,
        "executor": executor.describe(),
        "windows_spec": {"train_days": spec.train, "test_days": spec.test, "step_days": spec.step},
        "sets": len(sets),
        "windows": per_window,
        "walk_forward_efficiency": wfe,
        "in_sample_mean_daily_return": is_mean,
        "out_of_sample_mean_daily_return": oos_mean,
        "out_of_sample": {
            "days": len(oos_returns),
            "total_return": float(np.prod(1.0 + rets) - 1.0) if rets.size else 0.0,
            "sharpe": _ann_sharpe(rets),
            "trades": oos_trades,
            "final_equity": equity[-1] if equity else cash,
        },
        "parameter_stability": stability([w["params"] for w in winners]),
        "diagnostics": diagnose(rets, closed_trades=oos_trades, n_params=n_params, n_trials=len(sets)),
        "files": ["runs.jsonl", "walk_forward.json", "oos_equity.csv"],
    }
    body = clean(body)
    (out_dir / "walk_forward.json").write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    lines = ["day,equity,return"] + [
        f"{d},{e:.2f},{r:.10f}" for d, e, r in zip(oos_days, equity, oos_returns, strict=True)
    ]
    (out_dir / "oos_equity.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return body


def _ann_sharpe(rets: np.ndarray) -> float | None:
    if rets.size < 2:
        return None
    sd = float(np.std(rets, ddof=1))
    return float(np.mean(rets)) / sd * math.sqrt(252) if sd > 0 else None
