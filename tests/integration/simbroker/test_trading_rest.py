"""Order lifecycles through alpaca-py's TradingClient against the sim broker."""

from __future__ import annotations

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
)

from .conftest import SECRET, Sim, wait_for


def market(symbol="AAPL", qty=10, side=OrderSide.BUY, tif=TimeInForce.DAY, **kw):
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=tif, **kw)


def test_account_and_clock(sim: Sim):
    c = sim.client()
    acct = c.get_account()
    assert float(acct.cash) == 100_000 and float(acct.buying_power) == 100_000
    clock = c.get_clock()
    assert clock.is_open is True


def test_market_order_fills_at_ask_and_position_appears(sim: Sim):
    c = sim.client()
    order = c.submit_order(market(client_order_id="mkt-1"))
    assert order.client_order_id == "mkt-1" and order.status == OrderStatus.ACCEPTED
    filled = c.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and float(filled.filled_avg_price) == 101.0
    assert c.get_order_by_client_id("mkt-1").id == order.id
    pos = c.get_open_position("AAPL")
    assert float(pos.qty) == 10 and float(pos.avg_entry_price) == 101.0
    assert float(c.get_account().cash) == 100_000 - 1010


def test_partial_fill_then_fill_across_quotes(sim: Sim):
    c = sim.client()
    order = c.submit_order(market(qty=250))
    assert c.get_order_by_id(order.id).status == OrderStatus.PARTIALLY_FILLED
    sim.quote("AAPL", 99.5, 101.5, 300, 100)
    o = c.get_order_by_id(order.id)
    assert o.status == OrderStatus.FILLED and float(o.filled_qty) == 250


def test_limit_rests_then_cancel(sim: Sim):
    c = sim.client()
    order = c.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=95)
    )
    assert [o.id for o in c.get_orders()] == [order.id]
    c.cancel_order_by_id(order.id)
    assert c.get_order_by_id(order.id).status == OrderStatus.CANCELED
    with pytest.raises(APIError) as err:
        c.cancel_order_by_id(order.id)
    assert err.value.status_code == 422


def test_limit_fills_when_market_crosses(sim: Sim):
    c = sim.client()
    order = c.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=100)
    )
    sim.quote("AAPL", 98.0, 99.5)
    o = c.get_order_by_id(order.id)
    assert o.status == OrderStatus.FILLED and float(o.filled_avg_price) == 99.5


def test_stop_and_stop_limit(sim: Sim):
    c = sim.client()
    c.submit_order(market(qty=20))
    stop = c.submit_order(
        StopOrderRequest(symbol="AAPL", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, stop_price=95)
    )
    stop_limit = c.submit_order(
        StopLimitOrderRequest(
            symbol="AAPL", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, stop_price=95, limit_price=94.5
        )
    )
    sim.quote("AAPL", 94.0, 96.0, 300, 300)
    assert c.get_order_by_id(stop.id).status == OrderStatus.FILLED
    assert c.get_order_by_id(stop_limit.id).status == OrderStatus.NEW  # triggered, bid below limit
    sim.quote("AAPL", 94.6, 95.0, 300, 300)
    assert float(c.get_order_by_id(stop_limit.id).filled_avg_price) == 94.6


def test_ioc_and_fok(sim: Sim):
    c = sim.client()
    ioc = c.submit_order(market(qty=250, tif=TimeInForce.IOC))
    o = c.get_order_by_id(ioc.id)
    assert o.status == OrderStatus.CANCELED and float(o.filled_qty) == 200
    fok = c.submit_order(
        LimitOrderRequest(symbol="MSFT", qty=150, side=OrderSide.BUY, time_in_force=TimeInForce.FOK, limit_price=52)
    )
    o = c.get_order_by_id(fok.id)
    assert o.status == OrderStatus.CANCELED and float(o.filled_qty) == 0


