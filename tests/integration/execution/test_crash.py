"""SIGKILL the execution engine while orders are in flight (between the journal commit and
the HTTP call, after the HTTP reply before its journal write, after a fill), restart it,
and show zero lost and zero duplicate orders and positions equal to the broker's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pyrt.bus.schema import RequestTimeout
from pyrt.bus.zmq import RequestClient
from pyrt.persistence.journal import Journal
from pyrt.persistence.projections import replay
from tests.support.bus import bus_key
from tests.support.deploy import wait_for
from tests.support.engine import EngineProcess

from .conftest import Sim, intent, send


def _projection(cfg):
    with Journal(cfg.system.execution.journal_path, read_only=True) as j:
        return replay(j.iter_records())


@pytest.mark.parametrize(
    "failpoint", ["after_journal_before_send", "after_send_before_ack_write", "after_fill_before_position_update"]
)
def test_kill_mid_order_then_restart_loses_and_duplicates_nothing(sim: Sim, deployment: Path, failpoint: str):
    engine = EngineProcess(deployment, failpoints=failpoint)
    cfg = engine.cfg
    client = RequestClient(cfg.system.execution.order_endpoint, timeout_ms=3000, security=bus_key(cfg))
    try:
        try:
            send(client, intent(100, qty=4))
        except (RequestTimeout, AssertionError):
            pass  # the process may die before its reply leaves
        assert engine.wait_exit() == 137  # killed at the failpoint, no clean-up
    finally:
        client.close()
    engine = EngineProcess(deployment)  # restart: replay, reconcile, resolve
    client = RequestClient(cfg.system.execution.order_endpoint, timeout_ms=5000, security=bus_key(cfg))
    try:
        wait_for(lambda: all(o.is_terminal for o in _projection(cfg).orders.values()), 20, "orders resolved")
        # more orders after the restart still work
        ack = send(client, intent(101, qty=1))
        assert ack.accepted
        wait_for(lambda: all(o.is_terminal for o in _projection(cfg).orders.values()), 20, "orders resolved")
    finally:
        client.close()
        engine.stop()
    proj = _projection(cfg)
    at_broker = [o["client_order_id"] for o in sim.orders()]
    assert len(at_broker) == len(set(at_broker)), "an order reached the broker twice"
    journalled = set(proj.orders)
    assert journalled == set(at_broker), "a journalled order is missing at the broker (or the reverse)"
    assert sim.positions() == {"AAPL": Decimal(5)}
    assert proj.position("AAPL").qty == Decimal(5)
