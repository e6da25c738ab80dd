"""The bars a backtest runs on: CSV and Parquet files (and Alpaca downloads cached as
Parquet, `alpaca_history.py`) merged into parallel numpy arrays in the order bars become
visible.

A bar is stamped with its open time and becomes visible at its close: intraday bars at
stamp + timeframe, daily bars (stamped at New York midnight, as Alpaca stamps them) at that
day's NYSE close, early closes included. The timeframe is inferred from the stamps; a file
whose stamps are ambiguous is refused. Bad rows are reported with file and line and refuse
the load unless `skip_bad=True`, which drops and counts them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path

import numpy as np

from pyrt.backtest.bar_checks import NYSE, TIMEFRAME_NS, check_aligned, check_rows, infer_timeframe
from pyrt.backtest.bar_csv import read_csv
from pyrt.backtest.bar_files import BarDataError, RawBars, expand_paths
from pyrt.backtest.bar_parquet import read_parquet
from pyrt.backtest.results import DataSource
from pyrt.domain.calendar import NEW_YORK, NS_PER_DAY, NS_PER_S

__all__ = ["BarData", "BarDataError", "load_bars"]

PROBLEMS_SHOWN = 10  # in the error that refuses a load
Chunk = tuple[list[int], list[int], list[int], list[float], list[float], list[float], list[float], list[float]]


@dataclass(frozen=True, eq=False)
class BarData:
    """Bars sorted by (close_ns, symbol index): the order they become visible."""

    symbols: tuple[str, ...]  # index -> symbol, sorted
    timeframe: str  # "1Min", "5Min", "15Min", "1Hour", "1Day"
    timeframe_ns: int
    open_ns: np.ndarray  # int64: when the bar's trading began
    close_ns: np.ndarray  # int64: when it becomes visible
    sym: np.ndarray  # int32 index into symbols
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    sources: list[DataSource]
    problems: list[str] = field(default_factory=list)  # the bad rows skipped (skip_bad=True), "file, line N: why"

    def __len__(self) -> int:
        return len(self.open_ns)

    def chunks(self, size: int = 65536) -> Iterator[Chunk]:
        """(open_ns, close_ns, sym, open, high, low, close, volume) as Python lists, `size`
        bars at a time (lists zip fast; no object per bar)."""
        for i in range(0, len(self), size):
            j = i + size
            yield (
                self.open_ns[i:j].tolist(),
                self.close_ns[i:j].tolist(),
                self.sym[i:j].tolist(),
                self.open[i:j].tolist(),
                self.high[i:j].tolist(),
                self.low[i:j].tolist(),
                self.close[i:j].tolist(),
                self.volume[i:j].tolist(),
            )

    def regular_hours_only(self) -> bool:
        """True when every bar lies inside a NYSE regular session (daily bars always do)."""
        if self.timeframe == "1Day" or len(self) == 0:
            return True
        # a bar in a session has the same UTC and New York date (sessions are 13:30-21:00 UTC)
        days, inverse = np.unique(self.open_ns // NS_PER_DAY, return_inverse=True)
        bounds = np.array([_session_or_empty(int(d)) for d in days], dtype=np.int64).reshape(-1, 2)
        opens, closes = bounds[inverse, 0], bounds[inverse, 1]
        return bool(np.all((self.open_ns >= opens) & (self.close_ns <= closes)))


def _session_or_empty(utc_day: int) -> tuple[int, int]:
    session = NYSE.session_on(date(1970, 1, 1) + timedelta(days=utc_day))
    return session if session is not None else (1, 0)  # no bar fits [1, 0]


def load_bars(
    paths: Sequence[str | Path],
    *,
    start: date | None = None,
    end: date | None = None,
    symbols: Sequence[str] | None = None,
    skip_bad: bool = False,
) -> BarData:
    """Read, check and merge bar files. `start`/`end` keep the bars whose New York trading
    date is within them (inclusive); `symbols` keeps those symbols. Raises `BarDataError`."""
    files = expand_paths(list(paths))
    if not files:
        raise BarDataError("no bar files given")
    wanted = {s.strip().upper() for s in symbols} if symbols else None
    raws = [_read_checked(p, wanted) for p in files]
    if wanted is not None and not any(len(raw) for raw in raws):
        found = sorted({s for raw in raws for s in raw.sym_names})
        raise BarDataError(
            f"no bars of {', '.join(sorted(wanted))} in {', '.join(map(str, files))} (they hold {', '.join(found) or 'none'})"
        )
    timeframe = _run_timeframe(raws)
    _cross_file_duplicates(raws)
    problems = [f"{raw.where(i)}: {msg}" for raw in raws for i, msg in sorted(raw.problems)]
    if problems and not skip_bad:
        shown = "\n  ".join(problems[:PROBLEMS_SHOWN])
        more = f"\n  ... and {len(problems) - PROBLEMS_SHOWN} more" if len(problems) > PROBLEMS_SHOWN else ""
        raise BarDataError(
            f"{len(problems)} bad row(s) in the bar data (fix them, or skip them with skip_bad / --skip-bad):"
            f"\n  {shown}{more}"
        )
    return _merge(raws, timeframe, start, end, problems)


def _read_checked(path: Path, wanted: set[str] | None) -> RawBars:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    reader = read_parquet if path.suffix.lower() == ".parquet" else read_csv
    raw = reader(path, data, digest)
    del data
    if wanted is not None:
        keep = np.array([s in wanted for s in raw.sym_names] or [False], dtype=bool)[raw.sym_code]
        _take(raw, np.flatnonzero(keep))
    check_rows(raw)
    return raw


def _take(raw: RawBars, rows: np.ndarray) -> None:
    """Keep only `rows` of `raw` (problems are renumbered)."""
    if len(rows) == len(raw):
        return
    new_index = {int(r): k for k, r in enumerate(rows)}
    raw.problems = [(new_index[i], m) for i, m in raw.problems if i in new_index]
    raw.line, raw.ts_ns, raw.sym_code = raw.line[rows], raw.ts_ns[rows], raw.sym_code[rows]
    raw.bad, raw.stamp_bad = raw.bad[rows], raw.stamp_bad[rows]
    raw.cols = {k: v[rows] for k, v in raw.cols.items()}


def _run_timeframe(raws: list[RawBars]) -> str:
    """The one timeframe of the run; files that cannot tell (a row per symbol) must fit it."""
    found: dict[str, Path] = {}
    unknown: list[RawBars] = []
    for raw in raws:
        tf = infer_timeframe(raw)
        if tf is None:
            if (~raw.stamp_bad).any():
                unknown.append(raw)
            continue
        found.setdefault(tf, raw.path)
    if len(found) > 1:
        (tf_a, path_a), (tf_b, path_b) = list(found.items())[:2]
        raise BarDataError(f"mixed timeframes in one run: {path_a} has {tf_a} bars, {path_b} has {tf_b} bars")
    if not found:
        if unknown:
            raise BarDataError(
                f"{unknown[0].path}: a single row per symbol: no way to know the bars' timeframe "
                f"(give more rows, or load it with files that have them)"
            )
        raise BarDataError(f"no bars in {', '.join(str(r.path) for r in raws)}")
    timeframe = next(iter(found))
    for raw in unknown:
        check_aligned(raw, timeframe)
    return timeframe


def _cross_file_duplicates(raws: list[RawBars]) -> None:
    """A (symbol, stamp) given by two files: the later file's row is a duplicate."""
    seen: set[str] = set()
    shared: set[str] = set()
    for raw in raws:
        shared |= seen & set(raw.sym_names)
        seen |= set(raw.sym_names)
    if not shared:  # the common case: each symbol in one file
        return
    names = sorted(seen)
    index = {s: k for k, s in enumerate(names)}
    parts = []
    for f, raw in enumerate(raws):
        good = np.flatnonzero(~raw.bad)
        remap = np.array([index[s] for s in raw.sym_names] or [0], dtype=np.int64)
        parts.append((np.full(len(good), f), good, remap[raw.sym_code[good]], raw.ts_ns[good]))
    file_i, row_i, sym_i, ts = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((row_i, file_i, ts, sym_i))
    s, t = sym_i[order], ts[order]
    dup = np.flatnonzero((s[1:] == s[:-1]) & (t[1:] == t[:-1])) + 1
    for k in dup:
        first = k - 1
        while first > 0 and s[first - 1] == s[k] and t[first - 1] == t[k]:
            first -= 1
        raw, i = raws[int(file_i[order[k]])], int(row_i[order[k]])
        other = raws[int(file_i[order[first]])].where(int(row_i[order[first]]))
        raw.problems.append((i, f"duplicate stamp for {names[int(s[k])]} (also in {other})"))
        raw.bad[i] = True


