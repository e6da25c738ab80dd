"""The market-data recorder's cost (`market_data.record`).

    .venv/bin/python benchmarks/md_recorder.py [--rows 20000] [--repeat 5]

1. Publishing path: what recording adds per published payload (`Recorder.add`, a bound
   list append), in ns, against the floor of a bare `list.append` of the same payloads.
2. Writer (executor thread): rows/s that `Recorder.write` turns into Parquet for batches of
   `--rows` quotes (grouping, columns, one row group, the disk bound), against the floor of
   `pyarrow.parquet.write_table` of a ready-made table with the same columns. It must beat
   the feed: the highest quote rate the market-data benchmark sustains is ~60k/s.
Prints each repeat and the medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from pyrt.bus.schema import QuoteMsg  # noqa: E402
from pyrt.services.market_data.recorder import Recorder  # noqa: E402

T0 = 1_704_205_800_000_000_000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import pyarrow as pa
    import pyarrow.parquet as pq

    quotes = [
        QuoteMsg("AAPL" if i % 2 else "MSFT", 100.0 + i * 1e-4, 3.0, 100.02, 4.0, T0 + i * 1000)
        for i in range(args.rows)
    ]
    add_ns, floor_ns, write_rps, floor_rps = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):
            rec = Recorder(Path(tmp) / f"r{k}", 10**10, args.rows, 5.0)
            add = rec.add
            t = time.perf_counter_ns()
            for q in quotes:
                add(q)
            add_ns.append((time.perf_counter_ns() - t) / args.rows)
            plain: list[QuoteMsg] = []
            append = plain.append
            t = time.perf_counter_ns()
            for q in quotes:
                append(q)
            floor_ns.append((time.perf_counter_ns() - t) / args.rows)

            rows = rec.take(0.0)
            t = time.perf_counter()
            rec.write(rows, now_ns=k + 1)
            rec.close()
            write_rps.append(args.rows / (time.perf_counter() - t))
            table = pa.table({
                "timestamp": pa.array([q.ts_ns for q in quotes]).cast(pa.timestamp("ns", tz="UTC")),
                "symbol": pa.array([q.symbol for q in quotes]),
                **{n: pa.array([getattr(q, n) for q in quotes]) for n in ("bid_price", "bid_size", "ask_price", "ask_size")},
            })  # fmt: skip
            t = time.perf_counter()
            pq.write_table(table, Path(tmp) / f"floor{k}.parquet")
            floor_rps.append(args.rows / (time.perf_counter() - t))
            print(f"repeat {k + 1}: add {add_ns[-1]:.1f} ns/row (floor {floor_ns[-1]:.1f}); "
                  f"write {write_rps[-1]:,.0f} rows/s (floor {floor_rps[-1]:,.0f})")  # fmt: skip
    med = statistics.median
    print(f"median: publishing path +{med(add_ns):.1f} ns per payload (floor list.append {med(floor_ns):.1f} ns)")
    print(f"median: writer {med(write_rps):,.0f} rows/s for {args.rows:,}-row batches "
          f"(floor pyarrow write_table of a ready table {med(floor_rps):,.0f} rows/s)")  # fmt: skip


if __name__ == "__main__":
    main()
