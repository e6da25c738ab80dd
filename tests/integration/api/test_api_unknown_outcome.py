"""Review D5: when the risk manager approves an order but the execution engine does not
answer in time, the order may have been journalled and sent, so POST /api/v1/orders
answers 202 "outcome unknown" with the client_order_id and where to check it, never 409
"denied" (an operator who took it for a denial and retried would double the position).

Real parts: the risk manager as its own process (`pyrt run risk_manager`), a stand-in
execution endpoint (a ZeroMQ ROUTER on the engine's address that takes requests and never
answers) and the API over the real facade."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pyrt.bus import schema as wire
from pyrt.bus.security import activate, deactivate, for_config
from pyrt.bus.zmq import ReplyServer
from pyrt.config import AppConfig, load_config
from pyrt.domain.ids import client_order_id
from pyrt.ops.api import build_api
from pyrt.ops.auth import TokenSet
from pyrt.ops.facade import ControlFacade
from pyrt.ops.status import read_ready_info
from tests.support.deploy import make_deployment, wait_for

from .conftest import ADMIN, READ, auth
from .order_path import QuoteFeed, ServiceProcess


class SilentEngine:
    """Binds the execution engine's order endpoint, records every request, answers none."""

    def __init__(self, cfg: AppConfig) -> None:
        self.server = ReplyServer(
            cfg.system.execution.order_endpoint, server_id="silent_engine", security=for_config(cfg)
        )
        self.received: list[object] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="silent-engine")
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.received += [env.payload for _identity, env in self.server.poll(50)]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.server.close()


@pytest.fixture
def risk_without_engine(tmp_path: Path) -> Iterator[tuple[TestClient, SilentEngine, AppConfig]]:
    config_dir = make_deployment(
        tmp_path / "root", sim_url="http://127.0.0.1:9", system={"signals": {"strategies": []}}
    )
    cfg = load_config(config_dir)
    engine = SilentEngine(cfg)
    feed = QuoteFeed(cfg.system.market_data.zmq_publish_address, cfg)
    risk = ServiceProcess("risk_manager", config_dir, cfg.system.paths.logs_dir)
    activate(for_config(cfg))  # the facade under test talks to the risk manager as the control process does
    try:
        wait_for(lambda: read_ready_info(cfg, "risk_manager") or risk.proc.poll() is not None, 30, "risk ready", 0.05)
        assert risk.proc.poll() is None, f"risk_manager exited: see {cfg.system.paths.logs_dir}/risk_manager.out"
        app = build_api(cfg, ControlFacade(cfg), TokenSet(ADMIN, READ, from_env=True))
        with TestClient(app) as client:
            yield client, engine, cfg
    finally:
        deactivate(for_config(cfg))
        risk.stop()
        feed.close()
        engine.close()


def test_engine_timeout_is_202_outcome_unknown_not_409(
    risk_without_engine: tuple[TestClient, SilentEngine, AppConfig],
) -> None:
    client, engine, cfg = risk_without_engine

    def post() -> object:
        res = client.post(
            "/api/v1/orders",
            headers=auth(ADMIN),
            json={"symbol": "AAPL", "side": "buy", "qty": "1", "order_type": "market", "reason": "D5"},
        )
        # until the risk manager has its first quote (a PUB/SUB slow joiner) it denies NO_MARKET_DATA
        return None if res.json().get("reason_code") == "NO_MARKET_DATA" else res

    r = wait_for(post, 20, "the risk manager has a quote", 0.1)
    assert r.status_code == 202, r.text
    body = r.json()
    coid = client_order_id("manual", body["intent_id"])
    assert body["outcome"] == "unknown" and body["client_order_id"] == coid
    assert body["reason_code"] == "EXECUTION_TIMEOUT" and "denied" not in body["detail"]
    assert f"/api/v1/orders/{coid}" in body["detail"] and r.headers["location"] == f"/api/v1/orders/{coid}"
    # the risk manager really forwarded it: the engine could have journalled and sent it
    forwarded = [p for p in engine.received if isinstance(p, wire.OrderIntentMsg)]
    assert [p.intent.intent_id for p in forwarded] == [body["intent_id"]]
    entry = ControlFacade(cfg).audit.entries(1)[0]
    assert entry["action"] == "order.submit" and entry["result"]["outcome"] == "unknown"