def _ny_midnight_ns(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=NEW_YORK).timestamp()) * NS_PER_S


def _merge(raws: list[RawBars], timeframe: str, start: date | None, end: date | None, problems: list[str]) -> BarData:
    """One set of arrays in visibility order. Columns are gathered one at a time and each
    file's copy is dropped once used, so the peak stays near one copy of the data."""
    tf_ns = TIMEFRAME_NS[timeframe]
    lo = _ny_midnight_ns(start) if start is not None else None
    hi = _ny_midnight_ns(end + timedelta(days=1)) if end is not None else None
    names = sorted({raw.sym_names[c] for raw in raws for c in np.unique(raw.sym_code[~raw.bad])})
    index = {s: k for k, s in enumerate(names)}
    kept: list[np.ndarray | None] = []  # per file: the rows taken, None for all of them
    sources: list[DataSource] = []
    for raw in raws:
        keep = ~raw.bad
        if lo is not None:
            keep &= raw.ts_ns >= lo
        if hi is not None:
            keep &= raw.ts_ns < hi
        rows = None if keep.all() else np.flatnonzero(keep)
        kept.append(rows)
        codes = raw.sym_code if rows is None else raw.sym_code[rows]
        taken = tuple(sorted(raw.sym_names[k] for k in np.unique(codes)))
        n = len(raw) if rows is None else len(rows)
        sources.append(DataSource(str(raw.path), raw.sha256, n, taken, timeframe, skipped_rows=int(raw.bad.sum())))

    def gather(take: Callable[[RawBars], np.ndarray], dtype: type) -> np.ndarray:
        pieces = [take(raw) if rows is None else take(raw)[rows] for raw, rows in zip(raws, kept, strict=True)]
        return np.concatenate(pieces).astype(dtype, copy=False) if pieces else np.zeros(0, dtype=dtype)

    def remapped(raw: RawBars) -> np.ndarray:
        remap = np.array([index.get(s, 0) for s in raw.sym_names] or [0], dtype=np.int32)
        out: np.ndarray = remap[raw.sym_code]
        return out

    sym = gather(remapped, np.int32)
    stamps = gather(lambda raw: raw.ts_ns, np.int64)
    if timeframe == "1Day":
        open_ns, close_ns = _daily_sessions(stamps)
    else:
        open_ns, close_ns = stamps, stamps + tf_ns
    order = None if _in_order(close_ns, sym) else np.lexsort((sym, close_ns))

    def arranged(a: np.ndarray) -> np.ndarray:
        return a if order is None else a[order]

    cols: dict[str, np.ndarray] = {}
    for k in ("open", "high", "low", "close", "volume"):
        cols[k] = arranged(gather(partial(_column, name=k), np.float64))
        for raw in raws:
            del raw.cols[k]  # free each file's copy before the next column
    return BarData(
        symbols=tuple(names),
        timeframe=timeframe,
        timeframe_ns=tf_ns,
        open_ns=arranged(open_ns),
        close_ns=arranged(close_ns),
        sym=arranged(sym),
        open=cols["open"],
        high=cols["high"],
        low=cols["low"],
        close=cols["close"],
        volume=cols["volume"],
        sources=sources,
        problems=problems,
    )


def _in_order(close_ns: np.ndarray, sym: np.ndarray) -> bool:
    """True when the bars are already sorted by (close_ns, sym) (one file, one symbol...)."""
    if len(close_ns) < 2:
        return True
    c0, c1 = close_ns[:-1], close_ns[1:]
    return bool(np.all((c1 > c0) | ((c1 == c0) & (sym[1:] > sym[:-1]))))


def _daily_sessions(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Session (open, close) of each New York midnight stamp (all on trading days, checked)."""
    if len(stamps) == 0:
        return stamps, stamps
    days, inverse = np.unique(stamps, return_inverse=True)
    bounds = []
    for d in days:
        day = (datetime.fromtimestamp(int(d) // NS_PER_S, tz=NEW_YORK)).date()
        session = NYSE.session_on(day)
        if session is None:  # bar_checks marked these rows bad
            raise BarDataError(f"daily bar on {day.isoformat()}, a day without a NYSE session")
        bounds.append(session)
    arr = np.array(bounds, dtype=np.int64)
    return arr[inverse, 0], arr[inverse, 1]


def _column(raw: RawBars, name: str) -> np.ndarray:
    return raw.cols[name]
