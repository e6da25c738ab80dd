"""The market-data recorder (`market_data.record`): what the service publishes (quotes,
trades, bars), written to Parquet, one folder per New York date:

    <path>/<YYYY-MM-DD>/{quotes,trades,bars}-<opened ns>-<seq>.parquet

The publishing path only appends the published payload to a list (`add`); the service's
periodic task takes the buffer when `flush_rows` rows wait or `flush_interval_s` passed
(`due`/`take`) and writes it on an executor thread (`write`): one row group per kind into
that day's open file of the kind, a new file after `ROTATE_NS` of writing, on a new day or
past an eighth of `max_disk_mb`,
then deletes the oldest files while the folder holds more than `max_disk_mb` (open files
stay). A file is complete (readable) once closed: at rotation and at `close()` (the
service's stop). pyarrow is imported by `write` only: a service that does not record never
loads it.

Bars files have the backtester's bar columns (timestamp as tz-aware UTC, symbol, open,
high, low, close, volume) and declare their 1Min timeframe, so `load_bars` reads them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pyrt.bus.schema import BarMsg, QuoteMsg, TradeMsg
from pyrt.domain.calendar import NEW_YORK

KINDS = ("quotes", "trades", "bars")
SUFFIX = ".parquet"
TIMEFRAME_META = {b"pyrt_timeframe": b"1Min"}  # bar_files.TIMEFRAME_META_KEY: the stream's bars are minute bars
ROTATE_NS = 15 * 60 * 1_000_000_000  # a file is closed (and a new one started) after this long
Payload = QuoteMsg | TradeMsg | BarMsg


def ny_date(ts_ns: int) -> date:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=NEW_YORK).date()


def day_dir(root: Path, day: date) -> Path:
    return root / day.isoformat()


def day_files(root: Path, day: date, kind: str) -> list[Path]:
    """A recorded day's files of one kind, in the order they were written."""
    folder = day_dir(root, day)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.name.startswith(f"{kind}-") and p.name.endswith(SUFFIX)]
    return sorted(found, key=lambda p: written_order(p.name))


