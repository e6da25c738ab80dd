"""RequestBudget: sliding-minute tiers (cancel > submit > read, each with its reserve), 429
pauses and the broker's X-RateLimit headers. The property tests are the review's D2/S2
guarantees: no window ever holds more than a tier allows, and no sequence of reads
delays a submit (or a cancel) within its reserve."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrt.domain.clock import ManualClock
from pyrt.services.execution.budget import RequestBudget, RequestKind, default_submit_reserve

KINDS = list(RequestKind)
WINDOW_NS = 60_000_000_000


def budget(
    per_minute: int = 150, cancel_reserve: int = 30, read_reserve: int = 10, submit_reserve: int | None = None
) -> tuple[RequestBudget, ManualClock]:
    clock = ManualClock(start_ns=0)
    b = RequestBudget(per_minute, cancel_reserve, clock, read_reserve=read_reserve, submit_reserve=submit_reserve)
    return b, clock


def take(b: RequestBudget, kind: str, n: int) -> int:
    return sum(b.try_acquire(kind) for _ in range(n))


def test_tiers() -> None:
    b, _ = budget()
    assert b.submit_reserve == 60  # the default: half of what reads and submits share
    assert take(b, "submit", 200) == 110
    assert take(b, "read", 200) == 10
    assert take(b, "cancel", 200) == 30
    assert b.used() == (150, 120)
    for kind in KINDS:
        assert not b.try_acquire(kind) and b.wait_time(kind) == pytest.approx(60.0)


def test_reads_cannot_take_the_submit_or_cancel_reserve() -> None:
    b, _ = budget()
    assert take(b, "read", 500) == 60  # 150 - 30 cancel - 60 submit
    assert take(b, "submit", 500) == 60
    assert take(b, "cancel", 500) == 30


def test_the_old_constructor_still_works() -> None:
    b = RequestBudget(45, 30, ManualClock(start_ns=0), read_reserve=10)  # review D2's config: submit tier 5/min
    assert (b.limit("submit"), b.limit("read"), b.limit("cancel")) == (5, 10, 45)
    assert take(b, "read", 100) == 10
    assert take(b, "submit", 100) == 5  # before: 0, the periodic reads had filled the shared window


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


def test_broker_headers_apply_the_reserves_to_the_keys_remaining_requests() -> None:
    b, clock = budget(per_minute=150, cancel_reserve=30, read_reserve=10)  # floors: read 90, submit 30, cancel 0
    now = clock.now_ns() / 1e9
    b.on_headers(200, 92, now + 20, now)  # another process with the same key used most of it
    assert b.broker_limit == 200
    assert take(b, "read", 10) == 2  # 92 -> 90: the rest belongs to submits and cancels
    assert b.wait_time("read") == pytest.approx(20.0)
    assert take(b, "submit", 100) == 60  # down to 30 left at the broker: the cancel reserve
    assert take(b, "cancel", 100) == 30  # down to 0 left at the broker (our own window would allow 88)
    clock.advance(20)  # the broker's reset: its word no longer holds, our own window does
    assert b.try_acquire("read") and b.try_acquire("cancel")
    b2, clock2 = budget()
    now2 = clock2.now_ns() / 1e9
    b2.on_headers(200, 0, now2 + 3, now2)
    assert all(not b2.try_acquire(k) for k in KINDS)
    clock2.advance(3)
    assert all(b2.try_acquire(k) for k in KINDS)
    b2.on_headers(None, None, None)  # a response without the headers changes nothing
    assert b2.try_acquire("read")


def test_bad_configuration_and_kind() -> None:
    with pytest.raises(ValueError, match="nothing of 10/min for submits"):
        RequestBudget(10, 8, ManualClock(), read_reserve=2)
    with pytest.raises(ValueError):
        RequestBudget(0, 0, ManualClock(), read_reserve=0)
    with pytest.raises(ValueError, match="exceed 10/min"):
        RequestBudget(10, 2, ManualClock(), read_reserve=2, submit_reserve=7)
    with pytest.raises(ValueError, match="for reads"):
        RequestBudget(10, 2, ManualClock(), read_reserve=0, submit_reserve=8)
    b, _ = budget()
    with pytest.raises(ValueError):
        b.try_acquire("delete_everything")


def max_in_any_window(times: list[int]) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= WINDOW_NS:
            start += 1
        best = max(best, end - start + 1)
    return best


def in_window(times: list[int], now: int) -> int:
    return sum(1 for t in times if now - t < WINDOW_NS)


@st.composite
def configs(draw: st.DrawFn) -> tuple[int, int, int, int | None]:
    per_minute = draw(st.integers(2, 40))
    cancel = draw(st.integers(0, per_minute - 1))
    read = draw(st.integers(0, per_minute - cancel - 1))
    submit = draw(
        st.none()
        | st.integers(0, per_minute - cancel - 1 - 0).filter(
            lambda s: cancel + read + s <= per_minute and cancel + s < per_minute
        )
    )
    return per_minute, cancel, read, submit


steps = st.lists(
    st.tuples(
        st.integers(0, 3_000),  # ms to advance first
        st.sampled_from([*KINDS, "429"]),
        st.integers(1, 30),  # how many to try / reset offset in s
    ),
    max_size=120,
)


@settings(max_examples=100, deadline=None)
@given(steps, configs())
def test_never_over_budget_in_any_window(
    script: list[tuple[int, str, int]], config: tuple[int, int, int, int | None]
) -> None:
    per_minute, cancel_reserve, read_reserve, submit_reserve = config
    b, clock = budget(per_minute, cancel_reserve, read_reserve, submit_reserve)
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
    assert max_in_any_window(taken["read"]) <= per_minute - cancel_reserve - b.submit_reserve


# reads (any number, any time) interleaved with submits or cancels, no 429
flood = st.lists(st.tuples(st.integers(0, 3_000), st.sampled_from(["read", "other"]), st.integers(1, 200)), max_size=80)


@settings(max_examples=150, deadline=None)
@given(flood, configs(), st.sampled_from(["submit", "cancel"]))
def test_reads_never_delay_a_submit_or_cancel_within_its_tier(
    script: list[tuple[int, str, int]], config: tuple[int, int, int, int | None], other: str
) -> None:
    """Whatever the reads did, a submit goes at once while fewer than `submit_reserve`
    submits are in the window (a cancel while fewer than cancel + submit reserve cancels)."""
    per_minute, cancel_reserve, read_reserve, submit_reserve = config
    b, clock = budget(per_minute, cancel_reserve, read_reserve, submit_reserve)
    guaranteed = b.submit_reserve if other == "submit" else cancel_reserve + b.submit_reserve
    mine: list[int] = []
    for advance_ms, kind, n in script:
        clock.advance(advance_ms / 1000)
        if kind == "read":
            take(b, "read", n)
            continue
        for _ in range(min(n, 5)):
            now = clock.now_ns()
            if in_window(mine, now) < guaranteed:
                assert b.wait_time(other) == 0
                assert b.try_acquire(other)
                mine.append(now)
            elif b.try_acquire(other):
                mine.append(now)


def test_default_submit_reserve() -> None:
    assert default_submit_reserve(150, 30, 10) == 60
    assert default_submit_reserve(45, 30, 10) == 5  # never into the read reserve
    assert default_submit_reserve(2, 1, 0) == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5_000), st.sampled_from(KINDS)), max_size=80), st.sampled_from(KINDS))
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


def test_remaining_is_our_room_and_the_brokers_word() -> None:
    b, clock = budget(per_minute=150, cancel_reserve=30, read_reserve=10)
    assert b.remaining("submit") == b.limit("submit") == 110  # idle: far above the alert's 10
    take(b, "submit", 20)
    assert b.remaining("submit") == 90
    now = clock.now_ns() / 1e9
    b.on_headers(200, 45, now + 20, now)  # the key's other users took most of the broker's minute
    assert b.remaining("submit") == 45 - 30  # above the submit floor (the cancel reserve)
    assert b.remaining("cancel") == 45
    take(b, "cancel", 5)
    assert b.remaining("submit") == 10
    clock.advance(21)  # the broker's window reset: its count no longer applies
    assert b.remaining("submit") == 90 - 0 and b.remaining("cancel") == 150 - 25
    b.on_rate_limited(clock.now_ns() / 1e9 + 5)
    assert b.remaining("submit") == 0 and b.remaining("cancel") == 125  # paused after a 429; cancels go
    clock.advance(60)
    assert b.remaining("submit") == 110
