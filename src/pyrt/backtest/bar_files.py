"""Reading one bar file (CSV or Parquet) into columns, before any check of the bars: what
`data.load_bars` builds a run from.

CSV goes through pyarrow's parser (fast path); a file pyarrow refuses, or whose rows do
not map one to one onto its lines (blank lines, quoted line breaks), is read again with the
csv module so every problem keeps its exact line. Values that do not parse are recorded
as problems of their row (line number, message), never dropped silently. pyarrow is
imported inside the functions: this module stays cheap to import."""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pyrt.domain.errors import BadInput

REQUIRED = ("timestamp", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
TIMEFRAME_META_KEY = b"pyrt_timeframe"  # a Parquet file may declare its timeframe (our cache does)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


class BarDataError(BadInput, ValueError):
    """Bar data that cannot be used as it is; the message names the file (and line)."""


@dataclass
class RawBars:
    """The rows of one file as columns. `ts_ns` is valid where `bad` is False; `problems`
    holds (row index, message) of the rows that did not parse."""

    path: Path
    sha256: str
    kind: str  # "csv" | "parquet"
    line: np.ndarray  # int64: the row's line (CSV, header = 1) or 1-based row number (Parquet)
    ts_ns: np.ndarray  # int64
    sym_code: np.ndarray  # int32 into `sym_names`
    sym_names: list[str]
    cols: dict[str, np.ndarray]  # open, high, low, close, volume: float64
    bad: np.ndarray  # bool: the row did not parse (later: or broke a rule)
    problems: list[tuple[int, str]]
    stamp_bad: np.ndarray  # bool: the row's stamp or symbol did not parse (the rest may still tell the timeframe)
    declared_timeframe: str | None = None

    def where(self, i: int) -> str:
        """`path, line N` (CSV) or `path, row N` (Parquet) of row `i`."""
        unit = "line" if self.kind == "csv" else "row"
        return f"{self.path}, {unit} {int(self.line[i])}"

    def __len__(self) -> int:
        return len(self.ts_ns)


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files of `paths`: a directory stands for every .csv/.parquet in it (sorted, not recursive)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in (".csv", ".parquet"))
            if not found:
                raise BarDataError(f"{p}: the directory holds no .csv or .parquet file")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise BarDataError(f"{p}: no such file or directory")
    return out


def read_file(path: Path) -> RawBars:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if path.suffix.lower() == ".parquet":
        return _read_parquet(path, data, digest)
    return _read_csv(path, data, digest)


def symbol_from_name(path: Path) -> str:
    name = path.stem.strip().upper()
    if not name:
        raise BarDataError(f"{path}: no symbol column and no symbol in the file name")
    return name


# ------------------------------------------------------------------ CSV
def _header(path: Path, data: bytes) -> list[str]:
    first = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip("\r")
    names = [c.strip() for c in next(csv.reader([first]), [])]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise BarDataError(
            f"{path}, line 1: missing column(s) {', '.join(missing)} "
            f"(expected timestamp,symbol,open,high,low,close,volume; symbol may come from the file name)"
        )
    return names


def _read_csv(path: Path, data: bytes, digest: str) -> RawBars:
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
    cols = {c: _floats(table[c], c, bad, problems) for c in PRICE_COLUMNS}
    stamp_bad, notes = np.zeros(n, dtype=bool), list[tuple[int, str]]()
    if pa.types.is_timestamp(table["timestamp"].type):
        ts_ns = _stamps(table["timestamp"], stamp_bad, notes)
    else:
        ts_ns = _ts_from_strings(path, table["timestamp"], stamp_bad, notes, lambda i: i + 2, "line")
    if has_symbol:
        codes, sym_names = _symbols_from_dictionary(table["symbol"], stamp_bad, notes)
    else:
        codes, sym_names = np.zeros(n, dtype=np.int32), [symbol_from_name(path)]
    _merge_marks(bad, problems, stamp_bad, notes)
    line = np.arange(2, n + 2, dtype=np.int64)
    return RawBars(path, digest, "csv", line, ts_ns, codes, sym_names, cols, bad, problems, stamp_bad)


