"""Each fault switch of the sim broker, observed through alpaca-py."""

from __future__ import annotations

import time

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest

from .conftest import Sim, TradeUpdates, wait_for


def limit(cid: str | None = None, price: float = 90):
    return LimitOrderRequest(
        symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=price, client_order_id=cid
    )


def test_reject_next_n_orders_over_http(sim: Sim):
    sim.admin("POST", "/admin/faults", {"reject_next": {"count": 2}})
    c = sim.client()
    for _ in range(2):
        with pytest.raises(APIError) as err:
            c.submit_order(limit())
        assert err.value.status_code == 403
    assert c.submit_order(limit()).status == OrderStatus.ACCEPTED


@pytest.mark.parametrize("status", [500, 503, 429])
def test_http_error_injection(sim: Sim, status: int):
    sim.admin("POST", "/admin/faults", {"http_error": {"status": status, "count": 1}})
    c = sim.client()
    with pytest.raises(APIError) as err:
        c.submit_order(limit("e1"))
    assert err.value.status_code == status
    with pytest.raises(APIError) as err:
        c.get_order_by_client_id("e1")
    assert err.value.status_code == 404  # the failed request placed nothing
    c.submit_order(limit("e2"))
    sim.admin("DELETE", "/admin/faults")


def test_hang_makes_the_client_time_out_but_the_order_lands(sim: Sim):
    sim.admin("POST", "/admin/faults", {"hang": {"seconds": 1.0, "count": 1}})
    c = sim.client(timeout=0.3)
    with pytest.raises(requests.exceptions.Timeout):
        c.submit_order(limit("hung"))
    order = wait_for(lambda: _lookup(sim, "hung"), timeout=5, what="order after the hang")
    assert order.status == OrderStatus.NEW


def _lookup(sim: Sim, cid: str):
    try:
        return sim.client().get_order_by_client_id(cid)
    except APIError:
        return None


def test_drop_reply_accepts_the_order_but_loses_the_answer(sim: Sim):
    sim.admin("POST", "/admin/faults", {"drop_reply": {"count": 1}})
    c = sim.client()
    with pytest.raises(requests.exceptions.RequestException):
        c.submit_order(limit("dropped"))
    assert c.get_order_by_client_id("dropped").status == OrderStatus.NEW
    with pytest.raises(APIError, match="unique"):
        c.submit_order(limit("dropped"))  # a blind re-POST is refused, as at Alpaca


def test_trade_stream_drop_duplicate_reorder(sim: Sim, trade_updates: TradeUpdates):
    c = sim.client()
    sim.admin("POST", "/admin/faults", {"trade_stream": {"duplicate": 1.0}})
    o = c.submit_order(limit())
    a, b = trade_updates.take(2)
    assert a == b and a["event"] == "new" and a["order"]["id"] == str(o.id)
    sim.admin("POST", "/admin/faults", {"trade_stream": {"drop": 1.0}})
    c.cancel_order_by_id(o.id)
    sim.admin("POST", "/admin/faults", {"trade_stream": {"reorder": 1.0}})
    first = c.submit_order(limit(price=91))
    second = c.submit_order(limit(price=92))
    x, y = trade_updates.take(2)
    assert (x["order"]["id"], y["order"]["id"]) == (str(second.id), str(first.id))
    assert trade_updates.events.empty()  # the cancel was dropped


def test_trade_stream_stall_delays_but_delivers(sim: Sim, trade_updates: TradeUpdates):
    sim.admin("POST", "/admin/faults", {"trade_stream": {"stall_seconds": 0.5}})
    t0 = time.monotonic()
    sim.client().submit_order(limit())
    ev = trade_updates.next(timeout=5)
    assert ev["event"] == "new" and time.monotonic() - t0 >= 0.4


def test_disconnect_trade_stream_client_reconnects(sim: Sim, trade_updates: TradeUpdates):
    assert sim.admin("POST", "/admin/disconnect", {"stream": "trade"})["closed"] == 1
    wait_for(lambda: sim.broker.trade_subs, timeout=10, what="reconnect")
    sim.client().submit_order(limit())
    assert trade_updates.next(timeout=5)["event"] == "new"


def test_bad_fault_spec_names_the_field(sim: Sim):
    r = requests.post(sim.url + "/admin/faults", json={"http_error": {"probability": 2}}, headers=_headers(), timeout=5)
    assert r.status_code == 422 and "http_error.probability" in r.json()["message"]
    r = requests.post(sim.url + "/admin/faults", json={"nonsense": {}}, headers=_headers(), timeout=5)
    assert r.status_code == 422 and "faults.nonsense" in r.json()["message"]


def _headers():
    from .conftest import HEADERS

    return HEADERS
