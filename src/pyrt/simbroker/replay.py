"""Replay of historical bars as a market: quotes walking through each bar, then the bar.

Reads CSV files shaped like `data/historical/*.csv` (timestamp,symbol,open,high,low,close,
volume[,vwap,trade_count]) or Parquet files with the same columns (pyarrow is imported only
for those). Pure: the caller passes elapsed wall time in and paces the events itself.
"""

from __future__ import annotations

import csv
import heapq
import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from pyrt.domain.errors import BadInput
from pyrt.domain.market import Bar, Quote
from pyrt.simbroker.market import LOT, symbol_key

REQUIRED_COLUMNS = ("timestamp", "symbol", "open", "high", "low", "close", "volume")
OPTIONAL_COLUMNS = ("vwap", "trade_count")
DEFAULT_BAR_NS = 60_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_BAR, _QUOTE = 0, 1  # at equal times a bar's close comes before the next bar's first quote

ReplayEvent = Quote | Bar


class ReplayDataError(BadInput, ValueError):
    """A replay file could not be read; the message names the file, line (or row) and column."""

    def __init__(self, path: Path, where: str, column: str | None, problem: str) -> None:
        self.path, self.where, self.column = path, where, column
        col = f", column {column!r}" if column else ""
        super().__init__(f"{path}: {where}{col}: {problem}")


def parse_timestamp_ns(text: str) -> int:
    """ISO-8601 with a UTC offset or Z (`2024-11-01 04:00:00+00:00`, `2024-01-02T14:30:00Z`)
    to UTC nanoseconds."""
    dt = datetime.fromisoformat(text.strip())
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return (dt - _EPOCH) // _US * 1000


def _bar_from(get: Callable[[str], Any], fail: Callable[[str, str], ReplayDataError]) -> Bar:
    """Build and check one bar; `get(column)` returns the raw value, `fail` makes the error."""

    def number(column: str, minimum: float, default: float | None = None) -> float:
        raw = get(column)
        if default is not None and (raw is None or raw == ""):
            return default
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise fail(column, f"not a number: {raw!r}") from None
        if not math.isfinite(value) or value < minimum:
            raise fail(column, f"{value!r} is out of range (must be finite and >= {minimum})")
        return value

    raw_ts = get("timestamp")
    if isinstance(raw_ts, int):
        ts_ns = raw_ts
    else:
        try:
            ts_ns = parse_timestamp_ns(raw_ts)
        except (TypeError, ValueError) as exc:
            raise fail("timestamp", f"bad timestamp {raw_ts!r} ({exc})") from None
    symbol = get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise fail("symbol", f"missing symbol {symbol!r}")
    o, h, lo, c = (number(col, 1e-9) for col in ("open", "high", "low", "close"))
    if lo > min(o, c):
        raise fail("low", f"low {lo} is above min(open, close) = {min(o, c)}")
    if h < max(o, c):
        raise fail("high", f"high {h} is below max(open, close) = {max(o, c)}")
    volume = number("volume", 0.0)
    count = number("trade_count", 0.0, default=0.0)
    vwap = number("vwap", 0.0, default=0.0)
    return Bar(symbol.strip(), o, h, lo, c, volume, ts_ns, int(count), vwap)


def _check_header(path: Path, columns: list[str], where: str) -> None:
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            raise ReplayDataError(path, where, column, f"missing column (found {columns})")


def read_csv_bars(path: Path) -> list[tuple[Bar, int]]:
    """Bars of one CSV file, each with its line number (the header is line 1)."""
    out: list[tuple[Bar, int]] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [name.strip() for name in next(reader, [])]
        _check_header(path, header, "line 1")
        known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
        index = {name: i for i, name in enumerate(header) if name in known}
        i_ts, i_sym, i_o, i_h, i_l, i_c, i_v = (index[name] for name in REQUIRED_COLUMNS)
        i_vwap, i_n = index.get("vwap"), index.get("trade_count")
        for row in reader:
            if not row:  # blank line
                continue
            line = reader.line_num
            if len(row) != len(header):
                problem = f"expected {len(header)} fields, got {len(row)}"
                raise ReplayDataError(path, f"line {line}", None, problem)
            try:  # fast path for well-formed rows; anything odd goes to the checking parser
                o, h, lo, c = float(row[i_o]), float(row[i_h]), float(row[i_l]), float(row[i_c])
                v = float(row[i_v])
                vwap = float(row[i_vwap]) if i_vwap is not None and row[i_vwap] else 0.0
                count = float(row[i_n]) if i_n is not None and row[i_n] else 0.0
                symbol = row[i_sym].strip()
                if not (
                    symbol
                    and 0 < lo <= min(o, c)
                    and max(o, c) <= h < math.inf
                    and 0 <= v < math.inf
                    and 0 <= vwap < math.inf
                    and 0 <= count < math.inf
                    and o == o
                    and c == c
                ):
                    raise ValueError
                bar = Bar(symbol, o, h, lo, c, v, parse_timestamp_ns(row[i_ts]), int(count), vwap)
            except ValueError:

                def fail(column: str, problem: str, line: int = line) -> ReplayDataError:
                    return ReplayDataError(path, f"line {line}", column, problem)

                def get(col: str, row: list[str] = row) -> str | None:
                    return row[index[col]] if col in index else None

                bar = _bar_from(get, fail)
            out.append((bar, line))
    return out


