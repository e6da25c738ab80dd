"""The backtest's bar loader: rows/s to load the shared 100k-bar file and 1M bars (the file
as 10 symbols), rows/s to iterate `BarData.chunks()` the way the engine does, and in the
same run the floors they compare with: a plain csv-module loop parsing the same file (load)
and a loop over ready-made Python tuples (iteration). Medians of `--repeat` runs.

    .venv/bin/python benchmarks/backtest_data.py [--file ../shared/data/bench/aapl_1m_100k.csv]
                                                 [--repeat 5] [--symbols 10]
"""

from __future__ import annotations

import argparse
import csv
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from pyrt.backtest.data import BarData, load_bars  # noqa: E402

SHARED_FILE = REPO.parent / "shared" / "data" / "bench" / "aapl_1m_100k.csv"


def median_s(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def iterate(data: BarData) -> int:
    """The engine's loop shape: zip over each chunk's lists, unpack the eight fields."""
    n = 0
    for chunk in data.chunks():
        for _o_ns, _c_ns, _si, _o, _h, _lo, _c, _v in zip(*chunk, strict=True):
            n += 1
    return n


def csv_floor(path: Path) -> int:
    """A plain csv-module loop: parse every row's stamp and numbers, keep nothing."""
    n = 0
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            datetime.fromisoformat(row[0])
            float(row[2]), float(row[3]), float(row[4]), float(row[5]), float(row[6])
            n += 1
    return n


def tuple_floor(rows: list[tuple[int, int, int, float, float, float, float, float]]) -> int:
    n = 0
    for _o_ns, _c_ns, _si, _o, _h, _lo, _c, _v in rows:
        n += 1
    return n


def extended(path: Path, symbols: int, into: Path) -> list[Path]:
    """The file once per symbol (SYM00, SYM01, ...): symbols x its rows."""
    text = path.read_text()
    out = []
    for k in range(symbols):
        target = into / f"SYM{k:02d}.csv"
        target.write_text(text.replace(",AAPL,", f",SYM{k:02d},"))
        out.append(target)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=SHARED_FILE)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--symbols", type=int, default=10)
    args = ap.parse_args()
    path: Path = args.file
    if not path.is_file():
        raise SystemExit(f"{path}: not found (the shared 100k-bar file)")

    load_bars([path])  # warm up: pyarrow's import and thread pool
    data = load_bars([path])
    n = len(data)
    load_s = median_s(lambda: load_bars([path]), args.repeat)
    iter_s = median_s(lambda: iterate(data), args.repeat)
    floor_s = median_s(lambda: csv_floor(path), max(1, args.repeat // 2))
    rows = [row for chunk in data.chunks() for row in zip(*chunk, strict=True)]
    tuple_s = median_s(lambda: tuple_floor(rows), args.repeat)
    print(f"bars: {n:,} in {path.name} ({data.timeframe}, {len(data.symbols)} symbol)")
    print(
        f"load        {n / load_s:>12,.0f} rows/s  ({load_s * 1000:.1f} ms)   floor csv-module loop {n / floor_s:>12,.0f} rows/s"
    )
    print(
        f"iterate     {n / iter_s:>12,.0f} rows/s  ({iter_s * 1000:.1f} ms)   floor tuple loop      {n / tuple_s:>12,.0f} rows/s"
    )

    with tempfile.TemporaryDirectory(prefix="bt-data-") as tmp:
        files = extended(path, args.symbols, Path(tmp))
        big = load_bars(files)
        m = len(big)
        big_load_s = median_s(lambda: load_bars(files), max(1, args.repeat // 2))
        big_iter_s = median_s(lambda: iterate(big), max(1, args.repeat // 2))
        print(f"bars: {m:,} in {len(files)} files ({len(big.symbols)} symbols)")
        print(f"load        {m / big_load_s:>12,.0f} rows/s  ({big_load_s * 1000:.1f} ms)")
        print(f"iterate     {m / big_iter_s:>12,.0f} rows/s  ({big_iter_s * 1000:.1f} ms)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS    {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
