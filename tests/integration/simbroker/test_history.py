"""Historical bars through alpaca-py's StockHistoricalDataClient."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestQuoteRequest
from alpaca.data.timeframe import TimeFrame

from .conftest import KEY, SECRET, Sim

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "historical"


def test_synthetic_daily_bars_are_deterministic(sim: Sim):
    c = StockHistoricalDataClient(KEY, SECRET, url_override=sim.url)
    req = StockBarsRequest(
        symbol_or_symbols=["AAPL", "MSFT"],
        timeframe=TimeFrame.Day,
        start=datetime(2025, 1, 1, tzinfo=UTC),
        end=datetime(2025, 3, 1, tzinfo=UTC),
    )
    a = c.get_stock_bars(req)
    b = c.get_stock_bars(req)
    assert len(a.data["AAPL"]) > 30 and len(a.data["MSFT"]) > 30
    assert [x.close for x in a.data["AAPL"]] == [x.close for x in b.data["AAPL"]]
    assert all(x.low <= min(x.open, x.close) <= max(x.open, x.close) <= x.high for x in a.data["AAPL"])


def test_latest_quote_is_the_current_quote(sim: Sim):
    sim.quote("AAPL", 10.0, 10.5)
    c = StockHistoricalDataClient(KEY, SECRET, url_override=sim.url)
    q = c.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="AAPL"))["AAPL"]
    assert (q.bid_price, q.ask_price) == (10.0, 10.5)


def test_bars_from_historical_csv_files(sim_factory):
    s = sim_factory(history_paths=(SHARED / "AAPL.csv",))
    c = StockHistoricalDataClient(KEY, SECRET, url_override=s.url)
    bars = c.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols="AAPL",
            timeframe=TimeFrame.Day,
            start=datetime(2024, 11, 1, tzinfo=UTC),
            end=datetime(2025, 11, 1, tzinfo=UTC),
        )
    ).data["AAPL"]
    assert len(bars) == 249
    assert bars[0].close == 222.91


def test_newest_bars_first_with_sort_desc(sim: Sim):
    """What a gap fill asks for: the newest N minute bars of a window, newest first."""
    from alpaca.common.enums import Sort

    c = StockHistoricalDataClient(KEY, SECRET, url_override=sim.url, raw_data=True)
    window = dict(
        symbol_or_symbols="AAPL",
        timeframe=TimeFrame.Minute,
        start=datetime(2025, 3, 3, tzinfo=UTC),
        end=datetime(2025, 3, 8, tzinfo=UTC),
    )
    every = c.get_stock_bars(StockBarsRequest(**window))["AAPL"]
    newest = c.get_stock_bars(StockBarsRequest(**window, limit=25, sort=Sort.DESC))["AAPL"]
    assert len(every) == 5 * 390  # five sessions of minute bars
    assert newest == every[::-1][:25]