def _null_mask(column: Any) -> np.ndarray:
    return np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _floats(column: Any, name: str, bad: np.ndarray, problems: list[tuple[int, str]]) -> np.ndarray:
    """A float64 column as numpy; nulls (empty cells) are NaN and problems of their rows."""
    if not column.null_count:
        return np.asarray(column.to_numpy(), dtype=np.float64)
    nulls = _null_mask(column)
    problems.extend((int(i), f"{name}: empty value") for i in np.flatnonzero(nulls & ~bad))
    bad |= nulls
    return np.asarray(column.fill_null(math.nan).to_numpy(), dtype=np.float64)


def _stamps(column: Any, bad: np.ndarray, problems: list[tuple[int, str]]) -> np.ndarray:
    """A timestamp[ns, UTC] column as int64 nanoseconds; nulls are problems of their rows."""
    if column.null_count:
        nulls = _null_mask(column)
        problems.extend((int(i), "timestamp: empty value") for i in np.flatnonzero(nulls))
        bad |= nulls
        column = column.fill_null(0)
    values: np.ndarray = np.asarray(column.to_numpy()).astype("datetime64[ns]").view(np.int64)
    return values


def _merge_marks(
    bad: np.ndarray, problems: list[tuple[int, str]], marks: np.ndarray, notes: list[tuple[int, str]]
) -> None:
    """Add the stamp/symbol problems `notes` of rows not already bad (one problem per row)."""
    problems.extend((i, m) for i, m in notes if not bad[i])
    bad |= marks


def _symbols_from_dictionary(
    column: Any, bad: np.ndarray, problems: list[tuple[int, str]]
) -> tuple[np.ndarray, list[str]]:
    """Row codes into a sorted list of cleaned (stripped, upper-case) symbol names, chunk by
    chunk (each chunk has its own dictionary); empty symbols are problems of their rows."""
    import pyarrow as pa

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    chunks = [c if pa.types.is_dictionary(c.type) else c.dictionary_encode() for c in chunks]
    per_chunk = [[str(s or "").strip().upper() for s in c.dictionary.to_pylist()] for c in chunks]
    sym_names = sorted({s for names in per_chunk for s in names if s})
    index = {s: k for k, s in enumerate(sym_names)}
    parts = []
    for chunk, names in zip(chunks, per_chunk, strict=True):
        lookup = np.array([index.get(s, -1) for s in names] or [-1], dtype=np.int64)
        indices = chunk.indices
        if indices.null_count:
            raw = np.where(_null_mask(indices), -1, np.asarray(indices.fill_null(0).to_numpy(), dtype=np.int64))
            parts.append(np.where(raw < 0, -1, lookup[np.maximum(raw, 0)]))
        else:
            parts.append(lookup[np.asarray(indices.to_numpy(), dtype=np.int64)])
    codes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    empty = codes < 0
    problems.extend((int(i), "symbol: empty value") for i in np.flatnonzero(empty & ~bad))
    bad |= empty
    return np.where(empty, 0, codes).astype(np.int32), sym_names


