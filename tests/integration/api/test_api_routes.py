"""Each route of the control API with the admin token, on the real order path: it does what
it says, a manual action writes exactly one audit entry (who, from where, why), manual
orders go through the risk checks, refusals carry their status and a detail, /ready
follows the ready files."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pyrt.config import load_config
from pyrt.ops.api import ApiRefused, build_api, check_bind
from pyrt.ops.auth import TokenSet
from pyrt.ops.facade import ControlFacade
from pyrt.ops.status import ready_file
from tests.support.deploy import make_deployment, wait_for

from .conftest import ADMIN, READ, WRONG, auth
from .order_path import OrderPath

H = auth(ADMIN)


class Audited:
    """Asserts that the block wrote exactly one audit entry; `.entry` is that entry."""

    def __init__(self, system: OrderPath, action: str) -> None:
        self.system, self.action = system, action
        self.entry: dict[str, Any] = {}

    def __enter__(self) -> Audited:
        self.before = self.system.audit_count()
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            return
        assert self.system.audit_count() == self.before + 1
        self.entry = self.system.control_entries()[-1]
        assert self.entry["action"] == self.action
        assert self.entry["who"] == "admin" and self.entry["from"].startswith("testclient:")


def order_body(qty: str = "1", **extra: Any) -> dict[str, Any]:
    return {"symbol": "AAPL", "side": "buy", "qty": qty, "order_type": "market", "reason": "route test", **extra}


@pytest.fixture
def clean(system: OrderPath, client: TestClient) -> Iterator[OrderPath]:
    """Start and leave with no open order and no position."""
    assert system.open_order_ids() == [] and system.positions() == {}
    yield system
    client.delete("/api/v1/orders", headers=H)
    if system.positions():
        client.post("/api/v1/positions/liquidate", json={"confirm": True}, headers=H)


def test_reads(client: TestClient, system: OrderPath) -> None:
    status = client.get("/api/v1/status", headers=H).json()
    assert status["circuit_breaker"]["active"] is False
    assert status["automatic_trading"] is True
    assert status["services"]["risk_manager"]["running"] is True
    money = [*status["account"].values(), status["pnl"]["daily"], status["risk"]["total_exposure"]]
    assert all(re.fullmatch(r"-?\d+\.\d\d", m) for m in money), money  # cents, not 28-digit decimals
    assert isinstance(client.get("/api/v1/positions", headers=H).json(), list)
    assert isinstance(client.get("/api/v1/orders", params={"status": "all", "limit": 10}, headers=H).json(), list)
    assert client.get("/api/v1/orders", params={"status": "bogus"}, headers=H).status_code == 422
    assert client.get("/api/v1/orders/no-such-order", headers=H).status_code == 404
    assert isinstance(client.get("/api/v1/audit", params={"limit": 3}, headers=H).json(), list)


def test_manual_orders_go_through_risk(client: TestClient, clean: OrderPath) -> None:
    with Audited(clean, "order.submit") as a:
        res = client.post("/api/v1/orders", json=order_body("3"), headers=H)
    assert res.status_code == 201, res.text
    coid = res.json()["client_order_id"]
    assert a.entry["reason"] == "route test" and a.entry["result"]["approved"] is True
    wait_for(lambda: clean.positions().get("AAPL") == 3, 10, "the order filled")
    order = wait_for(lambda: (o := client.get(f"/api/v1/orders/{coid}", headers=H).json())["fills"] and o, 10, "fills")
    assert order["status"] == "filled" and Decimal(order["filled_avg_price"]) == Decimal("100.02")
    by_broker_id = client.get(f"/api/v1/orders/{order['id']}", headers=H).json()
    assert by_broker_id["client_order_id"] == coid

    before = clean.all_order_ids()
    with Audited(clean, "order.submit") as a:
        res = client.post("/api/v1/orders", json=order_body("5000"), headers=H)
    assert res.status_code == 409
    assert res.json()["approved"] is False and res.json()["reason_code"] == "MAX_ORDER_SIZE"
    assert "MAX_ORDER_SIZE" in res.json()["detail"]
    assert a.entry["result"]["reason_code"] == "MAX_ORDER_SIZE"
    assert clean.all_order_ids() == before

    count = clean.audit_count()
    assert client.post("/api/v1/orders", json=order_body("-1"), headers=H).status_code == 422
    assert client.post("/api/v1/orders", json=order_body(order_type="limit"), headers=H).status_code == 422
    assert clean.audit_count() == count  # invalid requests never reach the facade


def test_breaker_activate_and_deactivate(client: TestClient, system: OrderPath) -> None:
    with Audited(system, "circuit_breaker.activate") as a:
        res = client.post("/api/v1/circuit-breaker/activate", headers=H)  # the guide's bare POST
    assert res.status_code == 200, res.text
    assert a.entry["before"]["active"] is False and a.entry["after"]["active"] is True
    assert client.get("/api/v1/status", headers=H).json()["circuit_breaker"]["active"] is True
    with Audited(system, "order.submit"):
        denied = client.post("/api/v1/orders", json=order_body(), headers=H)
    assert denied.status_code == 409 and denied.json()["reason_code"] == "CIRCUIT_BREAKER_ACTIVE"

    count = system.audit_count()
    res = client.post("/api/v1/circuit-breaker/deactivate", headers=H)  # the guide's bare POST
    assert res.status_code == 422
    assert res.json()["detail"].startswith('a reason is required to deactivate the circuit breaker: send {"reason"')
    assert system.audit_count() == count
    with Audited(system, "circuit_breaker.deactivate") as a:  # a manual activation: no cooldown, no force
        res = client.post("/api/v1/circuit-breaker/deactivate", json={"reason": "issue resolved"}, headers=H)
    assert res.status_code == 200, res.text
    assert a.entry["reason"] == "issue resolved" and a.entry["after"]["active"] is False


def test_trading_disable_and_enable(client: TestClient, system: OrderPath, facade: ControlFacade) -> None:
    with Audited(system, "trading.disable"):
        assert client.post("/api/v1/trading/disable", json={"reason": "safe mode"}, headers=H).status_code == 200
    assert facade.command("signal_bridge", "status").data["trading_enabled"] is False
    with Audited(system, "trading.enable") as a:
        res = client.post("/api/v1/trading/enable", headers=H)
    assert res.status_code == 200 and res.json()["blocked_by"] == [], res.text  # nothing else blocks
    assert facade.command("signal_bridge", "status").data["trading_enabled"] is True
    assert a.entry["before"] == {"automatic_trading": False} and a.entry["after"] == {"automatic_trading": True}


def test_enabling_says_what_still_blocks_trading(client: TestClient, system: OrderPath) -> None:
    assert (
        client.post("/api/v1/circuit-breaker/activate", json={"reason": "blocker test"}, headers=H).status_code == 200
    )
    try:
        res = client.post("/api/v1/trading/enable", headers=H)
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["blocked_by"] == ["circuit breaker active (manual: blocker test)"]
        assert "but every order is still denied: circuit breaker active (manual: blocker test)" in body["detail"]
        assert body["next_steps"] == ['once the cause is fixed: pyrt breaker deactivate --reason "<why it is safe>"']
    finally:
        client.post("/api/v1/circuit-breaker/deactivate", json={"reason": "blocker test over"}, headers=H)


def test_cancel_all(client: TestClient, clean: OrderPath) -> None:
    for price in ("96", "97"):
        res = client.post("/api/v1/orders", json=order_body(order_type="limit", limit_price=price), headers=H)
        assert res.status_code == 201, res.text
    wait_for(lambda: len(clean.open_order_ids()) == 2, 10, "two resting orders")
    with Audited(clean, "orders.cancel_all") as a:
        res = client.delete("/api/v1/orders", headers=H)
    assert res.status_code == 200 and res.json()["open_orders_after"] == 0
    assert clean.open_order_ids() == []
    assert a.entry["before"] == {"open_orders": 2} and a.entry["after"] == {"open_orders": 0}


def test_liquidate_dry_run_then_confirmed(client: TestClient, clean: OrderPath) -> None:
    assert client.post("/api/v1/orders", json=order_body("4"), headers=H).status_code == 201
    wait_for(lambda: clean.positions().get("AAPL") == 4, 10, "a position")
    count = clean.audit_count()
    dry = client.post("/api/v1/positions/liquidate", headers=H)
    assert dry.status_code == 200
    assert dry.json()["dry_run"] is True
    assert [(p["symbol"], p["side"], p["qty"]) for p in dry.json()["would_close"]] == [("AAPL", "sell", "4")]
    assert clean.audit_count() == count and clean.positions() == {"AAPL": 4}
    with Audited(clean, "positions.liquidate"):
        res = client.post("/api/v1/positions/liquidate", json={"confirm": True, "reason": "route test"}, headers=H)
    assert res.status_code == 200, res.text
    assert res.json()["ok"] is True and res.json()["positions_left"] == []
    assert clean.positions() == {}


def test_reconcile(client: TestClient, system: OrderPath) -> None:
    count = system.audit_count()
    res = client.post("/api/v1/positions/reconcile", headers=H)
    assert res.status_code == 200 and res.json()["ok"] is True, res.text
    assert system.audit_count() == count  # a comparison changes nothing
    with Audited(system, "positions.reconcile_apply"):
        res = client.post("/api/v1/positions/reconcile", json={"apply": True, "reason": "route test"}, headers=H)
    assert res.status_code == 200 and res.json()["ok"] is True


def test_ready_follows_the_ready_files(client: TestClient, system: OrderPath) -> None:
    res = client.get("/ready")
    assert res.status_code == 503
    assert res.json()["services"] == {
        "control": False,
        "market_data": False,
        "risk_manager": True,
        "execution_engine": True,
        "signal_bridge": True,
    }
    fake = [ready_file(system.cfg, name) for name in ("control", "market_data")]
    try:
        for path in fake:  # this test process stands in for them
            path.write_text(json.dumps({"pid": os.getpid()}))
        assert client.get("/ready").status_code == 200
    finally:
        for path in fake:
            path.unlink()


def test_emergency_stop_without_stopping_services(client: TestClient, clean: OrderPath, facade: ControlFacade) -> None:
    res = client.post("/api/v1/orders", json=order_body(order_type="limit", limit_price="96"), headers=H)
    assert res.status_code == 201
    wait_for(lambda: len(clean.open_order_ids()) == 1, 10, "a resting order")
    try:
        with Audited(clean, "emergency_stop") as a:
            res = client.post(
                "/api/v1/emergency-stop", json={"reason": "route test", "stop_services": False}, headers=H
            )
        assert res.status_code == 200, res.text
        steps = res.json()["steps"]
        assert [s["step"] for s in steps] == ["halt_trading", "cancel_orders", "notify"]
        assert all(s["ok"] and s["duration_ms"] >= 0 for s in steps)
        assert clean.open_order_ids() == []
        status = client.get("/api/v1/status", headers=H).json()
        assert status["circuit_breaker"]["active"] is True and status["automatic_trading"] is False
        assert status["execution"]["halted"].startswith("operator halt")
        assert a.entry["reason"] == "route test"
    finally:  # back to normal for the other tests
        facade.command("execution_engine", "resume", reason="test over")
        client.post("/api/v1/circuit-breaker/deactivate", json={"reason": "test over", "force": True}, headers=H)
        client.post("/api/v1/trading/enable", headers=H)


def test_no_token_in_logs_or_audit(client: TestClient, system: OrderPath) -> None:
    client.get("/api/v1/status", headers=auth(WRONG))
    client.post("/api/v1/trading/enable", headers=auth(READ))
    texts = [p.read_text(errors="replace") for p in Path(system.cfg.system.paths.logs_dir).iterdir() if p.is_file()]
    texts.append(json.dumps(ControlFacade(system.cfg).audit.entries(10_000)))
    for token in (ADMIN, READ, WRONG):
        assert not [t for t in texts if token in t]


def test_a_service_that_does_not_answer_is_503(tmp_path: Path) -> None:
    cfg = load_config(make_deployment(tmp_path))  # nothing runs here
    app = build_api(cfg, ControlFacade(cfg, timeout_ms=200), TokenSet(ADMIN, None, from_env=True))
    with TestClient(app) as c:
        res = c.post("/api/v1/circuit-breaker/activate", json={"reason": "nobody home"}, headers=H)
        assert res.status_code == 503 and "did not answer" in res.json()["detail"]
        assert c.post("/api/v1/trading/enable", headers=H).status_code == 503
        assert c.get("/ready").status_code == 503


def test_the_generated_token_file(tmp_path: Path) -> None:
    cfg = load_config(make_deployment(tmp_path), env={"HOME": str(tmp_path)})
    app = build_api(cfg, ControlFacade(cfg, timeout_ms=200))
    token_file = Path(cfg.system.paths.data_dir) / "api_token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    with TestClient(app) as c:
        assert c.get("/api/v1/audit", headers=auth(token_file.read_text().strip())).status_code == 200
        assert c.get("/api/v1/audit", headers=auth(ADMIN)).status_code == 401


def test_non_loopback_needs_an_explicit_token() -> None:
    with pytest.raises(ApiRefused, match="PYRT_API_TOKEN"):
        check_bind("0.0.0.0", TokenSet(ADMIN, None, from_env=False))
    check_bind("0.0.0.0", TokenSet(ADMIN, None, from_env=True))
    check_bind("127.0.0.1", TokenSet(ADMIN, None, from_env=False))
