"""The execution engine against the sim broker: journal first, exactly once, recovery."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pyrt.bus import schema as wire
from pyrt.bus.zmq import RequestClient
from pyrt.config import load_config
from pyrt.domain.enums import OrderType, TimeInForce
from pyrt.persistence.journal import Journal
from pyrt.persistence.projections import replay
from tests.support.bus import bus_key
from tests.support.deploy import wait_for

from .conftest import (
    EngineThread,
    Sim,
    intent,
    journal_kinds,
    reports,
    running_engine,
    send,
)


def test_order_is_journalled_before_submit_and_filled_exactly_once(sim: Sim, deployment: Path):
    engine = EngineThread(deployment).start()
    cfg = engine.cfg
    sub = reports(cfg)
    client = RequestClient(cfg.system.execution.order_endpoint, timeout_ms=5000, security=bus_key(cfg))
    try:
        ack = send(client, intent(1, qty=5))
        assert ack.accepted and ack.client_order_id
        wait_for(lambda: ("fill", ack.client_order_id) in journal_kinds(cfg), 10, "fill journalled")
        kinds = [k for k, c in journal_kinds(cfg) if c == ack.client_order_id]
        assert kinds[:2] == ["intent", "submit_sent"] and "ack" in kinds
        at_broker = [o for o in sim.orders() if o["client_order_id"] == ack.client_order_id]
        assert len(at_broker) == 1 and at_broker[0]["status"] == "filled"
        assert sim.positions() == {"AAPL": Decimal(5)}
        # the same intent again is a duplicate, not a second order
        dup = send(client, intent(1, qty=5))
        assert dup.duplicate and dup.client_order_id == ack.client_order_id
        assert len([o for o in sim.orders() if o["client_order_id"] == ack.client_order_id]) == 1
        got = wait_for(
            lambda: [
                e
                for _, e in sub.recv_batch(100)
                if isinstance(e.payload, wire.ExecutionReport) and e.payload.event == "fill"
            ],
            10,
            "fill report",
        )
        assert got[0].payload.position_qty == Decimal(5)
    finally:
        client.close()
        sub.close()
        assert engine.stop() == 0


def test_broker_rejection_is_final_and_reported(sim: Sim, deployment: Path):
    with running_engine(deployment) as (engine, client):
        ack = send(client, intent(2, side="sell", qty=3))  # no position, shorting off: 403
        assert ack.accepted
        cfg = engine.cfg
        wait_for(lambda: _state(cfg, ack.client_order_id) == "REJECTED", 10, "rejected")


def test_unknown_outcome_resolved_by_lookup_never_by_second_post(sim: Sim, deployment: Path):
    sim.admin("POST", "/admin/faults", {"drop_reply": {"count": 1}})
    with running_engine(deployment) as (engine, client):
        ack = send(client, intent(3, qty=2))
        cfg = engine.cfg
        wait_for(lambda: _state(cfg, ack.client_order_id) == "FILLED", 15, "resolved as filled")
        kinds = [k for k, c in journal_kinds(cfg) if c == ack.client_order_id]
        assert "unknown" in kinds
        assert len([o for o in sim.orders() if o["client_order_id"] == ack.client_order_id]) == 1


def test_restart_replays_journal_and_reconciles(sim: Sim, deployment: Path):
    engine = EngineThread(deployment).start()
    client = RequestClient(engine.cfg.system.execution.order_endpoint, timeout_ms=5000, security=bus_key(engine.cfg))
    ack = send(client, intent(4, qty=3, order_type=OrderType.LIMIT, limit_price=Decimal(90), tif=TimeInForce.GTC))
    cfg = engine.cfg
    wait_for(lambda: _state(cfg, ack.client_order_id) == "ACCEPTED", 10, "resting order acked")
    client.close()
    assert engine.stop() == 0
    # while the engine is down the resting order fills
    sim.quote("AAPL", 89.0, 89.5)
    engine = EngineThread(deployment).start()
    try:
        wait_for(lambda: _state(cfg, ack.client_order_id) == "FILLED", 10, "fill learned at start-up")
        with Journal(cfg.system.execution.journal_path, read_only=True) as j:
            assert replay(j.iter_records()).position("AAPL").qty == Decimal(3)
    finally:
        engine.stop()


def test_unexplained_broker_position_halts(sim: Sim, deployment: Path, tmp_path: Path):
    # someone else bought shares in this account
    import requests

    from .conftest import HEADERS

    requests.post(
        sim.url + "/v2/orders",
        json={"symbol": "MSFT", "qty": "4", "side": "buy", "type": "market", "time_in_force": "day"},
        headers=HEADERS,
        timeout=5,
    ).raise_for_status()
    with running_engine(deployment) as (engine, client):
        from pyrt.ops.status import read_ready_info

        assert "MSFT: ours 0 broker 4" in read_ready_info(engine.cfg, "execution_engine")["halted"]
        ack = send(client, intent(5, qty=1))
        assert not ack.accepted and ack.reason_code == "EXECUTION_HALTED"


def test_second_engine_on_the_same_account_refuses_to_start(sim: Sim, deployment: Path):
    engine = EngineThread(deployment).start()
    try:
        import pytest

        from pyrt.services.execution.service import AccountLock, AccountLockHeld

        with pytest.raises(AccountLockHeld):
            AccountLock(load_config(deployment).system.execution.lock_path)
    finally:
        engine.stop()


def _state(cfg, coid: str) -> str:
    with Journal(cfg.system.execution.journal_path, read_only=True) as j:
        order = replay(j.iter_records()).orders.get(coid)
    return order.state.name if order else ""
