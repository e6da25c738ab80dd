"""Checks on the bars of one file, and the timeframe its stamps say: the rules a bar file
must follow before a backtest trusts it (see `data.load_bars`).

Row problems (non-positive prices, high < low, open/close outside [low, high], negative
volume, duplicate or unordered stamps of a symbol) are marked on the row with a message;
a file whose stamps fit no timeframe is refused as a whole (`BarDataError`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from pyrt.backtest.bar_files import BarDataError, RawBars
from pyrt.domain.calendar import NEW_YORK, NS_PER_DAY, NS_PER_S, NyseSession

NS_PER_MIN = 60 * NS_PER_S
INTRADAY = {NS_PER_MIN: "1Min", 5 * NS_PER_MIN: "5Min", 15 * NS_PER_MIN: "15Min", 60 * NS_PER_MIN: "1Hour"}
TIMEFRAME_NS = {name: ns for ns, name in INTRADAY.items()} | {"1Day": NS_PER_DAY}
NYSE = NyseSession()


def check_rows(raw: RawBars) -> None:
    """Mark the rows that parsed but break a bar's rules (adds to `raw.problems`/`raw.bad`)."""
    o, h, lo, c, v = (raw.cols[k] for k in ("open", "high", "low", "close", "volume"))
    ok = ~raw.bad
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c) & np.isfinite(v)
        ok &= finite
        rules = (
            (~raw.bad & ~finite, "a value that is not a finite number"),
            (ok & ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0)), "non-positive price"),
            (ok & (h < lo), "high < low"),
            (ok & ((o < lo) | (o > h)), "open outside [low, high]"),
            (ok & ((c < lo) | (c > h)), "close outside [low, high]"),
            (ok & (v < 0), "negative volume"),
        )
    broken = np.zeros(len(raw), dtype=bool)
    for mask, _ in rules:
        broken |= mask
    for i in np.flatnonzero(broken):
        what = "; ".join(msg for mask, msg in rules if mask[i])
        values = f"open={o[i]:g} high={h[i]:g} low={lo[i]:g} close={c[i]:g} volume={v[i]:g}"
        raw.problems.append((int(i), f"{what} ({values})"))
    raw.bad |= broken
    _check_order(raw)


def _check_order(raw: RawBars) -> None:
    """Within a file each symbol's stamps must rise strictly: a stamp equal to an earlier
    one is a duplicate, a smaller one is out of order. Bad rows take no part."""
    good = np.flatnonzero(~raw.bad)
    if len(good) < 2:
        return
    codes = raw.sym_code[good]
    for code in np.unique(codes):
        rows = good[codes == code] if len(raw.sym_names) > 1 else good
        ts = raw.ts_ns[rows]
        prev_max = np.maximum.accumulate(ts)[:-1]
        broken = np.flatnonzero(ts[1:] <= prev_max) + 1
        if not len(broken):
            continue
        uniq, first = np.unique(ts, return_index=True)
        sym = raw.sym_names[int(code)]
        unit = _unit(raw)
        for k in broken:
            i = int(rows[k])
            j = int(rows[first[np.searchsorted(uniq, ts[k])]])
            if j != i:
                raw.problems.append((i, f"duplicate stamp for {sym} (as {unit} {int(raw.line[j])})"))
            else:
                raw.problems.append((i, f"stamp out of order for {sym} (earlier than a previous row's)"))
            raw.bad[i] = True


def _unit(raw: RawBars) -> str:
    return "line" if raw.kind == "csv" else "row"


def ny_midnight_flags(ts: np.ndarray) -> np.ndarray:
    """True where a stamp is New York midnight (04:00 or 05:00 UTC, checked with the zone)."""
    flags = np.isin(ts % NS_PER_DAY, (4 * 3600 * NS_PER_S, 5 * 3600 * NS_PER_S))
    if not flags.any():
        return flags
    uniq, inverse = np.unique(ts[flags], return_inverse=True)
    ok = np.array([_is_ny_midnight(int(t)) for t in uniq], dtype=bool)
    flags[flags] = ok[inverse]
    return flags


def _is_ny_midnight(ts_ns: int) -> bool:
    local = datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).astimezone(NEW_YORK)
    return local.hour == 0 and local.minute == 0 and local.second == 0 and ts_ns % NS_PER_S == 0


