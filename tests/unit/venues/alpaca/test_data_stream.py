"""The data stream's reconnect backoff schedule (BackoffPolicy in
pyrt.venues.alpaca.data_stream); the stream itself runs against the sim broker in
tests/integration/market_data/test_data_stream.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrt.config.system import ReconnectConfig
from pyrt.venues.alpaca.data_stream import BackoffPolicy


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


@given(st.floats(0.01, 10), st.floats(10, 300), st.floats(0, 1), st.integers(0, 200), st.floats(0, 1, exclude_max=True))
def test_every_delay_is_within_jittered_bounds(initial: float, cap: float, jitter: float, attempt: int, rand: float):
    policy = BackoffPolicy(initial, cap, jitter)
    delay = policy.delay(attempt, rand)
    base = policy.base_delay(attempt)
    assert base <= cap
    assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9
    assert policy.base_delay(attempt + 1) >= base