def _ts_from_strings(
    path: Path, column: Any, bad: np.ndarray, problems: list[tuple[int, str]], line_of: Any, unit: str
) -> np.ndarray:
    """UTC nanoseconds of ISO-8601 stamps with an offset. Naive stamps refuse the file
    (they could be any zone); unparsable ones are problems of their rows."""
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    try:
        cast = pc.cast(column, pa.timestamp("ns", tz="UTC"))
        nulls = np.asarray(cast.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        values = np.asarray(cast.cast(pa.int64()).fill_null(0).to_numpy(), dtype=np.int64)
        for i in np.flatnonzero(nulls & ~bad):
            problems.append((int(i), "timestamp: empty value"))
        bad |= nulls
        return values
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    texts = column.to_pylist()
    return _ts_from_python(path, texts, bad, problems, line_of, unit)


def _ts_from_python(
    path: Path, texts: list[Any], bad: np.ndarray, problems: list[tuple[int, str]], line_of: Any, unit: str
) -> np.ndarray:
    out = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        if text is None or not str(text).strip():
            if not bad[i]:
                problems.append((i, "timestamp: empty value"))
            bad[i] = True
            continue
        try:
            dt = datetime.fromisoformat(str(text).strip())
        except ValueError:
            if not bad[i]:
                problems.append((i, f"timestamp: cannot parse {str(text)[:40]!r}"))
            bad[i] = True
            continue
        if dt.tzinfo is None:
            raise BarDataError(
                f"{path}, {unit} {line_of(i)}: timestamp {text!r} has no timezone: the bars' times are ambiguous "
                f"(write them in UTC with an offset or Z, e.g. 2024-01-02T14:30:00Z)"
            )
        out[i] = (dt - _EPOCH) // _US * 1000
    return out


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
    ts_ns = _ts_from_python(path, stamps, stamp_bad, notes, lambda i: int(line_arr[i]), "line")
    _merge_marks(bad_arr, problems, stamp_bad, notes)
    sym_names = sorted({s for s in syms if s})
    index = {s: k for k, s in enumerate(sym_names)}
    codes = np.array([index.get(s, 0) for s in syms], dtype=np.int32)
    cols = {c: np.array(v, dtype=np.float64) for c, v in values.items()}
    return RawBars(path, digest, "csv", line_arr, ts_ns, codes, sym_names, cols, bad_arr, problems, stamp_bad)


def _field(row: list[str], k: int) -> str:
    return row[k].strip() if k < len(row) else ""


# ------------------------------------------------------------------ Parquet
def _read_parquet(path: Path, data: bytes, digest: str) -> RawBars:
    import pyarrow as pa
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
            arr = table[c].cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise BarDataError(f"{path}: column {c} is {table[c].type}, not a number") from None
        nulls = np.asarray(arr.is_null().to_numpy(), dtype=bool) if arr.null_count else np.zeros(n, dtype=bool)
        for i in np.flatnonzero(nulls & ~bad):
            problems.append((int(i), f"{c}: empty value"))
        bad |= nulls
        cols[c] = np.asarray(arr.fill_null(math.nan).to_numpy(), dtype=np.float64)
    ts_col = table["timestamp"]
    stamp_bad, notes = np.zeros(n, dtype=bool), list[tuple[int, str]]()
    if pa.types.is_timestamp(ts_col.type):
        if ts_col.type.tz is None:
            raise BarDataError(
                f"{path}: column timestamp has no timezone: the bars' times are ambiguous (store tz-aware UTC stamps)"
            )
        cast = ts_col.cast(pa.timestamp("ns", tz="UTC"))
        nulls = np.asarray(cast.is_null().to_numpy(), dtype=bool)
        notes.extend((int(i), "timestamp: empty value") for i in np.flatnonzero(nulls))
        stamp_bad |= nulls
        ts_ns = np.asarray(cast.cast(pa.int64()).fill_null(0).to_numpy(), dtype=np.int64)
    elif pa.types.is_string(ts_col.type) or pa.types.is_large_string(ts_col.type):
        ts_ns = _ts_from_strings(path, ts_col, stamp_bad, notes, lambda i: i + 1, "row")
    else:
        raise BarDataError(f"{path}: column timestamp is {ts_col.type}; expected a tz-aware timestamp or ISO-8601 text")
    if "symbol" in names:
        codes, sym_names = _symbols_from_dictionary(table["symbol"], stamp_bad, notes)
    else:
        codes, sym_names = np.zeros(n, dtype=np.int32), [symbol_from_name(path)]
    _merge_marks(bad, problems, stamp_bad, notes)
    meta = table.schema.metadata or {}
    declared = meta.get(TIMEFRAME_META_KEY)
    line = np.arange(1, n + 1, dtype=np.int64)
    return RawBars(
        path, digest, "parquet", line, ts_ns, codes, sym_names, cols, bad, problems, stamp_bad,
        declared.decode() if declared else None,
    )  # fmt: skip
