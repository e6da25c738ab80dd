"""One bar file as columns, before any check of the bars: the shape `bar_csv` and
`bar_parquet` read a file into and `data.load_bars` builds a run from, and the column
conversions both readers share. Values that do not parse are recorded as problems of
their row (row index, message), never dropped silently. pyarrow is imported inside the
functions: these modules stay cheap to import."""

from __future__ import annotations

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
    """The rows of one file as columns. `ts_ns` and `sym_code` are valid where `stamp_bad`
    is False, the prices where `bad` is False; `problems` holds (row index, message) of
    every bad row, one per row."""

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


def symbol_from_name(path: Path) -> str:
    name = path.stem.strip().upper()
    if not name:
        raise BarDataError(f"{path}: no symbol column and no symbol in the file name")
    return name


def null_mask(column: Any) -> np.ndarray:
    return np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def float_column(column: Any, name: str, bad: np.ndarray, problems: list[tuple[int, str]]) -> np.ndarray:
    """A float64 column as numpy; nulls (empty cells) are NaN and problems of their rows."""
    if not column.null_count:
        return np.asarray(column.to_numpy(), dtype=np.float64)
    nulls = null_mask(column)
    problems.extend((int(i), f"{name}: empty value") for i in np.flatnonzero(nulls & ~bad))
    bad |= nulls
    return np.asarray(column.fill_null(math.nan).to_numpy(), dtype=np.float64)


def stamp_column(column: Any, bad: np.ndarray, problems: list[tuple[int, str]]) -> np.ndarray:
    """A timestamp[ns, UTC] column as int64 nanoseconds; nulls are problems of their rows."""
    if column.null_count:
        nulls = null_mask(column)
        problems.extend((int(i), "timestamp: empty value") for i in np.flatnonzero(nulls))
        bad |= nulls
        column = column.fill_null(0)
    values: np.ndarray = np.asarray(column.to_numpy()).astype("datetime64[ns]").view(np.int64)
    return values


def merge_marks(
    bad: np.ndarray, problems: list[tuple[int, str]], marks: np.ndarray, notes: list[tuple[int, str]]
) -> None:
    """Add the stamp/symbol problems `notes` of rows not already bad (one problem per row)."""
    problems.extend((i, m) for i, m in notes if not bad[i])
    bad |= marks


def symbol_codes(column: Any, bad: np.ndarray, problems: list[tuple[int, str]]) -> tuple[np.ndarray, list[str]]:
    """Row codes into a sorted list of cleaned (stripped, upper-case) symbol names, chunk by
    chunk (each chunk has its own dictionary); empty symbols are problems of their rows."""
    import pyarrow as pa  # type: ignore[import-untyped]

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
            raw = np.where(null_mask(indices), -1, np.asarray(indices.fill_null(0).to_numpy(), dtype=np.int64))
            parts.append(np.where(raw < 0, -1, lookup[np.maximum(raw, 0)]))
        else:
            parts.append(lookup[np.asarray(indices.to_numpy(), dtype=np.int64)])
    codes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    empty = codes < 0
    problems.extend((int(i), "symbol: empty value") for i in np.flatnonzero(empty & ~bad))
    bad |= empty
    return np.where(empty, 0, codes).astype(np.int32), sym_names


def stamps_from_text(
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
    return stamps_from_python(path, texts, bad, problems, line_of, unit)


def stamps_from_python(
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
