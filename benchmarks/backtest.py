"""Backtest throughput: prints bars/s and peak RSS, and in the same run the floor.

Cases, each in its own process (so each peak RSS is its own), on the shared 100k-bar file
(../shared/data/bench/aapl_1m_100k.csv) and on 1M bars (the same file under 10 symbols):
- data:      the engine's loop with no strategy (bars -> clock, marks, equity curve);
- long_only: ema_cross_long_only (fast 10, slow 20, 100 shares), risk checks on;
- reversal:  ema_cross_reversal, same parameters;
- load:      reading and checking the CSV (rows/s).
The floor: a plain Python loop over the same bars doing the strategy's arithmetic (two EMAs
and the decision) and nothing else; the ratio says how much the live cores cost on top.

Fills are at the close (`--fill-at close`), zero fees, 1,000,000 cash: the configuration of
the issue's comparison. Targets (issue 9, 2 cores): long_only >= 200,000 bars/s, reversal
>= 150,000, data >= 1,000,000; the 1M-bar rate within 10 % of the 100k rate; peak RSS <= 500 MB.

Usage: python benchmarks/backtest.py [--repeat 3] [--skip-1m]
       python benchmarks/backtest.py --case long_only --symbols 1 (one case, prints JSON)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import subprocess
import sys
import time
import tomllib
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO.parent / "shared" / "data" / "bench" / "aapl_1m_100k.csv"
PARAMS = {"fast": 10, "slow": 20, "trade_size": 100}
KINDS = {"long_only": "ema_cross_long_only", "reversal": "ema_cross_reversal"}
TARGETS = {"long_only": 200_000, "reversal": 150_000, "data": 1_000_000}


def limits() -> object:
    """The shipped limits with room for 100-share orders on every bar of ten symbols and their
    losses (every check still runs: risk stays on)."""
    from pyrt.config.risk import RiskLimits

    raw = tomllib.loads((REPO / "config" / "risk_limits.toml").read_text())
    raw["position_limits"].update(max_notional_per_position=1e9, max_total_exposure=1e9, allow_shorting=True)
    raw["position_limits"]["max_open_positions"] = 100
    raw["order_validation"].update(max_order_value=1e9)
    raw["circuit_breaker"].update(max_trades_per_day=10**6, max_consecutive_losses=10**6, daily_loss_threshold=10**9)
    raw["loss_limits"].update(max_daily_loss=10**9, max_loss_per_trade=10**9, drawdown_threshold_percent=99.0)
    raw["throttle"].update(max_orders_per_minute=10**4, max_orders_per_symbol_per_minute=10**4)
    return RiskLimits.model_validate(raw)


def widen(data: object, symbols: int) -> object:
    """The 100k bars under `symbols` names (AAPL, S01, ...), merged in time order."""
    import numpy as np

    if symbols == 1:
        return data
    names = tuple(["AAPL"] + [f"S{i:02d}" for i in range(1, symbols)])
    order = sorted(range(symbols), key=lambda i: names[i])
    rank = {i: order.index(i) for i in range(symbols)}
    n = len(data)  # type: ignore[arg-type]
    rep = lambda a: np.repeat(a, symbols)  # noqa: E731
    sym = np.tile(np.array([rank[i] for i in range(symbols)], dtype=np.int32), n)
    by = np.lexsort((sym, rep(data.close_ns)))  # type: ignore[attr-defined]
    fields = {f: rep(getattr(data, f))[by] for f in ("open_ns", "close_ns", "open", "high", "low", "close", "volume")}
    return dataclasses.replace(data, symbols=tuple(sorted(names)), sym=sym[by], **fields)  # type: ignore[type-var]


def run_case(case: str, symbols: int) -> dict[str, object]:
    from pyrt.backtest.data import load_bars

    t0 = time.perf_counter()
    data = load_bars([BENCH])
    load_s = time.perf_counter() - t0
    data = widen(data, symbols)
    if case == "load":
        return {"case": case, "bars": len(data), "seconds": load_s, "rate": 100_000 / load_s}  # type: ignore[arg-type]
    if case == "floor":
        return floor(data)
    from pyrt.backtest.engine import Backtest
    from pyrt.backtest.settings import BacktestSettings
    from pyrt.services.signals.strategies.registry import build_strategies

    specs = (
        []
        if case == "data"
        else [{"name": "ref", "kind": KINDS[case], "symbols": list(data.symbols), "params": PARAMS}]  # type: ignore[attr-defined]
    )
    settings = BacktestSettings(fill_at="close", cash=Decimal(10**9), fees="none")
    engine = Backtest(build_strategies(specs), limits(), data, settings)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    result = engine.run()
    seconds = time.perf_counter() - t0
    return {
        "case": case,
        "bars": len(data),  # type: ignore[arg-type]
        "seconds": seconds,
        "rate": len(data) / seconds,  # type: ignore[arg-type]
        "fills": len(result.fills),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def floor(data: object) -> dict[str, object]:
    """Two EMAs per symbol and the long-only decision, in a plain loop over the same lists."""
    af, asl = 2 / (PARAMS["fast"] + 1), 2 / (PARAMS["slow"] + 1)
    t0 = time.perf_counter()
    n_sym = len(data.symbols)  # type: ignore[attr-defined]
    ef, es, cnt, pos = [0.0] * n_sym, [0.0] * n_sym, [0] * n_sym, [0] * n_sym
    trades = 0
    for chunk in data.chunks():  # type: ignore[attr-defined]
        for _o_ns, _c_ns, si, o, h, lo, c, _v in zip(*chunk, strict=True):
            if cnt[si]:
                ef[si] += af * (c - ef[si])
                es[si] += asl * (c - es[si])
            else:
                ef[si] = es[si] = c
            cnt[si] += 1
            if cnt[si] < PARAMS["slow"] or (o == h == lo == c):
                continue
            if pos[si] == 0 and ef[si] >= es[si]:
                pos[si] = 100
                trades += 1
            elif pos[si] > 0 and ef[si] < es[si]:
                pos[si] = 0
                trades += 1
    seconds = time.perf_counter() - t0
    n = len(data)  # type: ignore[arg-type]
    return {"case": "floor", "bars": n, "seconds": seconds, "rate": n / seconds, "fills": trades}


def measure(case: str, symbols: int, repeat: int) -> dict[str, object]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--case", case, "--symbols", str(symbols)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = dict(runs[0])
    best["rate"] = statistics.median(float(r["rate"]) for r in runs)  # type: ignore[arg-type]
    best["peak_rss_mb"] = max(float(r.get("peak_rss_mb", 0)) for r in runs)  # type: ignore[arg-type]
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", choices=["data", "long_only", "reversal", "load", "floor"])
    ap.add_argument("--symbols", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-1m", action="store_true")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.symbols)))
        return
    sizes = [1] if args.skip_1m else [1, 10]
    rows = []
    for symbols in sizes:
        for case in ("load", "floor", "data", "long_only", "reversal"):
            r = measure(case, symbols, args.repeat)
            rows.append((symbols, r))
            target = TARGETS.get(case)
            print(
                f"{r['bars']:>9,} bars {case:<9} {r['rate']:>11,.0f} bars/s"
                + (f"  fills {r['fills']:>6,}" if "fills" in r else "")
                + (f"  peak RSS {r['peak_rss_mb']:.0f} MB" if r.get("peak_rss_mb") else "")
                + (f"  (target {target:,})" if target else "  (floor)" if case == "floor" else ""),
                flush=True,
            )
    by = {(s, r["case"]): r for s, r in rows}
    for case in ("long_only", "reversal"):
        engine, plain = by[(1, case)]["rate"], by[(1, "floor")]["rate"]
        print(f"{case}: {engine:,.0f} bars/s = {float(engine) / float(plain):.1%} of the plain loop's {plain:,.0f}")  # type: ignore[arg-type]
        if (10, case) in by:
            big = by[(10, case)]["rate"]
            print(f"{case}: 1M-bar rate / 100k-bar rate = {float(big) / float(engine):.2f} (target >= 0.90)")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
