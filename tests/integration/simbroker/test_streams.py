"""trade_updates through alpaca-py's TradingStream, market data through StockDataStream."""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any

import pytest
from alpaca.data.live.stock import StockDataStream
from alpaca.data.models import Quote as AlpacaQuote
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from .conftest import KEY, SECRET, Sim, TradeUpdates, wait_for


def test_trade_updates_for_a_partial_then_full_fill(sim: Sim, trade_updates: TradeUpdates):
    c = sim.client()
    order = c.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=250, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    new, partial = trade_updates.take(2)
    assert new["event"] == "new" and new["order"]["id"] == str(order.id)
    assert partial["event"] == "partial_fill"
    assert partial["qty"] == "200" and partial["price"] == "101" and partial["position_qty"] == "200"
    assert partial["execution_id"] and partial["timestamp"].endswith("Z")
    sim.quote("AAPL", 99.0, 101.5, 100, 100)
    fill = trade_updates.next()
    assert fill["event"] == "fill" and fill["position_qty"] == "250" and fill["order"]["status"] == "filled"
    # the parsed model accepts every event the sim sends
    for ev in (new, partial, fill):
        TradeUpdate(**ev)


def test_trade_updates_cancel_expire_and_rejections(sim: Sim, trade_updates: TradeUpdates):
    c = sim.client()
    o = c.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=90)
    )
    c.cancel_order_by_id(o.id)
    assert [e["event"] for e in trade_updates.take(2)] == ["new", "canceled"]
    c.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=90)
    )
    sim.admin("POST", "/admin/market", {"open": False})
    assert [e["event"] for e in trade_updates.take(2)] == ["new", "expired"]
    sim.admin("POST", "/admin/market", {"open": True})
    sim.admin("POST", "/admin/faults", {"reject_next": {"count": 1, "mode": "stream"}})
    r = c.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    ev = trade_updates.next()
    assert ev["event"] == "rejected" and ev["order"]["id"] == str(r.id)


class DataCollector:
    def __init__(self, sim: Sim, raw: bool = True) -> None:
        self.stream = StockDataStream(KEY, SECRET, raw_data=raw, url_override=sim.url.replace("http", "ws") + "/v2/iex")
        self.items: queue.Queue[Any] = queue.Queue()

        async def on_item(item: Any) -> None:
            self.items.put(item)

        self.stream.subscribe_quotes(on_item, "AAPL")
        self.stream.subscribe_trades(on_item, "AAPL")
        self.stream.subscribe_bars(on_item, "AAPL")
        self.thread = threading.Thread(target=self.stream.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        try:
            self.stream.stop()
        except Exception:  # noqa: BLE001
            pass
        self.thread.join(5)


def test_market_data_stream_quotes_are_the_quotes_the_core_fills_against(sim: Sim):
    dc = DataCollector(sim, raw=False)
    try:
        wait_for(
            lambda: "PYRT-SIM-KEY" in sim.broker.data_subs and sim.broker.data_subs["PYRT-SIM-KEY"].quotes,
            what="subscription",
        )
        sim.quote("AAPL", 120.0, 120.5, 300, 300)
        q = dc.items.get(timeout=5)
        assert isinstance(q, AlpacaQuote) and q.symbol == "AAPL"
        assert (q.bid_price, q.ask_price, q.bid_size, q.ask_size) == (120.0, 120.5, 300, 300)
        assert q.timestamp.tzinfo is not None
        order = sim.client().submit_order(
            MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
        )
        assert float(sim.client().get_order_by_id(order.id).filled_avg_price) == 120.5
    finally:
        dc.stop()


def test_generated_market_streams_quotes_trades_and_bars(sim_factory):
    s = sim_factory(quotes_per_second=200, tick_ms=10)
    dc = DataCollector(s, raw=True)
    try:
        kinds: set[str] = set()
        while not {"q", "t"} <= kinds:  # a bar ("b") may come too when a minute ends meanwhile
            msg = dc.items.get(timeout=5)
            kinds.add(msg["T"])
            assert msg["S"] == "AAPL"
            if msg["T"] == "q":
                assert 0 < msg["bp"] < msg["ap"] and msg["bs"] > 0
    finally:
        dc.stop()


def test_second_data_connection_gets_connection_limit_exceeded(sim: Sim):
    first = DataCollector(sim)
    try:
        wait_for(lambda: "PYRT-SIM-KEY" in sim.broker.data_subs, what="first connection")
        second = StockDataStream(KEY, SECRET, url_override=sim.url.replace("http", "ws") + "/v2/iex")

        async def connect() -> None:
            await second._start_ws()

        with pytest.raises(ValueError, match="connection limit exceeded"):
            asyncio.run(connect())
    finally:
        first.stop()


def test_wrong_key_on_data_stream_fails_auth(sim: Sim):
    bad = StockDataStream(KEY, "wrong", url_override=sim.url.replace("http", "ws") + "/v2/sip")
    with pytest.raises(ValueError, match="auth failed"):
        asyncio.run(bad._start_ws())
