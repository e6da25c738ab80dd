"""Staleness transitions, driven by a ManualClock."""

from __future__ import annotations

from pyrt.bus.schema import SymbolStatus
from pyrt.domain.clock import ManualClock
from pyrt.services.market_data.core import NO_QUOTE_YET, StalenessTracker


def make(clock: ManualClock, stale_after_s: float = 5.0) -> StalenessTracker:
    return StalenessTracker(["AAPL", "MSFT"], stale_after_s, clock.now_ns())


def test_symbols_start_stale_and_the_first_quote_makes_them_fresh_once():
    clock = ManualClock()
    t = make(clock)
    assert t.statuses() == [SymbolStatus("AAPL", True, NO_QUOTE_YET), SymbolStatus("MSFT", True, NO_QUOTE_YET)]
    assert t.seen("AAPL", clock.now_ns()) == SymbolStatus("AAPL", False, "")
    assert t.seen("AAPL", clock.now_ns()) is None
    assert t.is_stale("MSFT") and not t.is_stale("AAPL")
    assert t.check(clock.now_ns()) == []  # MSFT already stale: no second transition


def test_stale_exactly_at_the_limit_and_reported_once():
    clock = ManualClock()
    t = make(clock)
    t.seen("AAPL", clock.now_ns())
    clock.advance(4.999)
    assert t.check(clock.now_ns()) == []
    clock.advance(0.001)
    assert t.check(clock.now_ns()) == [SymbolStatus("AAPL", True, "no quote for 5.0s")]
    clock.advance(10)
    assert t.check(clock.now_ns()) == []
    assert t.seen("AAPL", clock.now_ns()) == SymbolStatus("AAPL", False, "")


def test_a_quote_resets_the_timer():
    clock = ManualClock()
    t = make(clock)
    t.seen("AAPL", clock.now_ns())
    for _ in range(10):
        clock.advance(4)
        assert t.seen("AAPL", clock.now_ns()) is None
        assert t.check(clock.now_ns()) == []


def test_disconnect_makes_every_fresh_symbol_stale():
    clock = ManualClock()
    t = make(clock)
    t.seen("AAPL", clock.now_ns())
    assert t.mark_all_stale("feed disconnected: closed") == [SymbolStatus("AAPL", True, "feed disconnected: closed")]
    assert t.mark_all_stale("again") == []


def test_symbol_changes_and_unknown_symbols():
    clock = ManualClock()
    t = make(clock)
    assert t.seen("TSLA", clock.now_ns()) is None  # not tracked
    assert t.set_symbols(["MSFT", "NVDA"], clock.now_ns()) == [SymbolStatus("NVDA", True, NO_QUOTE_YET)]
    assert t.symbols == ["MSFT", "NVDA"]
    assert t.seen("AAPL", clock.now_ns()) is None
    clock.advance(60)
    assert t.check(clock.now_ns()) == []  # both still waiting for their first quote


def test_stale_after_can_change_live():
    clock = ManualClock()
    t = make(clock)
    t.seen("AAPL", clock.now_ns())
    clock.advance(2)
    t.stale_after_s = 1.5
    assert [s.symbol for s in t.check(clock.now_ns())] == ["AAPL"]
