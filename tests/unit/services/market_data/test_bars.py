"""The bar history and its cache form, gap planning after a (re)connect, log throttling."""

from __future__ import annotations

import pytest

from pyrt.bus.bar_cache import MalformedBarCache
from pyrt.bus.schema import BarMsg
from pyrt.services.market_data.core import BarHistory, bars_to_fill, gaps_to_fill, should_log


def bar(ts: int, close: float = 1.0, symbol: str = "AAPL") -> BarMsg:
    return BarMsg(symbol, 1.0, 2.0, 0.5, close, 100.0, ts, 3, 1.1)


def test_keeps_the_newest_bars_and_replaces_an_updated_one():
    h = BarHistory(3)
    for ts in range(5):
        h.add(bar(ts))
    assert [b.ts_ns for b in h.bars("AAPL")] == [2, 3, 4]
    assert h.add(bar(4, close=9.0))
    assert h.bars("AAPL")[-1].close == 9.0 and len(h.bars("AAPL")) == 3
    assert not h.add(bar(1))  # older than kept: ignored
    assert h.take_dirty() == {"AAPL"} and h.take_dirty() == set()


def test_cache_round_trip_and_resize():
    h = BarHistory(10)
    for ts in (3, 4, 5):
        h.add(bar(ts))
    data = h.encode("AAPL")
    fresh = BarHistory(2)
    assert fresh.load("AAPL", data) == 2
    assert [b.ts_ns for b in fresh.bars("AAPL")] == [4, 5]
    assert BarHistory(10).load("MSFT", data) == 0  # bars of another symbol are not taken
    h.resize(1)
    assert [b.ts_ns for b in h.bars("AAPL")] == [5]


@pytest.mark.parametrize("data", [b"", b"{", b'{"a": 1}', b'[{"type": "bar"}]', b"[1, 2]"])
def test_an_unreadable_cache_is_refused(data: bytes):
    with pytest.raises(MalformedBarCache):
        BarHistory(5).load("AAPL", data)


def test_should_log_first_then_every_nth():
    logged = [n for n in range(1, 5001) if should_log(n, first=3, every=1000)]
    assert logged == [1, 2, 3, 1000, 2000, 3000, 4000, 5000]


def test_a_gap_fill_keeps_only_newer_bars_once_each_in_time_order():
    def at(minute: int, close: float = 1.0) -> BarMsg:
        return BarMsg("AAPL", 1.0, 1.0, 1.0, close, 1.0, minute * 60_000_000_000)

    fetched = [at(5), at(3), at(4), at(2), at(4, 2.0), at(1)]  # newest first, a repeat, older ones
    assert [(b.ts_ns // 60_000_000_000) for b in bars_to_fill(2 * 60_000_000_000, fetched)] == [3, 4, 5]
    assert bars_to_fill(10 * 60_000_000_000, fetched) == []


def test_only_symbols_that_can_have_missed_a_bar_are_fetched():
    minute = 60_000_000_000
    newest = {"AAPL": 100 * minute, "MSFT": 98 * minute, "GOOGL": 10 * minute}
    # at 101:59 the bar of minute 101 has not ended yet, so AAPL (newest 100) misses nothing
    assert gaps_to_fill(newest, 101 * minute + 59_000_000_000) == {"MSFT": 98 * minute, "GOOGL": 10 * minute}
    assert gaps_to_fill(newest, 102 * minute) == newest
    assert gaps_to_fill({}, 102 * minute) == {}
