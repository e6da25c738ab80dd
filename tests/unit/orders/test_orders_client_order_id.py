"""client_order_id: deterministic, short, Alpaca-safe and distinct for distinct inputs."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrt.domain.ids import MAX_CLIENT_ORDER_ID_LEN, client_order_id

ALLOWED = re.compile(r"[A-Za-z0-9_.\-]+")
parts = st.text(min_size=1, max_size=80)
attempts = st.integers(min_value=0, max_value=999)


def test_short_clean_inputs_stay_readable() -> None:
    assert client_order_id("momo", "sig42", 0) == "momo-sig42-0"
    assert client_order_id("momo", "sig42", 3) == "momo-sig42-3"


def test_long_inputs_keep_a_readable_prefix_and_fit() -> None:
    coid = client_order_id("mean_reversion_intraday_v2", "x" * 100, 1)
    assert len(coid) <= MAX_CLIENT_ORDER_ID_LEN
    assert coid.startswith("mean_reversi-xxxx")
    assert ALLOWED.fullmatch(coid)


def test_stable_across_processes() -> None:
    code = "from pyrt.domain.ids import client_order_id as c; print(c('strat/é', 'a' * 60, 7))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == client_order_id("strat/é", "a" * 60, 7)


@pytest.mark.parametrize(
    ("strategy", "intent_id", "attempt"),
    [("", "x", 0), ("s", "", 0), ("s", "x", -1), ("s", "x", 1000)],
)
def test_bad_inputs_raise(strategy: str, intent_id: str, attempt: int) -> None:
    with pytest.raises(ValueError):
        client_order_id(strategy, intent_id, attempt)


def test_attempt_must_be_an_int() -> None:
    with pytest.raises(TypeError):
        client_order_id("s", "x", True)


@settings(max_examples=150, deadline=None)
@given(parts, parts, attempts)
def test_always_valid_and_deterministic(strategy: str, intent_id: str, attempt: int) -> None:
    coid = client_order_id(strategy, intent_id, attempt)
    assert len(coid) <= MAX_CLIENT_ORDER_ID_LEN
    assert ALLOWED.fullmatch(coid)
    assert coid == client_order_id(strategy, intent_id, attempt)


@settings(max_examples=150, deadline=None)
@given(parts, parts, attempts, parts, parts, attempts)
def test_distinct_inputs_give_distinct_ids(s1: str, i1: str, a1: int, s2: str, i2: str, a2: int) -> None:
    if (s1, i1, a1) != (s2, i2, a2):
        assert client_order_id(s1, i1, a1) != client_order_id(s2, i2, a2)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab-_.", min_size=1, max_size=6), st.text(alphabet="ab-_.", min_size=1, max_size=6))
def test_separator_ambiguity_does_not_collide(s: str, i: str) -> None:
    # Small alphabets with the separator in them make ambiguous splits likely.
    other = (s + "-" + i).split("-", 1)
    if len(other) == 2 and all(other) and (other[0], other[1]) != (s, i):
        assert client_order_id(s, i) != client_order_id(other[0], other[1])
    assert client_order_id(s, i, 1) != client_order_id(s, i, 0)
