"""A day recorded by the market-data recorder (`services/market_data/recorder.py`) as
backtest input: its bar files merged into one (a bar repeated across files, e.g. an updated
bar, keeps its last version) and loaded by `load_bars` with the usual checks."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import numpy as np

from pyrt.backtest.data import BarData, load_bars
from pyrt.domain.errors import BadInput
from pyrt.services.market_data.recorder import TIMEFRAME_META, day_dir, day_files


class NoRecording(BadInput, ValueError):
    """Nothing (usable) was recorded for the day asked for."""


def recorded_bars(root: Path, day: date, symbols: list[str] | None = None) -> BarData:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    files = day_files(root, day, "bars")
    if not files:
        where = day_dir(root, day)
        days = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise NoRecording(
            f"no recorded bars for {day.isoformat()} in {where} (recorded days: {', '.join(days[-10:]) or 'none'}; "
            f"is market_data.record.enabled on?)"
        )
    tables = []
    for f in files:
        try:
            tables.append(pq.read_table(f))
        except (pa.ArrowInvalid, OSError) as exc:  # a file still open (the service is running) has no footer
            raise NoRecording(f"{f}: not readable ({exc}); a file being written is complete once the recorder closes it "
                              f"(after 15 minutes, at a new day or at the service's stop)") from None  # fmt: skip
    table = pa.concat_tables(tables, promote_options="default")
    # the last version of each (symbol, timestamp)
    key = pc.binary_join_element_wise(
        table["symbol"], pc.cast(pc.cast(table["timestamp"], pa.int64()), pa.string()), "|"
    )
    last = {k: i for i, k in enumerate(key.to_pylist())}
    table = table.take(sorted(last.values())).replace_schema_metadata(TIMEFRAME_META)
    with tempfile.TemporaryDirectory(prefix="pyrt-replay-") as tmp:
        merged = Path(tmp) / f"bars-{day.isoformat()}.parquet"
        pq.write_table(table, merged)
        return load_bars([merged], symbols=symbols)


def has_quotes(root: Path, day: date) -> bool:
    return bool(day_files(root, day, "quotes"))


def recorded_quotes(root: Path, day: date, symbols: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The day's recorded quotes per symbol: (time ns, bid, ask), in time order ({} when
    none were recorded; unreadable files are skipped: quotes only refine the report)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for f in day_files(root, day, "quotes"):
        try:
            tables.append(pq.read_table(f, columns=["timestamp", "symbol", "bid_price", "ask_price"]))
        except (pa.ArrowInvalid, OSError):
            continue
    if not tables:
        return {}
    table = pa.concat_tables(tables)
    ts = table["timestamp"].cast(pa.int64()).to_numpy()
    sym = np.array(table["symbol"].to_pylist())
    bid, ask = table["bid_price"].to_numpy(), table["ask_price"].to_numpy()
    out = {}
    for s in symbols:
        rows = np.flatnonzero(sym == s)
        order = rows[np.argsort(ts[rows], kind="stable")]
        out[s] = (ts[order], bid[order], ask[order])
    return out
