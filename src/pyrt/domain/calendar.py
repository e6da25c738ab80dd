"""Trading-session calendars and the US equities trading day.

The live risk manager (stale market data only trips the breaker in session, daily
counters reset when the New York trading day changes) and the simulated broker (Alpaca's
`/v2/clock`, day-order expiry) ask the same questions, so the answers live in the domain,
below both: the live path never imports the simulator.

A calendar answers Alpaca's `/v2/clock` questions ({timestamp, is_open, next_open,
next_close}) and tells the broker when a day order expires. All times are UTC
nanoseconds since the epoch; nothing here reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
NEW_YORK = ZoneInfo("America/New_York")

# Full-day NYSE closures. 2025-01-09 is the national day of mourning for President Carter.
NYSE_HOLIDAYS: frozenset[date] = frozenset(
    date.fromisoformat(d)
    for d in (
        "2024-01-01 2024-01-15 2024-02-19 2024-03-29 2024-05-27 2024-06-19 2024-07-04 "
        "2024-09-02 2024-11-28 2024-12-25 "
        "2025-01-01 2025-01-09 2025-01-20 2025-02-17 2025-04-18 2025-05-26 2025-06-19 "
        "2025-07-04 2025-09-01 2025-11-27 2025-12-25 "
        "2026-01-01 2026-01-19 2026-02-16 2026-04-03 2026-05-25 2026-06-19 2026-07-03 "
        "2026-09-07 2026-11-26 2026-12-25 "
        "2027-01-01 2027-01-18 2027-02-15 2027-03-26 2027-05-31 2027-06-18 2027-07-05 "
        "2027-09-06 2027-11-25 2027-12-24"
    ).split()
)
# Sessions that close at 13:00 New York time.
NYSE_EARLY_CLOSES: frozenset[date] = frozenset(
    date.fromisoformat(d)
    for d in (
        "2024-07-03 2024-11-29 2024-12-24 2025-07-03 2025-11-28 2025-12-24 2026-11-27 2026-12-24 2027-11-26"
    ).split()
)


class SessionCalendar(Protocol):
    """When the market is open. Every method takes and returns UTC nanoseconds."""

    def is_open(self, ts_ns: int) -> bool:
        """True when `ts_ns` lies inside a session [open, close)."""
        ...

    def next_open(self, ts_ns: int) -> int:
        """The first session open strictly after `ts_ns` (tomorrow's when open now)."""
        ...

    def next_close(self, ts_ns: int) -> int:
        """The first session close strictly after `ts_ns` (today's when open now)."""
        ...

    def session_close_for(self, ts_ns: int) -> int | None:
        """Close of the session containing `ts_ns`, or None when the market is closed."""
        ...


def _to_ns(dt: datetime) -> int:
    return int(dt.timestamp()) * NS_PER_S + dt.microsecond * 1000


class AlwaysOpen:
    """The synthetic market's calendar: open around the clock, every day.

    So that `/v2/clock` and day orders still have a close, each UTC day counts as one
    session: the session closes, and the next one opens, at 00:00 UTC.
    """

    def is_open(self, ts_ns: int) -> bool:
        """Always True."""
        return True

    def next_open(self, ts_ns: int) -> int:
        """The next 00:00 UTC."""
        return (ts_ns // NS_PER_DAY + 1) * NS_PER_DAY

    def next_close(self, ts_ns: int) -> int:
        """The next 00:00 UTC."""
        return (ts_ns // NS_PER_DAY + 1) * NS_PER_DAY

    def session_close_for(self, ts_ns: int) -> int | None:
        """The next 00:00 UTC: a day order lives until the end of its UTC day."""
        return (ts_ns // NS_PER_DAY + 1) * NS_PER_DAY


class NyseSession:
    """NYSE regular hours: 09:30-16:00 America/New_York, Monday to Friday.

    Holidays and 13:00 early closes come from the fixed 2024-2027 lists above (or the
    sets passed in); outside those years only weekends are closed. DST is handled by
    zoneinfo, so the open is 13:30 UTC in summer and 14:30 UTC in winter.
    """

    OPEN = time(9, 30)
    CLOSE = time(16, 0)
    EARLY_CLOSE = time(13, 0)
    _SEARCH_DAYS = 31  # far longer than any run of closed days

    def __init__(
        self,
        holidays: frozenset[date] = NYSE_HOLIDAYS,
        early_closes: frozenset[date] = NYSE_EARLY_CLOSES,
    ) -> None:
        self._holidays = holidays
        self._early_closes = early_closes

    def is_trading_day(self, day: date) -> bool:
        """True when `day` (a New York calendar date) has a session."""
        return day.weekday() < 5 and day not in self._holidays

    def session_on(self, day: date) -> tuple[int, int] | None:
        """(open_ns, close_ns) of the session on New York date `day`, or None."""
        if not self.is_trading_day(day):
            return None
        close = self.EARLY_CLOSE if day in self._early_closes else self.CLOSE
        return (
            _to_ns(datetime.combine(day, self.OPEN, tzinfo=NEW_YORK)),
            _to_ns(datetime.combine(day, close, tzinfo=NEW_YORK)),
        )

    def sessions_between(self, start_ns: int, end_ns: int) -> Iterator[tuple[int, int]]:
        """(open_ns, close_ns) of every session on the New York dates from start to end."""
        day, last = _ny_date(start_ns), _ny_date(end_ns)
        while day <= last:
            session = self.session_on(day)
            if session is not None:
                yield session
            day += timedelta(days=1)

    def is_open(self, ts_ns: int) -> bool:
        """True inside [09:30, close) New York time on a trading day."""
        session = self.session_on(_ny_date(ts_ns))
        return session is not None and session[0] <= ts_ns < session[1]

    def next_open(self, ts_ns: int) -> int:
        """The first session open strictly after `ts_ns`."""
        return self._first_after(ts_ns, 0)

    def next_close(self, ts_ns: int) -> int:
        """The first session close strictly after `ts_ns`."""
        return self._first_after(ts_ns, 1)

    def session_close_for(self, ts_ns: int) -> int | None:
        """Close of the session containing `ts_ns`, or None outside regular hours."""
        session = self.session_on(_ny_date(ts_ns))
        if session is not None and session[0] <= ts_ns < session[1]:
            return session[1]
        return None

    def _first_after(self, ts_ns: int, edge: int) -> int:
        day = _ny_date(ts_ns)
        for _ in range(self._SEARCH_DAYS):
            session = self.session_on(day)
            if session is not None and session[edge] > ts_ns:
                return session[edge]
            day += timedelta(days=1)
        raise ValueError(f"no NYSE session within {self._SEARCH_DAYS} days of {ts_ns}")


def _ny_date(ts_ns: int) -> date:
    return datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).astimezone(NEW_YORK).date()


def next_ny_midnight(ts_ns: int) -> int:
    """The first New York midnight after `ts_ns` (where `trading_day` changes next)."""
    day = _ny_date(ts_ns) + timedelta(days=1)
    return int(datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).timestamp()) * NS_PER_S


def trading_day(ts_ns: int) -> str:
    """The US equities trading day of an instant: its America/New_York date, ISO format."""
    return _ny_date(ts_ns).isoformat()
