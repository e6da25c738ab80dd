"""Session calendars: open/close/next_open around weekends, DST and holidays."""

from datetime import datetime

from pyrt.domain.calendar import NS_PER_DAY, AlwaysOpen, NyseSession, trading_day


def ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp()) * 1_000_000_000


NYSE = NyseSession()


def test_always_open_is_open_and_closes_at_utc_midnight() -> None:
    cal = AlwaysOpen()
    t = ns("2024-06-15T12:34:56+00:00")  # a Saturday
    midnight = ns("2024-06-16T00:00:00+00:00")
    assert cal.is_open(t)
    assert cal.next_close(t) == midnight == cal.next_open(t)
    assert cal.session_close_for(t) == midnight
    assert cal.next_close(midnight) == midnight + NS_PER_DAY


def test_nyse_regular_day_summer_time() -> None:
    # Wed 2024-07-10, EDT: 09:30 New York is 13:30 UTC.
    assert not NYSE.is_open(ns("2024-07-10T13:29:59+00:00"))
    assert NYSE.is_open(ns("2024-07-10T13:30:00+00:00"))
    assert NYSE.is_open(ns("2024-07-10T19:59:59+00:00"))
    assert not NYSE.is_open(ns("2024-07-10T20:00:00+00:00"))
    t = ns("2024-07-10T15:00:00+00:00")
    assert NYSE.next_close(t) == ns("2024-07-10T20:00:00+00:00")
    assert NYSE.next_open(t) == ns("2024-07-11T13:30:00+00:00")
    assert NYSE.session_close_for(t) == ns("2024-07-10T20:00:00+00:00")
    assert NYSE.session_close_for(ns("2024-07-10T21:00:00+00:00")) is None


def test_nyse_winter_time_opens_at_1430_utc() -> None:
    t = ns("2024-01-10T14:00:00+00:00")
    assert not NYSE.is_open(t)
    assert NYSE.next_open(t) == ns("2024-01-10T14:30:00+00:00")
    assert NYSE.next_close(t) == ns("2024-01-10T21:00:00+00:00")


def test_nyse_weekend_rolls_to_monday() -> None:
    friday_after_close = ns("2024-07-12T20:00:00+00:00")
    assert not NYSE.is_open(friday_after_close)
    assert NYSE.next_open(friday_after_close) == ns("2024-07-15T13:30:00+00:00")
    assert NYSE.next_close(friday_after_close) == ns("2024-07-15T20:00:00+00:00")
    saturday = ns("2024-07-13T15:00:00+00:00")
    assert not NYSE.is_open(saturday)
    assert NYSE.session_close_for(saturday) is None


def test_nyse_dst_switch_weekend() -> None:
    # Clocks sprang forward on Sun 2024-03-10: Friday opens 14:30 UTC, Monday 13:30 UTC.
    friday_close = ns("2024-03-08T21:00:00+00:00")
    assert NYSE.next_open(ns("2024-03-08T12:00:00+00:00")) == ns("2024-03-08T14:30:00+00:00")
    assert NYSE.next_open(friday_close) == ns("2024-03-11T13:30:00+00:00")
    # ...and fell back on Sun 2024-11-03.
    assert NYSE.next_open(ns("2024-11-01T20:00:00+00:00")) == ns("2024-11-04T14:30:00+00:00")


def test_nyse_holidays_and_early_close() -> None:
    # Thanksgiving 2024-11-28 closed; Friday 11-29 closes at 13:00 New York (18:00 UTC).
    wed_close = ns("2024-11-27T21:00:00+00:00")
    assert not NYSE.is_open(ns("2024-11-28T16:00:00+00:00"))
    assert NYSE.next_open(wed_close) == ns("2024-11-29T14:30:00+00:00")
    assert NYSE.next_close(wed_close) == ns("2024-11-29T18:00:00+00:00")
    assert not NYSE.is_open(ns("2024-11-29T18:30:00+00:00"))
    # Good Friday 2025-04-18 + weekend: Thursday's close rolls to Monday.
    assert NYSE.next_open(ns("2025-04-17T21:00:00+00:00")) == ns("2025-04-21T13:30:00+00:00")
    # New Year 2026 on a Thursday.
    assert NYSE.next_open(ns("2025-12-31T22:00:00+00:00")) == ns("2026-01-02T14:30:00+00:00")


def test_nyse_sessions_between_lists_trading_days() -> None:
    sessions = list(NYSE.sessions_between(ns("2024-12-23T00:00:00+00:00"), ns("2024-12-27T23:00:00+00:00")))
    # Mon 23, Tue 24 (early close), Thu 26, Fri 27; Christmas closed.
    assert len(sessions) == 4
    assert sessions[1] == (ns("2024-12-24T14:30:00+00:00"), ns("2024-12-24T18:00:00+00:00"))


def test_the_trading_day_is_the_new_york_date() -> None:
    # winter (EST, UTC-5): the day changes at 05:00 UTC
    assert trading_day(ns("2024-03-06T04:59:59+00:00")) == "2024-03-05"
    assert trading_day(ns("2024-03-06T05:00:00+00:00")) == "2024-03-06"
    # summer (EDT, UTC-4): at 04:00 UTC
    assert trading_day(ns("2024-07-01T03:59:59+00:00")) == "2024-06-30"
    assert trading_day(ns("2024-07-01T04:00:00+00:00")) == "2024-07-01"
