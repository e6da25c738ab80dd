"""Reconnect backoff schedule, the bar history and its cache form, log throttling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrt.bus.schema import BarMsg
from pyrt.config.system import ReconnectConfig
from pyrt.services.market_data.core import BackoffPolicy, BarHistory, MalformedFeedMessage, should_log


def test_first_retry_is_immediate_then_doubles_up_to_the_cap():
    policy = BackoffPolicy(0.5, 30.0, 0.2)
    assert [policy.base_delay(n) for n in range(9)] == [0, 0.5, 1, 2, 4, 8, 16, 30, 30]
    assert policy.delay(0, 0.99) == 0.0
    assert policy.base_delay(10_000) == 30.0  # no overflow


def test_jitter_bounds():
    policy = BackoffPolicy(0.5, 30.0, 0.2)
    assert policy.delay(1, 0.0) == pytest.approx(0.4)
    assert policy.delay(1, 0.5) == pytest.approx(0.5)
    assert policy.delay(1, 1.0) == pytest.approx(0.6)
    assert BackoffPolicy(0.5, 30.0, 0.0).delay(3, 0.123) == 2.0


def test_from_config_defaults_match_the_reliability_notes():
    assert BackoffPolicy.from_config(ReconnectConfig()) == BackoffPolicy(0.5, 30.0, 0.2)


@given(
    st.floats(0.01, 10), st.floats(10, 300), st.floats(0, 1), st.integers(0, 200), st.floats(0, 1, exclude_max=True)
)
def test_every_delay_is_within_jittered_bounds(initial: float, cap: float, jitter: float, attempt: int, rand: float):
    policy = BackoffPolicy(initial, cap, jitter)
    delay = policy.delay(attempt, rand)
    base = policy.base_delay(attempt)
    assert base <= cap
    assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9
    assert policy.base_delay(attempt + 1) >= base


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
    with pytest.raises(MalformedFeedMessage):
        BarHistory(5).load("AAPL", data)


def test_should_log_first_then_every_nth():
    logged = [n for n in range(1, 5001) if should_log(n, first=3, every=1000)]
    assert logged == [1, 2, 3, 1000, 2000, 3000, 4000, 5000]
