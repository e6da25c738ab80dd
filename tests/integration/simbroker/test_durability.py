"""The sim broker as a process: SIGKILL loses no acknowledged order; --reset starts fresh."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from pyrt.simbroker.harness import SimBrokerProcess

from .conftest import HEADERS, KEY, SECRET


def client(proc: SimBrokerProcess) -> TradingClient:
    c = TradingClient(KEY, SECRET, paper=True, url_override=proc.url)
    c._retry = 0
    return c


def test_sigkill_loses_no_acknowledged_order(tmp_path: Path):
    proc = SimBrokerProcess(tmp_path / "sim", "--rate-limit", "0").start()
    try:
        c = client(proc)
        filled = c.submit_order(
            MarketOrderRequest(
                symbol="AAPL", qty=7, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id="keep-fill"
            )
        )
        resting = [
            c.submit_order(
                LimitOrderRequest(
                    symbol="MSFT",
                    qty=1,
                    side=OrderSide.BUY,
                    time_in_force=TimeInForce.GTC,
                    limit_price=1 + i,
                    client_order_id=f"rest-{i}",
                )
            )
            for i in range(20)
        ]
        cash_before = c.get_account().cash
        proc.kill()
        proc.start()
        c = client(proc)
        assert c.get_order_by_client_id("keep-fill").status == OrderStatus.FILLED
        assert {o.id for o in c.get_orders()} == {o.id for o in resting}
        assert float(c.get_open_position("AAPL").qty) == 7
        assert c.get_account().cash == cash_before
        with pytest.raises(APIError, match="unique"):
            c.submit_order(
                MarketOrderRequest(
                    symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id="rest-3"
                )
            )
        # new ids never collide with old ones after a restart
        new = c.submit_order(
            MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
        )
        assert new.id not in {filled.id, *(o.id for o in resting)}
    finally:
        proc.stop()
    proc.args.append("--reset")
    proc.start()
    try:
        c = client(proc)
        assert c.get_orders() == [] and c.get_all_positions() == []
        assert float(c.get_account().cash) == 100_000
    finally:
        assert proc.stop() == 0


def test_sigterm_stops_gracefully(tmp_path: Path):
    proc = SimBrokerProcess(tmp_path / "sim").start()
    assert requests.get(proc.url + "/health", timeout=5).json() == {"status": "ok"}
    assert requests.get(proc.url + "/v2/account", headers=HEADERS, timeout=5).status_code == 200
    assert proc.stop() == 0