def read_parquet_bars(path: Path) -> list[tuple[Bar, int]]:
    """Bars of one Parquet file, each with its row number (counting from 1)."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    table = pq.read_table(path)
    _check_header(path, table.column_names, "schema")
    columns: dict[str, list[Any]] = {}
    for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
        if name not in table.column_names:
            continue
        column = table.column(name)
        if name == "timestamp" and pa.types.is_timestamp(column.type):
            column = pc.cast(pc.cast(column, pa.timestamp("ns", tz=column.type.tz)), pa.int64())
        columns[name] = column.to_pylist()
    out: list[tuple[Bar, int]] = []
    for i in range(table.num_rows):

        def fail(column: str, problem: str, i: int = i) -> ReplayDataError:
            return ReplayDataError(path, f"row {i + 1}", column, problem)

        def get(col: str, i: int = i) -> Any:
            return columns[col][i] if col in columns else None

        out.append((_bar_from(get, fail), i + 1))
    return out


def load_bars(path: str | Path) -> tuple[list[tuple[Bar, int]], str]:
    """Bars of a .csv or .parquet file with their positions, and the position's unit
    ("line" for CSV, "row" for Parquet)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv_bars(path), "line"
    if suffix in (".parquet", ".pq"):
        return read_parquet_bars(path), "row"
    raise ReplayDataError(path, "file", None, "unsupported file type (expected .csv or .parquet)")


