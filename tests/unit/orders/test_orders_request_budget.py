"""RequestBudget: sliding-minute limits with cancel and read reserves, and 429 pauses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrt.domain.clock import ManualClock
from pyrt.services.execution.budget import RequestBudget, RequestKind

KINDS = list(RequestKind)


def budget(
    per_minute: int = 150, cancel_reserve: int = 30, read_reserve: int = 10
) -> tuple[RequestBudget, ManualClock]:
    clock = ManualClock(start_ns=0)
    return RequestBudget(per_minute, cancel_reserve, clock, read_reserve=read_reserve), clock


def take(b: RequestBudget, kind: str, n: int) -> int:
    return sum(b.try_acquire(kind) for _ in range(n))


def test_tiers() -> None:
    b, _ = budget()
    assert take(b, "submit", 200) == 110
    assert take(b, "read", 200) == 10
    assert take(b, "cancel", 200) == 30
    assert b.used() == (150, 120)
    for kind in KINDS:
        assert not b.try_acquire(kind) and b.wait_time(kind) == pytest.approx(60.0)


def test_cancels_get_everything_when_nothing_else_runs() -> None:
    b, _ = budget()
    assert take(b, "cancel", 200) == 150
    assert not b.try_acquire("read")


def test_window_slides() -> None:
    b, clock = budget(per_minute=10, cancel_reserve=2, read_reserve=1)
    assert take(b, "submit", 4) == 4
    clock.advance(30)
    assert take(b, "submit", 10) == 3
    assert b.wait_time("submit") == pytest.approx(30.0)
    clock.advance(29.999)
    assert not b.try_acquire("submit")
    clock.advance(0.001)
    assert take(b, "submit", 10) == 4  # the first four have left the window


def test_rate_limited_pauses_reads_and_submits_not_cancels() -> None:
    b, clock = budget()
    now = clock.now_ns() / 1e9
    assert b.on_rate_limited(now + 5, now) == 5
    assert not b.try_acquire("read") and not b.try_acquire("submit")
    assert b.try_acquire("cancel")
    assert b.wait_time("submit") == pytest.approx(5.0)
    clock.advance(5)
    assert b.try_acquire("submit")


@pytest.mark.parametrize(("reset_offset", "pause"), [(-100, 1.0), (0.2, 1.0), (30, 30.0), (10_000, 60.0)])
def test_pause_is_clamped(reset_offset: float, pause: float) -> None:
    b, clock = budget()
    now = clock.now_ns() / 1e9
    assert b.on_rate_limited(now + reset_offset, now) == pytest.approx(pause)
    assert b.wait_time("read") == pytest.approx(pause)


def test_bad_configuration_and_kind() -> None:
    with pytest.raises(ValueError):
        RequestBudget(10, 8, ManualClock(), read_reserve=2)
    with pytest.raises(ValueError):
        RequestBudget(0, 0, ManualClock(), read_reserve=0)
    b, _ = budget()
    with pytest.raises(ValueError):
        b.try_acquire("delete_everything")


def max_in_any_window(times: list[int]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 60_000_000_000:
            start += 1
        best = max(best, end - start + 1)
    return best


steps = st.lists(
    st.tuples(
        st.integers(0, 3_000),  # ms to advance first
        st.sampled_from(KINDS + ["429"]),
        st.integers(1, 30),  # how many to try / reset offset in s
    ),
    max_size=120,
)


@settings(max_examples=100, deadline=None)
@given(steps, st.integers(2, 40), st.data())
def test_never_over_budget_in_any_window(
    script: list[tuple[int, str, int]], per_minute: int, data: st.DataObject
) -> None:
    cancel_reserve = data.draw(st.integers(0, per_minute - 1))
    read_reserve = data.draw(st.integers(0, per_minute - cancel_reserve - 1))
    b, clock = budget(per_minute, cancel_reserve, read_reserve)
    taken: dict[str, list[int]] = {k.value: [] for k in KINDS}
    for advance_ms, kind, n in script:
        clock.advance(advance_ms / 1000)
        if kind == "429":
            b.on_rate_limited(clock.now_ns() / 1e9 + n)
            continue
        for _ in range(n):
            expected = b.wait_time(kind) == 0
            ok = b.try_acquire(kind)
            assert ok == expected
            if ok:
                taken[kind].append(clock.now_ns())
    everything = taken["cancel"] + taken["read"] + taken["submit"]
    assert max_in_any_window(everything) <= per_minute
    assert max_in_any_window(taken["read"] + taken["submit"]) <= per_minute - cancel_reserve
    assert max_in_any_window(taken["submit"]) <= per_minute - cancel_reserve - read_reserve


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5_000), st.sampled_from(KINDS)), max_size=80), st.sampled_from(KINDS)
)
def test_waiting_wait_time_is_enough(script: list[tuple[int, RequestKind]], kind: RequestKind) -> None:
    b, clock = budget(per_minute=12, cancel_reserve=3, read_reserve=2)
    for advance_ms, k in script:
        clock.advance(advance_ms / 1000)
        b.try_acquire(k)
    wait = b.wait_time(kind)
    if wait > 0:
        assert not b.try_acquire(kind)
    clock.advance(wait + 1e-6)
    assert b.try_acquire(kind)
