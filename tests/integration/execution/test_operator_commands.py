"""Operator commands on the execution engine (cancel one, cancel all, liquidate, halt/resume) and the
dead-man watchdog."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from pyrt.bus import schema as wire
from pyrt.bus.zmq import RequestClient, ZmqPublisher
from pyrt.domain.enums import OrderType, TimeInForce
from tests.support.bus import bus_key
from tests.support.deploy import make_deployment, wait_for

from .conftest import EngineThread, Sim, intent, running_engine, send


def command(client: RequestClient, action: str, **args: str) -> wire.ControlResult:
    env = client.request(wire.ControlCommand(action, dict(args), reason="test", actor="pytest"), timeout_ms=15000)
    assert isinstance(env.payload, wire.ControlResult)
    return env.payload


def resting(n: int, price: str = "90") -> object:
    return intent(n, qty=1, order_type=OrderType.LIMIT, limit_price=Decimal(price), tif=TimeInForce.GTC)


def test_cancel_all_waits_for_the_broker_to_confirm_zero_open_orders(sim: Sim, deployment: Path):
    with running_engine(deployment) as (engine, client):
        for n in range(3):
            assert send(client, resting(n)).accepted
        wait_for(lambda: sum(o["status"] == "new" for o in sim.orders()) == 3, 10, "orders resting")
        result = command(client, "cancel_all")
        assert result.ok and result.data["open_orders_after"] == 0
        assert not [o for o in sim.orders() if o["status"] in ("new", "accepted", "partially_filled")]


def test_cancel_one_order_by_either_id(sim: Sim, deployment: Path):
    with running_engine(deployment) as (engine, client):
        first, second = send(client, resting(40)), send(client, resting(41))
        wait_for(lambda: sum(o["status"] == "new" for o in sim.orders()) == 2, 10, "orders resting")
        result = command(client, "cancel", order_id=first.client_order_id)
        assert result.ok, result.detail
        assert result.data["client_order_id"] == first.client_order_id
        status = lambda: {o["client_order_id"]: o["status"] for o in sim.orders()}  # noqa: E731
        wait_for(lambda: status()[first.client_order_id] == "canceled", 10, "the first order canceled")
        assert status()[second.client_order_id] == "new"  # the other one untouched
        wait_for(lambda: not command(client, "cancel", order_id=first.client_order_id).ok, 10, "the engine knows")
        broker_id = next(o["id"] for o in sim.orders() if o["client_order_id"] == second.client_order_id)
        assert command(client, "cancel", order_id=broker_id).ok  # by the broker's id too
        wait_for(lambda: status()[second.client_order_id] == "canceled", 10, "the second order canceled")
        unknown = command(client, "cancel", order_id="no-such-order")
        assert not unknown.ok and "no open order" in unknown.detail


def test_liquidate_closes_every_position(sim: Sim, deployment: Path):
    with running_engine(deployment) as (engine, client):
        send(client, intent(10, "AAPL", qty=5))
        send(client, intent(11, "MSFT", qty=3))
        send(client, resting(12))
        wait_for(lambda: sim.positions() == {"AAPL": Decimal(5), "MSFT": Decimal(3)}, 10, "positions")
        assert send(client, intent(13, "AAPL", qty=1)).accepted
        command(client, "halt")
        result = command(client, "liquidate")
        assert len(result.data["orders"]) == 2
        wait_for(lambda: sim.positions() == {}, 10, "flat")
        assert not [o for o in sim.orders() if o["status"] == "new"]


def test_halt_and_resume(sim: Sim, deployment: Path):
    with running_engine(deployment) as (engine, client):
        assert command(client, "halt").ok
        ack = send(client, intent(20))
        assert not ack.accepted and ack.reason_code == "EXECUTION_HALTED"
        assert command(client, "resume").ok
        assert send(client, intent(21)).accepted


def test_watchdog_stops_orders_then_cancels_when_risk_and_market_data_go_silent(sim: Sim, tmp_path: Path):
    config_dir = make_deployment(
        tmp_path / "wd",
        sim_url=sim.url,
        system={"execution": {"watchdog_risk_silence_s": 1.0, "watchdog_cancel_after_s": 2.5}},
    )
    engine = EngineThread(config_dir).start()
    cfg = engine.cfg
    risk = ZmqPublisher(cfg.system.risk.publish_address, publisher_id="risk_manager", security=bus_key(cfg))
    client = RequestClient(cfg.system.execution.order_endpoint, timeout_ms=5000, security=bus_key(cfg))
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # a live risk manager: orders pass
            risk.publish(wire.heartbeat("risk_manager"), wire.Heartbeat("risk_manager", "ok", time.time_ns()))
            time.sleep(0.1)
        assert send(client, resting(30)).accepted
        wait_for(lambda: any(o["status"] == "new" for o in sim.orders()), 10, "resting order")
        # silence: first new orders stop, then open orders are cancelled
        wait_for(
            lambda: send(client, resting(31 + int(time.monotonic() * 10) % 1000)).reason_code == "WATCHDOG",
            10,
            "orders refused by the watchdog",
            interval=0.3,
        )
        wait_for(lambda: not [o for o in sim.orders() if o["status"] == "new"], 15, "open orders cancelled")
    finally:
        client.close()
        risk.close()
        engine.stop()


def test_reconcile_reports_then_adopts_the_broker_positions(sim: Sim, deployment: Path):
    import requests

    from .conftest import HEADERS

    requests.post(
        sim.url + "/v2/orders",
        json={"symbol": "MSFT", "qty": "4", "side": "buy", "type": "market", "time_in_force": "day"},
        headers=HEADERS,
        timeout=5,
    ).raise_for_status()
    with running_engine(deployment) as (engine, client):
        report = command(client, "reconcile")
        assert report.data["position_diffs"] == {"MSFT": {"local": "0", "broker": "4"}}
        assert not send(client, intent(40)).accepted  # halted at start-up
        applied = command(client, "reconcile", apply="true")
        assert applied.data["applied"]
        again = command(client, "reconcile")
        assert again.ok and again.data["position_diffs"] == {} and again.detail == "OK"
        assert send(client, intent(41)).accepted