class ReplayMarket:
    """Historical bars replayed as quotes and bars, in time order across symbols.

    For each bar, `quotes_per_bar` quotes walk open -> low -> high -> close (an up bar) or
    open -> high -> low -> close (a down bar) at evenly spaced times from the bar's start,
    with `spread_bps` around the path price; the Bar itself follows at the bar's end. A
    bar lasts `bar_duration_ns`, or, when that is None, the smallest gap between two bars of
    its symbol (60 s for a lone bar), never running past the next bar.

    `speed` maps data time to wall time: 1.0 real time, 60 sixty times faster, 0 or None as
    fast as possible (every event is due at once). Offsets count from the first bar's start.
    """

    def __init__(
        self,
        paths: str | Path | Iterable[str | Path],
        speed: float | None = 1.0,
        spread_bps: float = 2.0,
        quotes_per_bar: int = 4,
        bar_duration_ns: int | None = None,
    ) -> None:
        if speed is not None and speed < 0:
            raise ValueError("speed must be >= 0 (0 or None: as fast as possible)")
        if quotes_per_bar < 1 or spread_bps <= 0:
            raise ValueError("need quotes_per_bar >= 1 and spread_bps > 0")
        self.speed = speed or 0.0
        self.spread_bps = spread_bps
        self.quotes_per_bar = quotes_per_bar
        self._bars: dict[str, list[Bar]] = {}
        seen: dict[tuple[str, int], tuple[Path, str, int]] = {}
        for path in map(Path, [paths] if isinstance(paths, str | Path) else paths):
            rows, unit = load_bars(path)
            for bar, position in rows:
                key = (bar.symbol, bar.ts_ns)
                if key in seen:
                    first = "{} {} {}".format(*seen[key])
                    problem = f"duplicate bar (first: {first})"
                    raise ReplayDataError(path, f"{unit} {position}", "timestamp", problem)
                seen[key] = (path, unit, position)
                self._bars.setdefault(bar.symbol, []).append(bar)
        if not self._bars:
            raise ValueError("no bars in the replay files")
        for bars in self._bars.values():
            bars.sort(key=lambda b: b.ts_ns)
        self._starts = {s: [b.ts_ns for b in bars] for s, bars in self._bars.items()}
        self._ends = {s: self._bar_ends(self._starts[s], bar_duration_ns) for s in self._bars}
        self.start_ns = min(starts[0] for starts in self._starts.values())
        self.end_ns = max(ends[-1] for ends in self._ends.values())
        self._cursor: Iterator[tuple[int, ReplayEvent]] = self.events()
        self._pending: tuple[int, ReplayEvent] | None = None

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols in the loaded data, sorted."""
        return tuple(sorted(self._bars))

    def bars(self, symbol: str, start_ns: int, end_ns: int, limit: int | None = None) -> list[Bar]:
        """Loaded bars of `symbol` starting within [start_ns, end_ns], oldest first."""
        starts = self._starts.get(symbol)
        if starts is None:
            return []
        lo, hi = bisect_left(starts, start_ns), bisect_right(starts, end_ns)
        if limit is not None:
            hi = min(hi, lo + limit)
        return self._bars[symbol][lo:hi]

    def due_offset_ns(self, event_ts_ns: int) -> int:
        """Wall-time offset from the replay start at which data time `event_ts_ns` is due."""
        return 0 if not self.speed else round((event_ts_ns - self.start_ns) / self.speed)

    def replay_time_ns(self, elapsed_wall_ns: int) -> int:
        """The data time reached after `elapsed_wall_ns` of wall time (end when unpaced)."""
        if not self.speed:
            return self.end_ns
        return min(self.start_ns + round(elapsed_wall_ns * self.speed), self.end_ns)

    def events(self) -> Iterator[tuple[int, ReplayEvent]]:
        """A fresh iterator of (due_offset_ns, event) over the whole replay, in time order."""
        streams = [self._symbol_events(symbol) for symbol in sorted(self._bars)]
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=itemgetter(0, 1, 2))
        if not self.speed:
            for _, _, _, event in merged:
                yield 0, event
            return
        for ts, _, _, event in merged:
            yield round((ts - self.start_ns) / self.speed), event

    def events_until(self, elapsed_wall_ns: int, max_events: int | None = None) -> list[ReplayEvent]:
        """The not yet returned events due by `elapsed_wall_ns` (at most `max_events`)."""
        out: list[ReplayEvent] = []
        while max_events is None or len(out) < max_events:
            nxt = self._pending or next(self._cursor, None)
            if nxt is None or nxt[0] > elapsed_wall_ns:
                self._pending = nxt
                break
            self._pending = None
            out.append(nxt[1])
        return out

    def next_due_ns(self) -> int | None:
        """Due offset of the next event `events_until` would return; None when done."""
        if self._pending is None:
            self._pending = next(self._cursor, None)
        return None if self._pending is None else self._pending[0]

    def rewind(self) -> None:
        """Start `events_until` again from the beginning."""
        self._cursor, self._pending = self.events(), None

    def _symbol_events(self, symbol: str) -> Iterator[tuple[int, int, str, ReplayEvent]]:
        n, bars, ends = self.quotes_per_bar, self._bars[symbol], self._ends[symbol]
        ts, bid, bid_size, ask, ask_size = self._quote_columns(symbol)
        for i, bar in enumerate(bars):
            for j in range(i * n, i * n + n):
                quote = Quote(symbol, bid[j], bid_size[j], ask[j], ask_size[j], ts[j])
                yield ts[j], _QUOTE, symbol, quote
            yield ends[i], _BAR, symbol, bar

    def _quote_columns(self, symbol: str) -> tuple[list[Any], ...]:
        """(ts, bid, bid_size, ask, ask_size) of every quote of `symbol`, computed with numpy."""
        n, bars = self.quotes_per_bar, self._bars[symbol]
        ohlc = np.array([(b.open, b.high, b.low, b.close) for b in bars])
        up = ohlc[:, 3] >= ohlc[:, 0]
        first = np.where(up, ohlc[:, 2], ohlc[:, 1])  # up bars visit the low first
        second = np.where(up, ohlc[:, 1], ohlc[:, 2])
        path = np.column_stack([ohlc[:, 0], first, second, ohlc[:, 3]])
        x = np.linspace(0.0, 3.0, n) if n > 1 else np.zeros(1)
        seg = np.minimum(x.astype(np.int64), 2)
        mids = path[:, seg] + (path[:, seg + 1] - path[:, seg]) * (x - seg)
        half = mids * (self.spread_bps * 1e-4 / 2)
        bid = np.maximum(np.round(mids - half, 2), 0.01)
        ask = np.maximum(np.round(mids + half, 2), np.round(bid + 0.01, 2))
        starts = np.array(self._starts[symbol], dtype=np.int64)
        spans = np.array(self._ends[symbol], dtype=np.int64) - starts
        ts = starts[:, None] + (spans[:, None] * np.arange(n)) // n
        # Row j of the sizes is drawn j-th, so a quote's sizes do not depend on later bars.
        rng = np.random.default_rng(symbol_key(symbol))
        sizes = LOT * rng.integers(1, 21, size=(len(bars) * n, 2))
        return (
            ts.ravel().tolist(),
            bid.ravel().tolist(),
            sizes[:, 0].astype(float).tolist(),
            ask.ravel().tolist(),
            sizes[:, 1].astype(float).tolist(),
        )

    @staticmethod
    def _bar_ends(starts: list[int], duration_ns: int | None) -> list[int]:
        gaps = [b - a for a, b in pairwise(starts)]
        duration = duration_ns or (min(gaps) if gaps else DEFAULT_BAR_NS)
        return [min(s + duration, nxt) for s, nxt in zip(starts, [*starts[1:], 2**63], strict=True)]
