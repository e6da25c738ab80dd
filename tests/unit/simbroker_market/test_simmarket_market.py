"""Synthetic market: determinism, quote sanity, spreads, volatility, bars and history."""

import math
from datetime import datetime
from itertools import pairwise

import numpy as np
import pytest

from pyrt.domain.market import Bar, Quote, Trade
from pyrt.simbroker.market import NS_PER_MIN, BarBuilder, SyntheticMarket, history_bars

T0 = 1_717_000_000_000_000_000  # 2024-05-29T16:26:40Z
SEC = 1_000_000_000


def ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp()) * SEC


def run(market: SyntheticMarket, steps: int, dt_ns: int = 100_000_000) -> list[Quote | Trade]:
    events: list[Quote | Trade] = []
    for i in range(steps):
        events.extend(market.step(T0 + i * dt_ns))
    return events


def test_same_seed_same_times_give_identical_events() -> None:
    a = run(SyntheticMarket(["AAPL", "MSFT"], seed=7), 300)
    b = run(SyntheticMarket(["AAPL", "MSFT"], seed=7), 300)
    c = run(SyntheticMarket(["AAPL", "MSFT"], seed=8), 300)
    assert a == b
    assert a != c
    batch_a = SyntheticMarket(["AAPL"], seed=3).quotes_batch(T0, 500)
    batch_b = SyntheticMarket(["AAPL"], seed=3).quotes_batch(T0, 500)
    assert batch_a == batch_b


def test_adding_a_symbol_leaves_the_others_unchanged() -> None:
    alone = run(SyntheticMarket(["AAPL"], seed=1), 200)
    with_others = run(SyntheticMarket(["MSFT", "AAPL", "GOOGL"], seed=1), 200)
    assert alone == [e for e in with_others if e.symbol == "AAPL"]


def test_quotes_are_sane_and_trades_inside_the_spread() -> None:
    events = run(SyntheticMarket(["AAPL", "TSLA"], seed=2, trade_probability=0.3), 2000)
    quotes = [e for e in events if isinstance(e, Quote)]
    trades = [e for e in events if isinstance(e, Trade)]
    assert len(quotes) == 4000
    assert 0.25 < len(trades) / len(quotes) < 0.35
    last_quote: dict[str, Quote] = {}
    for e in events:
        if isinstance(e, Quote):
            assert 0 < e.bid_price < e.ask_price
            assert e.bid_price == round(e.bid_price, 2) and e.ask_price == round(e.ask_price, 2)
            for size in (e.bid_size, e.ask_size):
                assert 100 <= size <= 2000 and size % 100 == 0
            last_quote[e.symbol] = e
        else:
            q = last_quote[e.symbol]
            assert q.bid_price <= e.price <= q.ask_price and e.size > 0 and e.ts_ns == q.ts_ns
    ids = [t.trade_id for t in trades if t.symbol == "AAPL"]
    assert ids == list(range(1, len(ids) + 1))


@pytest.mark.parametrize("spread_bps", [2.0, 10.0, 50.0])
def test_spread_matches_configuration_within_a_cent(spread_bps: float) -> None:
    market = SyntheticMarket(["X"], seed=4, start_price={"X": 250.0}, spread_bps=spread_bps)
    quotes = [e for e in run(market, 500) if isinstance(e, Quote)]
    quotes += market.quotes_batch(T0 + 10**12, 500)
    for q in quotes:
        assert abs((q.ask_price - q.bid_price) - q.mid * spread_bps * 1e-4) <= 0.01 + 1e-9


def test_penny_stock_keeps_a_one_cent_spread() -> None:
    market = SyntheticMarket(["P"], seed=4, start_price={"P": 0.5})
    for q in market.quotes_batch(T0, 200):
        assert q.ask_price - q.bid_price >= 0.01 - 1e-9 and q.bid_price >= 0.01


def test_realised_volatility_is_near_the_configured_one() -> None:
    # 20,000 one-minute steps at vol 25%/yr; a high price keeps cent rounding negligible.
    market = SyntheticMarket(["V"], seed=5, start_price={"V": 5000.0}, vol_annual=0.25)
    market.quotes_batch(T0, 1)
    n = 20_000
    cols = market.quotes_batch_columns(T0 + n * 60 * SEC, n)
    assert np.all(np.diff(cols.ts_ns) == 60 * SEC) and cols.ts_ns[-1] == T0 + n * 60 * SEC
    mids = (cols.bid_price[0] + cols.ask_price[0]) / 2
    dt_years = 60 / (252 * 6.5 * 3600)
    realised = np.diff(np.log(mids)).std() / math.sqrt(dt_years)
    assert 0.22 < realised < 0.28


def test_quotes_batch_orders_by_time_then_symbol() -> None:
    market = SyntheticMarket(["A", "B", "C"], seed=6)
    market.step(T0)
    quotes = market.quotes_batch(T0 + SEC, 10)
    assert [q.symbol for q in quotes[:6]] == ["A", "B", "C", "A", "B", "C"]
    assert [q.ts_ns for q in quotes] == sorted(q.ts_ns for q in quotes)
    assert quotes[-1].ts_ns == T0 + SEC and quotes[0].ts_ns == T0 + SEC // 10
    with pytest.raises(ValueError):
        market.step(T0)  # time went backwards


