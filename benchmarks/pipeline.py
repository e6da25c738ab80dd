"""Pipeline benchmark: prints its figures.

1. Tick-to-submit latency through the real processes: the sim broker streams quotes at
   --rate quotes/s (default 1,000) to market-data; a benchmark strategy in the signal
   bridge turns every Nth quote into an intent; it goes to the risk manager, then to the
   execution engine, which journals it and calls the broker. Latency = the market-data
   receipt of the triggering quote (envelope ts_init, carried as ts_event along the order
   path) → the moment the engine's worker calls submit (journalled with the ack). Run once
   with the journal at synchronous=FULL (the default: an fsync before every order) and
   once at NORMAL (survives process crashes, not power loss), so the fsync's share shows.
   With --stages, each service also writes the order path's stage timestamps
   (PYRT_STAGE_TRACE, pyrt.observability.stages) and the per-stage medians are printed.
2. The floor this machine sets (benchmarks/floor.py): a bus round trip to an idle process
   and a SQLite commit at FULL and NORMAL, i.e. the part no code in py_rt can remove.
3. The highest sustained rate from the sim broker's stream through market-data to a bus
   subscriber with zero loss (benchmarks/md_throughput.py's measure()).

The sim broker runs with a 1 ms market tick, so at 1,000 quotes/s each websocket frame
carries one quote (with the default 10 ms tick a triggering quote waits behind up to nine
others of its frame in every service).

Usage: python benchmarks/pipeline.py [--rate 1000] [--seconds 40] [--every-n 200] [--stages]
                                     [--skip-throughput]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import floor  # noqa: E402  (benchmarks/floor.py, beside this file)

from pyrt.observability import stages  # noqa: E402
from pyrt.persistence.journal import Journal, RecordKind  # noqa: E402
from tests.support.deploy import make_deployment, wait_for  # noqa: E402

RISK_TOML = (REPO / "config" / "risk_limits.toml").read_text()
# the order throttle stays within the engine's submit tier (the request budget below minus its
# reserves), as the config check requires
for key, value in (
    ("max_orders_per_minute = 60", "max_orders_per_minute = 100000"),
    ("max_orders_per_symbol_per_minute = 10", "max_orders_per_symbol_per_minute = 100000"),
    ("max_trades_per_day = 50", "max_trades_per_day = 10000000"),
    ("max_consecutive_losses = 5", "max_consecutive_losses = 10000000"),
):  # round trips lose the spread
    RISK_TOML = RISK_TOML.replace(key, value)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def tick_to_submit(
    rate: float, seconds: float, every_n: int, synchronous: str, workdir: Path, trace: bool = False
) -> dict[str, object]:
    root = workdir / f"pipeline-{synchronous}"
    system = {
        "market_data": {"symbols": ["AAPL"]},
        "sim_broker": {"symbols": ["AAPL"], "quotes_per_second": rate, "initial_cash": 100_000_000, "tick_ms": 1},
        "signals": {
            "strategies": [
                {"name": "bench", "kind": "benchmark_every_n", "symbols": ["AAPL"], "params": {"every_n": every_n}}
            ]
        },
        "execution": {
            "request_budget_per_minute": 1_000_000,
            "cancel_reserve_per_minute": 30,
            "journal_synchronous": synchronous,
        },
        "logging": {"level": "WARNING"},
    }
    config_dir = make_deployment(root, system=system, risk_toml=RISK_TOML)
    env = {**os.environ, "PYRT_CONFIG_DIR": str(config_dir)}
    trace_path = root / "stages.txt"
    if trace:
        env[stages.ENV] = str(trace_path)
    pyrt = [sys.executable, "-m", "pyrt"]
    subprocess.run(
        [*pyrt, "up", "--detach", "--config-dir", str(config_dir)],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    journal_path = root / "data" / "journal.db"
    try:
        wait_for(journal_path.exists, 30, "journal")
        time.sleep(2.0)  # warm-up, discarded below
        t_start = time.time_ns()
        time.sleep(seconds)
        t_end = time.time_ns()
    finally:
        subprocess.run(
            [*pyrt, "down", "--config-dir", str(config_dir)],
            cwd=root,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
    ticks: dict[str, int] = {}
    latencies: list[float] = []
    with Journal(journal_path, read_only=True) as journal:
        for r in journal.iter_records():
            if r.kind == RecordKind.SUBMIT_SENT and r.payload.get("tick_ns"):
                ticks[r.client_order_id] = r.payload["tick_ns"]
            elif r.kind == RecordKind.ACK and "submit_call_ns" in r.payload and r.client_order_id in ticks:
                tick = ticks[r.client_order_id]
                if t_start <= tick <= t_end:
                    latencies.append((r.payload["submit_call_ns"] - tick) / 1000.0)
    if not latencies:
        raise RuntimeError("no orders measured: is the pipeline trading?")
    result: dict[str, object] = {
        "orders": len(latencies),
        "p50_us": statistics.median(latencies),
        "p99_us": pct(latencies, 0.99),
        "max_us": max(latencies),
    }
    if trace and trace_path.exists():
        result["stages"] = stages.breakdown(trace_path.read_text().splitlines(), (t_start, t_end))
    return result


def print_stages(breakdown: dict[str, list[float]]) -> None:
    for name, values in breakdown.items():
        if values:
            print(f"      {name:<32} p50 {statistics.median(values):7.0f} us  p90 {pct(values, 0.9):7.0f} us")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=1000.0, help="quotes per second from the sim broker")
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--every-n", type=int, default=200, help="one intent per N quotes (200: 5 orders/s)")
    ap.add_argument("--stages", action="store_true", help="print where the time goes, stage by stage")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"tick-to-submit at {args.rate:,.0f} quotes/s, one order per {args.every_n} quotes, {args.seconds:.0f} s:"
        )
        for mode in ("FULL", "NORMAL"):
            r = tick_to_submit(args.rate, args.seconds, args.every_n, mode, Path(tmp), trace=args.stages)
            print(
                f"  journal synchronous={mode:<6} orders {r['orders']:5d}  p50 {r['p50_us']:8.0f} us  "
                f"p99 {r['p99_us']:8.0f} us  max {r['max_us']:8.0f} us"
            )
            if "stages" in r:
                print_stages(r["stages"])  # type: ignore[arg-type]
        print("floor on this machine (targets: p50 <= 250 us, p99 <= 1 ms):")
        floor.report(floor.measure(Path(tmp)), 200.0)
        if not args.skip_throughput:
            print("market-data throughput (sim broker stream -> market-data -> bus subscriber, zero loss):")
            subprocess.run(
                [sys.executable, str(REPO / "benchmarks" / "md_throughput.py"), "--repeat", "2"], check=False
            )


if __name__ == "__main__":
    main()
