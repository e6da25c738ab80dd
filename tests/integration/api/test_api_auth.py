"""Every mutating route refuses a missing or wrong token (401) and the read-only token (403)
and then has changed nothing: not the breaker, not automatic trading, not the orders or
positions at the broker, not the audit log. Reads need a token; the probes do not."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pyrt.ops.audit import Caller
from pyrt.ops.auth import TokenSet
from pyrt.ops.facade import ControlFacade
from tests.support.deploy import wait_for

from .conftest import ADMIN, READ, WRONG, auth
from .order_path import OrderPath

MUTATING: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/v1/circuit-breaker/activate", {"reason": "auth test"}),
    ("POST", "/api/v1/circuit-breaker/deactivate", {"reason": "auth test", "force": True}),
    ("POST", "/api/v1/trading/enable", None),
    ("POST", "/api/v1/trading/disable", None),
    ("POST", "/api/v1/orders", {"symbol": "AAPL", "side": "buy", "qty": "1", "order_type": "market"}),
    ("DELETE", "/api/v1/orders", None),
    ("POST", "/api/v1/positions/liquidate", {"confirm": True}),
    ("POST", "/api/v1/positions/reconcile", {"apply": True}),
    ("POST", "/api/v1/emergency-stop", {"stop_services": False}),
]
READS = ["/api/v1/status", "/api/v1/positions", "/api/v1/orders?status=all", "/api/v1/audit?limit=5"]
REFUSED = [({}, 401), (auth(WRONG), 401), ({"Authorization": f"Basic {ADMIN}"}, 401), (auth(READ), 403)]


@pytest.fixture(scope="module")
def seeded(system: OrderPath, facade: ControlFacade) -> Iterator[OrderPath]:
    """A position (so liquidate would act) and a resting limit order (so cancel-all would);
    both gone afterwards."""
    caller = Caller("test", "seed")
    filled = facade.submit_order(caller, "AAPL", "buy", Decimal(2), "market", reason="seed position")
    resting = facade.submit_order(caller, "AAPL", "buy", Decimal(1), "limit", Decimal(96), "gtc", "seed order")
    assert filled["approved"] and resting["approved"], (filled, resting)
    wait_for(lambda: system.positions().get("AAPL") == 2 and len(system.open_order_ids()) == 1, 10, "seeded")
    yield system
    assert facade.liquidate(caller, confirm=True, reason="seed over")["ok"]


def snapshot(system: OrderPath, facade: ControlFacade) -> dict[str, Any]:
    """Everything an operator action could change."""
    risk = facade.command("risk_manager", "status").data
    return {
        "audit": system.audit_count(),
        "breaker": risk["breaker"]["active"],
        "mode": risk["breaker"]["mode"],
        "trading": facade.command("signal_bridge", "status").data["trading_enabled"],
        "halted": facade.command("execution_engine", "status").data["halted"],
        "open": system.open_order_ids(),
        "all": system.all_order_ids(),
        "positions": system.positions(),
    }


@pytest.mark.parametrize(("method", "path", "body"), MUTATING, ids=[f"{m} {p}" for m, p, _ in MUTATING])
def test_mutating_route_refuses_and_changes_nothing(
    client: TestClient, seeded: OrderPath, facade: ControlFacade, method: str, path: str, body: dict[str, Any] | None
) -> None:
    before = snapshot(seeded, facade)
    for headers, status in REFUSED:
        res = client.request(method, path, json=body, headers=headers)
        assert res.status_code == status, (headers, res.text)
        assert "detail" in res.json()
        if status == 401:
            assert res.headers["www-authenticate"] == "Bearer"
            detail = res.json()["detail"]  # says how: the header, and where the token is
            assert "'Authorization: Bearer <token>'" in detail and "PYRT_API_TOKEN" in detail
    assert snapshot(seeded, facade) == before


def test_refused_before_the_body_is_read(client: TestClient, system: OrderPath) -> None:
    before = system.audit_count()
    res = client.post("/api/v1/orders", content=b"{not json", headers={"Content-Type": "application/json"})
    assert res.status_code == 401
    res = client.post(
        "/api/v1/orders", content=b"{not json", headers={**auth(READ), "Content-Type": "application/json"}
    )
    assert res.status_code == 403
    assert system.audit_count() == before


@pytest.mark.parametrize("path", READS)
def test_reads_need_a_token_and_accept_the_read_only_one(client: TestClient, seeded: OrderPath, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers=auth(WRONG)).status_code == 401
    assert client.get(path, headers=auth(READ)).status_code == 200
    assert client.get(path, headers=auth(ADMIN)).status_code == 200


def test_probes_and_docs_are_open(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code in (200, 503)
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/emergency-stop" in spec["paths"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_the_401_names_the_token_file(system: OrderPath) -> None:
    from pyrt.ops.api import how_to_authenticate
    from pyrt.ops.auth import token_path

    text = how_to_authenticate(system.cfg, TokenSet(ADMIN, None, from_env=False))
    assert f"from the file {token_path(system.cfg)}" in text and ADMIN not in text
    assert 'curl -H "Authorization: Bearer $(cat data/api_token)"' in text


def test_openapi_declares_the_token_on_every_api_route_and_not_on_the_probes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            secured = op.get("security") == [{"HTTPBearer": []}]
            assert secured == path.startswith("/api/v1"), (method, path)
            if secured:
                assert "401" in op["responses"], (method, path)