def test_bar_builder_aggregates_trades_into_aligned_minutes() -> None:
    minute = ns("2024-05-29T14:31:00+00:00")
    builder = BarBuilder()
    feed = [
        Trade("AAPL", 10.0, 100, minute + 1 * SEC),
        Quote("AAPL", 9.0, 100, 13.0, 100, minute + 2 * SEC),  # ignored: the minute has trades
        Trade("AAPL", 12.0, 200, minute + 20 * SEC),
        Trade("AAPL", 9.5, 100, minute + 59 * SEC),
    ]
    assert [b for e in feed for b in builder.on_event(e)] == []
    assert builder.flush_until(minute + 59 * SEC) == []
    (bar,) = builder.on_trade(Trade("AAPL", 11.0, 50, minute + 61 * SEC))
    assert bar == Bar("AAPL", 10.0, 12.0, 9.5, 9.5, 400, minute, 3, (1000 + 2400 + 950) / 400)
    assert bar.ts_ns % NS_PER_MIN == 0
    (nxt,) = builder.flush_until(minute + 2 * NS_PER_MIN)
    assert (nxt.ts_ns, nxt.open, nxt.volume) == (minute + NS_PER_MIN, 11.0, 50)
    assert builder.flush_until(minute + 10 * NS_PER_MIN) == []


def test_bar_builder_uses_quote_mids_without_trades_and_drops_late_data() -> None:
    minute = ns("2024-05-29T14:31:00+00:00")
    builder = BarBuilder()
    for i, (bid, ask) in enumerate([(10.0, 10.2), (10.4, 10.6), (9.8, 10.0)]):
        builder.on_quote(Quote("MSFT", bid, 100, ask, 100, minute + i * SEC))
    builder.on_trade(Trade("AAPL", 5.0, 10, minute + 30 * SEC))
    bars = builder.flush_until(minute + NS_PER_MIN)
    assert [b.symbol for b in bars] == ["AAPL", "MSFT"]
    msft = bars[1]
    assert (msft.open, msft.high, msft.low, msft.close) == pytest.approx((10.1, 10.5, 9.9, 9.9))
    assert msft.volume == 0 and msft.trade_count == 0
    assert msft.vwap == pytest.approx((10.1 + 10.5 + 9.9) / 3)
    assert builder.on_trade(Trade("MSFT", 10.0, 1, minute + 59 * SEC)) == []
    assert builder.late_events == 1


def test_market_into_bars_is_deterministic() -> None:
    def bars(seed: int) -> list[Bar]:
        market, builder, out = SyntheticMarket(["AAPL", "MSFT"], seed=seed), BarBuilder(), []
        for i in range(1200):
            now = T0 + i * 500_000_000
            for e in market.step(now):
                out.extend(builder.on_event(e))
            out.extend(builder.flush_until(now))
        return out

    first = bars(11)
    assert first == bars(11) and len(first) >= 18
    for b in first:
        assert b.ts_ns % NS_PER_MIN == 0
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high


def test_history_is_deterministic_and_independent_of_the_range() -> None:
    start, end = ns("2024-07-01T00:00:00+00:00"), ns("2024-07-10T00:00:00+00:00")
    wide = history_bars("ZZZ", "1Min", start, end, limit=None, seed=1)
    narrow = history_bars("ZZZ", "1Min", ns("2024-07-05T15:00:00+00:00"), end, limit=100, seed=1)
    assert len(narrow) == 100 and narrow[0].ts_ns == ns("2024-07-05T15:00:00+00:00")
    index = [b.ts_ns for b in wide].index(narrow[0].ts_ns)
    assert wide[index : index + 100] == narrow
    assert history_bars("ZZZ", "1Min", start, end, limit=None, seed=2) != wide
    # Regular session minutes only: 09:30-16:00 New York; 3 July closes at 13:00.
    assert len(wide) == 390 * 5 + 210
    assert all(b.ts_ns % NS_PER_MIN == 0 for b in wide)
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in wide)
    assert all(a.close == b.open for a, b in pairwise(wide) if b.ts_ns - a.ts_ns == NS_PER_MIN)


def test_daily_history_aggregates_the_minute_bars_of_each_session() -> None:
    start, end = ns("2024-11-25T00:00:00+00:00"), ns("2024-12-03T00:00:00+00:00")
    days = history_bars("AAPL", "1Day", start, end, seed=3, start_price=200.0)
    # Thanksgiving (28th) and the weekend have no bar; stamps are New York midnight.
    assert [b.ts_ns for b in days] == [
        ns(f"2024-{d}T05:00:00+00:00") for d in ("11-25", "11-26", "11-27", "11-29", "12-02")
    ]
    friday = days[3]
    day_end = friday.ts_ns + 86_400 * SEC
    minutes = history_bars("AAPL", "1Min", friday.ts_ns, day_end, None, seed=3, start_price=200.0)
    assert len(minutes) == 210  # early close at 13:00
    assert friday.open == minutes[0].open and friday.close == minutes[-1].close
    assert friday.high == max(b.high for b in minutes) and friday.low == min(b.low for b in minutes)
    assert friday.volume == sum(b.volume for b in minutes)
    assert all(150 < b.close < 270 for b in days)
    assert len(history_bars("AAPL", "1Day", start, end, limit=2)) == 2
    with pytest.raises(ValueError, match="timeframe"):
        history_bars("AAPL", "5Min", start, end)


def test_market_history_uses_the_symbol_start_price() -> None:
    market = SyntheticMarket(["AAPL"], seed=0, start_price={"AAPL": 1000.0})
    start = ns("2024-03-01T00:00:00+00:00")
    bars = market.history_bars("AAPL", "1Day", start, start + 20 * 86_400 * SEC, limit=5)
    assert len(bars) == 5 and all(700 < b.close < 1400 for b in bars)
    unknown = market.history_bars("NEW", "1Min", start, start + 7 * 86_400 * SEC, limit=3)
    assert [b.symbol for b in unknown] == ["NEW"] * 3
