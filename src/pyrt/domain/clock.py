"""Clocks. Cores take time from a Clock so tests and backtests control it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...


class WallClock:
    """Real time, UTC nanoseconds."""

    def now_ns(self) -> int:
        return time.time_ns()


class ManualClock:
    """A clock a test or backtest moves by hand."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def set(self, ns: int) -> None:
        self._now = ns

    def advance(self, seconds: float) -> None:
        self._now += int(seconds * 1_000_000_000)


def ns_to_datetime(ns: int) -> datetime:
    """Exact to the microsecond (truncated), unlike a float division."""
    sec, rem = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(sec, tz=UTC) + timedelta(microseconds=rem // 1000)


def datetime_to_ns(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1_000_000) * 1000


_iso_cache: tuple[int, str] = (-1, "")


def iso_utc(ns: int) -> str:
    """RFC 3339 in UTC with microseconds, as Alpaca sends timestamps. The second's prefix
    is cached: this runs several times per order on the sim broker's hot path."""
    global _iso_cache
    sec, rem = divmod(ns, 1_000_000_000)
    cached_sec, prefix = _iso_cache
    if sec != cached_sec:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _iso_cache = (sec, prefix)
    return f"{prefix}.{rem // 1000:06d}Z"