def test_day_orders_expire_at_session_close(sim: Sim):
    c = sim.client()
    day = c.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=90)
    )
    gtc = c.submit_order(
        LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=90)
    )
    sim.admin("POST", "/admin/market", {"open": False})
    wait_for(lambda: c.get_order_by_id(day.id).status == OrderStatus.EXPIRED, what="day order expiry")
    assert c.get_clock().is_open is False
    assert c.get_order_by_id(gtc.id).status == OrderStatus.NEW
    out_of_hours = c.submit_order(market(qty=1))
    assert c.get_order_by_id(out_of_hours.id).status == OrderStatus.NEW  # queued until the open
    sim.admin("POST", "/admin/market", {"open": True})
    wait_for(lambda: c.get_order_by_id(out_of_hours.id).status == OrderStatus.FILLED, what="fill at the open")


def test_cancel_all_returns_207_per_order(sim: Sim):
    c = sim.client()
    ids = {
        c.submit_order(
            LimitOrderRequest(
                symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=90 + i
            )
        ).id
        for i in range(3)
    }
    results = c.cancel_orders()
    assert {r.id for r in results} == ids and all(r.status == 200 for r in results)
    assert c.get_orders() == []


def test_close_position_and_close_all(sim: Sim):
    c = sim.client()
    c.submit_order(market("AAPL", 10))
    c.submit_order(market("MSFT", 10))
    c.submit_order(
        LimitOrderRequest(symbol="GOOGL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=100)
    )
    order = c.close_position("AAPL", ClosePositionRequest(qty="4"))
    assert order.side == OrderSide.SELL and float(order.qty) == 4
    assert float(c.get_open_position("AAPL").qty) == 6
    results = c.close_all_positions(cancel_orders=True)
    assert sorted(r.symbol for r in results) == ["AAPL", "MSFT"]
    assert c.get_all_positions() == [] and c.get_orders() == []
    with pytest.raises(APIError) as err:
        c.get_open_position("AAPL")
    assert err.value.status_code == 404


@pytest.mark.parametrize(
    "request_,status",
    [
        (market(qty=5000), 403),  # insufficient buying power
        (market(side=OrderSide.SELL), 403),  # insufficient qty, shorting off
        (market(symbol="NOPE"), 422),
        (
            LimitOrderRequest(
                symbol="AAPL", qty=1.5, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=90
            ),
            422,
        ),
    ],
)
def test_rejections_answer_like_alpaca(sim: Sim, request_, status):
    with pytest.raises(APIError) as err:
        sim.client().submit_order(request_)
    assert err.value.status_code == status
    assert err.value.code in (40310000, 40010001, 42210000)


def test_client_order_id_unique_forever_and_at_most_48_chars(sim: Sim):
    c = sim.client()
    o = c.submit_order(
        LimitOrderRequest(
            symbol="AAPL",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=90,
            client_order_id="dup",
        )
    )
    c.cancel_order_by_id(o.id)
    with pytest.raises(APIError, match="client_order_id must be unique") as err:
        c.submit_order(market(client_order_id="dup"))
    assert err.value.status_code == 422
    with pytest.raises(APIError, match="48"):
        c.submit_order(market(client_order_id="x" * 49))


def test_list_orders_filters_and_limit(sim: Sim):
    c = sim.client()
    c.submit_order(market(qty=1))
    for i in range(3):
        c.submit_order(
            LimitOrderRequest(
                symbol="MSFT", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=40 + i
            )
        )
    assert len(c.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))) == 3
    assert len(c.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))) == 1
    assert len(c.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=2))) == 2
    assert len(c.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["AAPL"]))) == 1
    first = c.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, direction="asc"))[0]
    later = c.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, after=first.submitted_at))
    assert first.id not in {o.id for o in later} and len(later) == 3


def test_wrong_keys_get_401(sim: Sim):
    bad = TradingClient("PYRT-SIM-KEY", SECRET + "x", paper=True, url_override=sim.url)
    with pytest.raises(APIError) as err:
        bad.get_account()
    assert err.value.status_code == 401


def test_rate_limit_429_with_headers(sim_factory):
    s = sim_factory(rate_limit_per_minute=5)
    c = s.client()
    for _ in range(5):
        c.get_clock()
    with pytest.raises(APIError) as err:
        c.get_clock()
    assert err.value.status_code == 429
    resp = err.value.response
    assert resp.headers["X-Ratelimit-Limit"] == "5" and resp.headers["X-Ratelimit-Remaining"] == "0"
    assert int(resp.headers["X-Ratelimit-Reset"]) > 0
