"""CSV bar files: pyarrow's parser first; a file it refuses, or whose rows do not map one
to one onto its lines (blank lines, quoted line breaks), is read again with the csv module
so every problem keeps its exact line (header = line 1)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from pyrt.backtest.bar_files import (
    PRICE_COLUMNS,
    REQUIRED,
    BarDataError,
    RawBars,
    float_column,
    merge_marks,
    stamp_column,
    stamps_from_python,
    stamps_from_text,
    symbol_codes,
    symbol_from_name,
)


def _header(path: Path, data: bytes) -> list[str]:
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].decode("utf-8-sig", errors="replace").strip("\r")
    names = [c.strip() for c in next(csv.reader([first]), [])]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise BarDataError(
            f"{path}, line 1: missing column(s) {', '.join(missing)} "
            f"(expected timestamp,symbol,open,high,low,close,volume; symbol may come from the file name)"
        )
    return names


def read_csv(path: Path, data: bytes, digest: str) -> RawBars:
    if not data or data.isspace():
        raise BarDataError(f"{path}: the file is empty")
    names = _header(path, data)
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    fast = _csv_fast(path, data, digest, names)
    if fast is not None and len(fast) == lines - 1:
        return fast
    return _csv_slow(path, data, digest, names)


def _csv_fast(path: Path, data: bytes, digest: str, names: list[str]) -> RawBars | None:
    """pyarrow's parser: stamps parsed as it reads (text again if any does not parse), no
    compute kernel on the common path (their first use costs ~50 MB of memory)."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.csv as pcsv  # type: ignore[import-untyped]

    has_symbol = "symbol" in names
    wanted = [c for c in (*REQUIRED, "symbol") if c in names]
    for ts_type in (pa.timestamp("ns", tz="UTC"), pa.string()):
        types: dict[str, Any] = {"timestamp": ts_type, **{c: pa.float64() for c in PRICE_COLUMNS}}
        if has_symbol:
            types["symbol"] = pa.dictionary(pa.int32(), pa.string())
        try:
            table = pcsv.read_csv(
                pa.py_buffer(data),
                read_options=pcsv.ReadOptions(use_threads=True),
                convert_options=pcsv.ConvertOptions(
                    column_types=types, include_columns=wanted, strings_can_be_null=True
                ),
            )
            break
        except pa.ArrowException:  # a value it cannot convert, a ragged row, a header it reads otherwise
            continue
    else:
        return None
    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    problems: list[tuple[int, str]] = []
    cols = {c: float_column(table[c], c, bad, problems) for c in PRICE_COLUMNS}
    stamp_bad, notes = np.zeros(n, dtype=bool), list[tuple[int, str]]()
    if pa.types.is_timestamp(table["timestamp"].type):
        ts_ns = stamp_column(table["timestamp"], stamp_bad, notes)
    else:
        ts_ns = stamps_from_text(path, table["timestamp"], stamp_bad, notes, lambda i: i + 2, "line")
    if has_symbol:
        codes, sym_names = symbol_codes(table["symbol"], stamp_bad, notes)
    else:
        codes, sym_names = np.zeros(n, dtype=np.int32), [symbol_from_name(path)]
    merge_marks(bad, problems, stamp_bad, notes)
    line = np.arange(2, n + 2, dtype=np.int64)
    return RawBars(path, digest, "csv", line, ts_ns, codes, sym_names, cols, bad, problems, stamp_bad)


def _csv_slow(path: Path, data: bytes, digest: str, names: list[str]) -> RawBars:
    """The csv module, row by row: exact line numbers whatever the file holds."""
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    at = {c: names.index(c) for c in names if c in (*REQUIRED, "symbol")}
    has_symbol = "symbol" in at
    default_symbol = None if has_symbol else symbol_from_name(path)
    lines: list[int] = []
    stamps: list[str | None] = []
    syms: list[str] = []
    values: dict[str, list[float]] = {c: [] for c in PRICE_COLUMNS}
    bad_rows: list[bool] = []
    problems: list[tuple[int, str]] = []
    start_line = reader.line_num + 1
    for row in reader:
        line = start_line
        start_line = reader.line_num + 1
        if not row or all(not f.strip() for f in row):
            continue
        i = len(lines)
        lines.append(line)
        bad = False
        if len(row) != len(names):
            problems.append((i, f"{len(row)} fields, the header has {len(names)}"))
            bad = True
        stamps.append(_field(row, at["timestamp"]) or None)
        sym = default_symbol if default_symbol is not None else _field(row, at["symbol"]).upper()
        if not sym and not bad:
            problems.append((i, "symbol: empty value"))
            bad = True
        syms.append(sym)
        for c in PRICE_COLUMNS:
            raw = _field(row, at[c])
            try:
                v = float(raw)
                if not math.isfinite(v):
                    raise ValueError
            except ValueError:
                if not bad:
                    problems.append((i, f"{c}: cannot parse {raw[:40]!r}" if raw else f"{c}: empty value"))
                bad = True
                v = math.nan
            values[c].append(v)
        bad_rows.append(bad)
    line_arr = np.array(lines, dtype=np.int64)
    bad_arr = np.array(bad_rows, dtype=bool)
    stamp_bad, notes = np.array([not s for s in syms], dtype=bool), list[tuple[int, str]]()
    ts_ns = stamps_from_python(path, stamps, stamp_bad, notes, lambda i: int(line_arr[i]), "line")
    merge_marks(bad_arr, problems, stamp_bad, notes)
    sym_names = sorted({s for s in syms if s})
    index = {s: k for k, s in enumerate(sym_names)}
    codes = np.array([index.get(s, 0) for s in syms], dtype=np.int32)
    cols = {c: np.array(v, dtype=np.float64) for c, v in values.items()}
    return RawBars(path, digest, "csv", line_arr, ts_ns, codes, sym_names, cols, bad_arr, problems, stamp_bad)


def _field(row: list[str], k: int) -> str:
    return row[k].strip() if k < len(row) else ""
