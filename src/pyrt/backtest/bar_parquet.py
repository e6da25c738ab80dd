"""Parquet bar files: the CSV columns, the timestamp as a tz-aware timestamp or ISO-8601
text; rows are named by their 1-based row number. A file may declare its timeframe in its
schema metadata (`TIMEFRAME_META_KEY`, our Alpaca cache does)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pyrt.backtest.bar_files import (
    PRICE_COLUMNS,
    REQUIRED,
    TIMEFRAME_META_KEY,
    BarDataError,
    RawBars,
    float_column,
    merge_marks,
    stamp_column,
    stamps_from_text,
    symbol_codes,
    symbol_from_name,
)


def read_parquet(path: Path, data: bytes, digest: str) -> RawBars:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as err:
        raise BarDataError(f"{path}: not a readable Parquet file ({err})") from None
    names = table.column_names
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise BarDataError(f"{path}: missing column(s) {', '.join(missing)}")
    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    problems: list[tuple[int, str]] = []
    cols: dict[str, np.ndarray] = {}
    for c in PRICE_COLUMNS:
        try:
            cols[c] = float_column(table[c].cast(pa.float64()), c, bad, problems)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise BarDataError(f"{path}: column {c} is {table[c].type}, not a number") from None
    ts_col = table["timestamp"]
    stamp_bad, notes = np.zeros(n, dtype=bool), list[tuple[int, str]]()
    if pa.types.is_timestamp(ts_col.type):
        if ts_col.type.tz is None:
            raise BarDataError(
                f"{path}: column timestamp has no timezone: the bars' times are ambiguous (store tz-aware UTC stamps)"
            )
        ts_ns = stamp_column(ts_col.cast(pa.timestamp("ns", tz="UTC")), stamp_bad, notes)
    elif pa.types.is_string(ts_col.type) or pa.types.is_large_string(ts_col.type):
        ts_ns = stamps_from_text(path, ts_col, stamp_bad, notes, lambda i: i + 1, "row")
    else:
        raise BarDataError(f"{path}: column timestamp is {ts_col.type}; expected a tz-aware timestamp or ISO-8601 text")
    if "symbol" in names:
        codes, sym_names = symbol_codes(table["symbol"], stamp_bad, notes)
    else:
        codes, sym_names = np.zeros(n, dtype=np.int32), [symbol_from_name(path)]
    merge_marks(bad, problems, stamp_bad, notes)
    meta = table.schema.metadata or {}
    declared = meta.get(TIMEFRAME_META_KEY)
    line = np.arange(1, n + 1, dtype=np.int64)
    return RawBars(
        path, digest, "parquet", line, ts_ns, codes, sym_names, cols, bad, problems, stamp_bad,
        declared.decode() if declared else None,
    )  # fmt: skip
