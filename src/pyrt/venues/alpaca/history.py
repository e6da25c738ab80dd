"""Historical minute bars through alpaca-py's StockHistoricalDataClient (the sim broker or
Alpaca's data API), for market-data's gap fill after a (re)connect.

Raw JSON bars are returned (raw_data=True): market-data normalises them with the rest of
its input. The session is fitted like the trading client's (timeouts, no proxy lookup on
loopback)."""

from __future__ import annotations

from typing import Any

from alpaca.common.enums import Sort
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame

from pyrt.domain.clock import ns_to_datetime
from pyrt.venues.alpaca.adapter import configure_client


class MinuteBarsClient:
    def __init__(self, data_rest_url: str, key_id: str, secret_key: str, feed: str, timeout_s: float = 10.0) -> None:
        self.client = StockHistoricalDataClient(key_id, secret_key, raw_data=True, url_override=data_rest_url)
        configure_client(self.client, data_rest_url, timeout_s)
        self.feed = DataFeed(feed)

    def newest(self, symbol: str, after_ns: int, until_ns: int, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` minute bars of `symbol` with times in (after_ns, until_ns],
        as Alpaca's JSON bars (newest first)."""
        request = StockBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=TimeFrame.Minute,
            feed=self.feed,
            start=ns_to_datetime(after_ns + 1),
            end=ns_to_datetime(until_ns),
            limit=limit,
            sort=Sort.DESC,
        )
        answer = self.client.get_stock_bars(request)
        return list(answer.get(symbol, [])) if isinstance(answer, dict) else []

    def daily(self, symbol: str, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        """Daily bars of `symbol` starting within [start_ns, end_ns], oldest first, as
        Alpaca's JSON bars (for `pyrt model train --symbols`); pages are followed by alpaca-py."""
        request = StockBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=TimeFrame.Day,
            feed=self.feed,
            start=ns_to_datetime(start_ns),
            end=ns_to_datetime(end_ns),
            sort=Sort.ASC,
        )
        answer = self.client.get_stock_bars(request)
        return list(answer.get(symbol, [])) if isinstance(answer, dict) else []
