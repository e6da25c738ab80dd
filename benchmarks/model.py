"""Model serving: prints medians and, in the same run, the floor each figure compares with.

Models: a logistic regression and a 500-tree gradient-boosted model, trained by the real
trainer (`pyrt.ops.model_train`) on the shared daily bars (../shared/data/historical), so
the ONNX graphs are the ones `pyrt model train` ships.

- load:      `load_model` (read, sniff, one-thread ORT session, manifest) in ms; target <= 50 ms.
- inference: single-row `LoadedModel.predict_proba` p50/p99 in us over 3,000 calls after a
             warm-up; target p99 <= 100 us for the 500-tree model. Floor: a bare
             `session.run` on a preallocated float32 row (ORT itself, nothing of ours).
- strategy:  one bar through the signal core with the onnx_model strategy (features, model,
             PSI of 8 series over the default 200-bar window every bar,
             health checks, decision) against the same bars through an ema_crossover core
             (the floor): the difference of the medians is the model's added tick-to-intent time.
- swap:      bars paced at 1,000/s through the core while the ModelHost swaps models every
             250 bars (gated load) and rolls back every 500: every bar after warm-up must be
             predicted (no bar dropped); the swap and the rollback time (target < 1 s).

Usage: python benchmarks/model.py [--calls 3000] [--trees 500]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
HISTORICAL = REPO.parent / "shared" / "data" / "historical"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def train_models(out: Path, trees: int) -> dict[str, Path]:
    from pyrt.ops.model_train import build_dataset, read_bar_files, train

    files = [HISTORICAL / f"{s}.csv" for s in ("AAPL", "MSFT", "GOOGL")]
    series, digest = read_bar_files(files)
    ds = build_dataset(series, 1, digest, [str(f) for f in files])
    return {
        "logreg": train(ds, out, name="lr", kind="logreg").path,
        f"gbm-{trees}": train(ds, out, name="gbm", kind="gbm", trees=trees).path,
    }


def bench_load(path: Path) -> float:
    from pyrt.services.signals.model.loader import load_model

    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        load_model(path)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench_inference(path: Path, calls: int) -> tuple[tuple[float, float], tuple[float, float]]:
    import numpy as np

    from pyrt.services.signals.model.loader import load_model

    model = load_model(path)
    rows = np.asarray(model.manifest.parity.inputs, dtype=np.float32)
    ours, floor = [], []
    buf = np.ascontiguousarray(rows[:1])
    name_in = model.session.get_inputs()[0].name
    for i in range(calls + 300):
        row = rows[i % len(rows)]
        t0 = time.perf_counter_ns()
        model.predict_proba(row)
        t1 = time.perf_counter_ns()
        buf[0, :] = row
        t2 = time.perf_counter_ns()
        model.session.run(["probabilities"], {name_in: buf})
        t3 = time.perf_counter_ns()
        if i >= 300:
            ours.append((t1 - t0) / 1e3)
            floor.append((t3 - t2) / 1e3)
    return (pct(ours, 0.5), pct(ours, 0.99)), (pct(floor, 0.5), pct(floor, 0.99))


def _bars(n: int) -> list[object]:
    import csv

    from pyrt.domain.market import Bar

    rows = []
    with (HISTORICAL / "AAPL.csv").open() as f:
        rows = [(float(r["high"]), float(r["low"]), float(r["close"])) for r in csv.DictReader(f)]
    out = []
    for i in range(n):
        h, lo, c = rows[i % len(rows)]
        out.append(Bar("AAPL", c, h, lo, c, 1e6, 1_700_000_000_000_000_000 + i * 60_000_000_000))
    return out


def bench_strategy(path: Path, n: int) -> tuple[float, float, float, float]:
    from pyrt.domain.clock import ManualClock
    from pyrt.services.signals.core import SignalCore
    from pyrt.services.signals.model_host import ModelHost
    from pyrt.services.signals.strategies.ema_crossover import EmaCrossover
    from pyrt.services.signals.strategies.onnx_model import OnnxModelStrategy

    def run(strategy: object) -> list[float]:
        core = SignalCore([strategy], ManualClock(), intent_epoch="b", trading_enabled=False)  # type: ignore[list-item]
        times = []
        for bar in _bars(n):
            t0 = time.perf_counter_ns()
            core.on_bar(bar)
            times.append((time.perf_counter_ns() - t0) / 1e3)
        return times[100:]

    ml = OnnxModelStrategy(
        "ml",
        ["AAPL"],
        {"model_path": str(path), "latency_budget_us": 1e6, "psi_act": 1e9, "psi_warn": 1e9},
    )
    ModelHost([ml], lambda c: None, lambda a, d: None).load_configured()
    model_t = run(ml)
    ema_t = run(EmaCrossover("ema", ["AAPL"], {"fast": 12, "slow": 26}))
    return pct(model_t, 0.5), pct(model_t, 0.99), pct(ema_t, 0.5), pct(ema_t, 0.99)


def bench_swap(paths: list[Path], n: int) -> tuple[int, int, float, float]:
    from pyrt.domain.clock import ManualClock
    from pyrt.services.signals.core import SignalCore
    from pyrt.services.signals.features import WARMUP_BARS
    from pyrt.services.signals.model_host import ModelHost
    from pyrt.services.signals.strategies.onnx_model import OnnxModelStrategy

    ml = OnnxModelStrategy(
        "ml",
        ["AAPL"],
        {"model_path": str(paths[0]), "drift_min_samples": 10**6, "drift_window": 10**6, "latency_budget_us": 1e6},
    )
    host = ModelHost([ml], lambda c: None, lambda a, d: None)
    host.load_configured()
    predicted = [0]
    ml.observer = lambda s, p: predicted.__setitem__(0, predicted[0] + 1)
    core = SignalCore([ml], ManualClock(), intent_epoch="s", trading_enabled=False)
    swaps, rollbacks = [], []
    start = time.perf_counter()
    for i, bar in enumerate(_bars(n)):
        due = start + i / 1000.0  # 1,000 bars per second
        while time.perf_counter() < due:
            pass
        core.on_bar(bar)
        if i and i % 500 == 0:
            t0 = time.perf_counter()
            host.rollback("ml")
            rollbacks.append((time.perf_counter() - t0) * 1e3)
        elif i and i % 250 == 0:
            t0 = time.perf_counter()
            host.load("ml", paths[(i // 250) % len(paths)], why="bench")
            swaps.append((time.perf_counter() - t0) * 1e3)
    expected = n - (WARMUP_BARS - 1)
    return predicted[0], expected, statistics.median(swaps), statistics.median(rollbacks)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--trees", type=int, default=500)
    args = ap.parse_args()
    import logging

    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        models = train_models(Path(tmp), args.trees)
        print(f"trained {', '.join(models)} on the shared daily bars in {time.perf_counter() - t0:.1f} s")
        print(f"{'model':<10} {'load ms':>8} {'p50 us':>8} {'p99 us':>8} | floor (bare session.run) p50/p99 us")
        for name, path in models.items():
            (p50, p99), (f50, f99) = bench_inference(path, args.calls)
            print(f"{name:<10} {bench_load(path):>8.2f} {p50:>8.1f} {p99:>8.1f} | {f50:.1f} / {f99:.1f}")
        print(f"targets: gbm-{args.trees} p99 <= 100 us, load <= 50 ms")
        for name, path in models.items():
            m50, m99, e50, e99 = bench_strategy(path, 3000)
            print(
                f"strategy {name:<10} one bar through the core p50/p99 {m50:.1f}/{m99:.1f} us; "
                f"floor ema_crossover {e50:.1f}/{e99:.1f} us; added by the model p50 {m50 - e50:.1f} us"
            )
        got, want, swap_ms, rollback_ms = bench_swap(list(models.values()), 3000)
        print(
            f"hot swap at 1,000 bars/s: {got}/{want} bars predicted ({want - got} dropped); "
            f"gated swap median {swap_ms:.1f} ms, rollback median {rollback_ms:.2f} ms (target < 1000 ms)"
        )


if __name__ == "__main__":
    main()
