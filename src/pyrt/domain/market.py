"""Market data records. Prices here are floats: they come from a feed and feed indicators;
orders convert to Decimal where money is computed."""

from __future__ import annotations

import msgspec


class Quote(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    bid_price: float
    bid_size: float
    ask_price: float
    ask_size: float
    ts_ns: int  # event time, nanoseconds since the epoch (UTC)

    @property
    def mid(self) -> float:
        return (self.bid_price + self.ask_price) / 2.0


class Trade(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    price: float
    size: float
    ts_ns: int
    trade_id: int = 0


MINUTE_BAR_NS = 60_000_000_000  # a minute bar's length; a bar's time is its start


class Bar(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    ts_ns: int  # start of the bar
    trade_count: int = 0
    vwap: float = 0.0