def ny_date_of_midnight(ts_ns: int) -> date:
    return datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).astimezone(NEW_YORK).date()


def infer_timeframe(raw: RawBars) -> str | None:
    """The timeframe of the file's rows (those whose stamp and symbol parsed).

    A timeframe the file declares (our Parquet cache does) is checked, not inferred: sparse
    bars of a thin symbol stay what they are. Otherwise "1Day" when every stamp is New York
    midnight, else the most common positive gap between a symbol's stamps (1, 5, 15
    minutes or an hour) or, when that is none of them, the greatest common divisor of the
    gaps if it is one (minute bars with missing minutes). None when no symbol has two rows
    (nothing to tell). Refuses stamps that fit no timeframe. Daily rows on days without a
    NYSE session become row problems."""
    good = np.flatnonzero(~raw.stamp_bad)
    if raw.declared_timeframe is not None:
        if raw.declared_timeframe not in TIMEFRAME_NS:
            raise BarDataError(f"{raw.path}: declares the unknown timeframe {raw.declared_timeframe!r}")
        check_aligned(raw, raw.declared_timeframe)
        return raw.declared_timeframe
    if len(good) == 0:
        return None
    ts = raw.ts_ns[good]
    midnight = ny_midnight_flags(ts)
    if midnight.all() and ts.min() != ts.max():  # one stamp could still be a midnight minute bar
        _mark_closed_days(raw)
        return "1Day"
    gaps = _gaps(raw.sym_code[good], ts)
    if len(gaps) == 0:
        return None
    values, counts = np.unique(gaps, return_counts=True)
    gap = int(values[np.argmax(counts)])  # ties: the smallest gap
    name = INTRADAY.get(gap) or INTRADAY.get(int(np.gcd.reduce(values)))
    if name is None:
        hint = ""
        if gap % NS_PER_DAY == 0 or abs(gap - NS_PER_DAY) <= 3600 * NS_PER_S:
            i = int(good[np.flatnonzero(~midnight)[0]])
            hint = f"; daily bars must be stamped at New York midnight (as Alpaca stamps them), {raw.where(i)} is not"
        raise BarDataError(
            f"{raw.path}: the stamps fit no timeframe: the most common gap is {_span(gap)} "
            f"(expected 1Min, 5Min, 15Min, 1Hour, or daily bars){hint}"
        )
    check_aligned(raw, name)
    return name


def check_aligned(raw: RawBars, timeframe: str) -> None:
    """Refuse a file with a row whose stamp is not on a `timeframe` boundary."""
    good = np.flatnonzero(~raw.stamp_bad)
    ts = raw.ts_ns[good]
    if timeframe == "1Day":
        off = np.flatnonzero(~ny_midnight_flags(ts))
        if len(off):
            raise BarDataError(
                f"{raw.where(int(good[off[0]]))}: a daily bar must be stamped at New York midnight "
                f"(as Alpaca stamps them)"
            )
        _mark_closed_days(raw)
        return
    off = np.flatnonzero(ts % TIMEFRAME_NS[timeframe])
    if len(off):
        raise BarDataError(f"{raw.where(int(good[off[0]]))}: the stamp is not on a {timeframe} boundary")


def _mark_closed_days(raw: RawBars) -> None:
    good = np.flatnonzero(~raw.bad)
    ts = raw.ts_ns[good]
    uniq, inverse = np.unique(ts, return_inverse=True)
    closed = np.array([not NYSE.is_trading_day(ny_date_of_midnight(int(t))) for t in uniq], dtype=bool)
    for k in np.flatnonzero(closed[inverse]):
        i = int(good[k])
        day = ny_date_of_midnight(int(raw.ts_ns[i]))
        raw.problems.append((i, f"daily bar on {day.isoformat()}, a day without a NYSE session"))
        raw.bad[i] = True


def _gaps(codes: np.ndarray, ts: np.ndarray) -> np.ndarray:
    order = np.lexsort((ts, codes))
    c, t = codes[order], ts[order]
    same = c[1:] == c[:-1]
    d: np.ndarray = (t[1:] - t[:-1])[same]
    out: np.ndarray = d[d > 0]
    return out


def _span(ns: int) -> str:
    return str(timedelta(microseconds=ns // 1000))