def written_order(name: str) -> tuple[int, int]:
    """(opened ns, seq) of a recorded file's name `kind-<ns>-<seq>.parquet`, (0, 0) if not one."""
    parts = name[: -len(SUFFIX)].split("-")
    try:
        return int(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return 0, 0


@dataclass
class WriteResult:
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    deleted: list[Path] = field(default_factory=list)
    total_bytes: int = 0


class Recorder:
    def __init__(self, root: Path, max_bytes: int, flush_rows: int, flush_interval_s: float) -> None:
        if max_bytes <= 0 or flush_rows <= 0 or flush_interval_s <= 0:
            raise ValueError("recorder: max_bytes, flush_rows and flush_interval_s must be > 0")
        self.root = root
        self.max_bytes = max_bytes
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self.buffer: list[Payload] = []
        self.add = self.buffer.append  # the hot path: one list append per published payload
        self._last_take = 0.0
        self._seq = 0
        self._open: dict[tuple[str, date], _OpenFile] = {}

    @classmethod
    def from_config(cls, record: Any) -> Recorder:
        return cls(Path(record.path), int(record.max_disk_mb * 1024 * 1024), record.flush_rows, record.flush_interval_s)

    def due(self, now_s: float) -> bool:
        """Time to write: enough rows wait, or some rows waited the interval (monotonic s)."""
        n = len(self.buffer)
        return n >= self.flush_rows or (n > 0 and now_s - self._last_take >= self.flush_interval_s)

    def take(self, now_s: float) -> list[Payload]:
        """The rows to write (the buffer is emptied in place: `add` stays bound)."""
        rows = self.buffer[:]
        self.buffer.clear()
        self._last_take = now_s
        return rows

    # ------------------------------------------------------------------ executor thread
    def write(self, rows: Iterable[Payload], now_ns: int) -> WriteResult:
        """One Parquet file per (kind, New York date) of `rows`, then the size bound."""
        groups: dict[tuple[str, date], list[Payload]] = {}
        rows = list(rows)
        if rows:
            first, last = ny_date(rows[0].ts_ns), ny_date(rows[-1].ts_ns)
            for r in rows:
                kind = "quotes" if type(r) is QuoteMsg else "trades" if type(r) is TradeMsg else "bars"
                day = first if first == last else ny_date(r.ts_ns)
                groups.setdefault((kind, day), []).append(r)
        out = WriteResult(rows=len(rows))
        newest = max((d for _, d in groups), default=None)
        for key, f in list(self._open.items()):
            old = now_ns - f.opened_ns >= ROTATE_NS or (newest is not None and key[1] < newest)
            if old or f.arrow_bytes >= self.max_bytes // 8:  # open files are never deleted: keep them small
                self._close(key)
        for (kind, day), items in sorted(groups.items()):
            out.files.append(self._append(kind, day, items, now_ns))
        keep = {f.path for f in self._open.values()}
        out.deleted, out.total_bytes = enforce_limit(self.root, self.max_bytes, keep=keep)
        return out

    def close(self) -> None:
        """Close every open file (they become readable)."""
        for key in list(self._open):
            self._close(key)

    def open_files(self) -> list[Path]:
        return [f.path for f in self._open.values()]

    def _append(self, kind: str, day: date, items: list[Payload], now_ns: int) -> Path:
        table = _table(kind, items)
        key = (kind, day)
        if key not in self._open:
            import pyarrow.parquet as pq  # type: ignore[import-untyped]

            self._seq += 1
            path = day_dir(self.root, day) / f"{kind}-{now_ns}-{self._seq:06d}{SUFFIX}"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._open[key] = _OpenFile(pq.ParquetWriter(path, table.schema), path, now_ns)
        f = self._open[key]
        f.writer.write_table(table)
        f.arrow_bytes += table.nbytes  # in memory, before compression: an upper bound of the file's growth
        return f.path

    def _close(self, key: tuple[str, date]) -> None:
        self._open.pop(key).writer.close()


@dataclass
class _OpenFile:
    writer: Any  # pyarrow.parquet.ParquetWriter
    path: Path
    opened_ns: int
    arrow_bytes: int = 0


def _table(kind: str, items: list[Any]) -> Any:
    import pyarrow as pa

    ts = pa.array([r.ts_ns for r in items], type=pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
    cols: dict[str, Any] = {"timestamp": ts, "symbol": pa.array([r.symbol for r in items], type=pa.string())}
    names: tuple[str, ...]
    if kind == "quotes":
        names = ("bid_price", "bid_size", "ask_price", "ask_size")
    elif kind == "trades":
        names = ("price", "size")
        cols["trade_id"] = pa.array([r.trade_id for r in items], type=pa.int64())
    else:
        names = ("open", "high", "low", "close", "volume", "vwap")
        cols["trade_count"] = pa.array([r.trade_count for r in items], type=pa.int64())
    for name in names:
        cols[name] = pa.array([getattr(r, name) for r in items], type=pa.float64())
    table = pa.table(cols)
    if kind == "bars":
        table = table.replace_schema_metadata(TIMEFRAME_META)
    return table


def enforce_limit(
    root: Path, max_bytes: int, keep: set[Path] | frozenset[Path] = frozenset()
) -> tuple[list[Path], int]:
    """Delete the oldest recorded files (oldest day first, then oldest written) while the
    folder holds more than `max_bytes`; `keep` are never deleted. Empty day folders go too.
    Returns the deleted files and the bytes left."""
    files: list[tuple[str, tuple[int, int], Path, int]] = []
    if root.is_dir():
        for folder in root.iterdir():
            if not folder.is_dir():
                continue
            for f in folder.iterdir():
                if f.name.endswith(SUFFIX) and f.name.split("-", 1)[0] in KINDS:
                    files.append((folder.name, written_order(f.name), f, f.stat().st_size))
    files.sort()
    total = sum(size for *_, size in files)
    deleted: list[Path] = []
    for _, _, f, size in files:
        if total <= max_bytes:
            break
        if f in keep:
            continue
        f.unlink(missing_ok=True)
        deleted.append(f)
        total -= size
    for folder in {f.parent for f in deleted}:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return deleted, total
