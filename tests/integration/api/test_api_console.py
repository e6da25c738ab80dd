"""The console's routes on the control API, over the real order path: the page and its
assets with the strict headers, the role of each token, the state as the page reads it,
cancelling one order, and the event stream's first event."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.support.deploy import wait_for

from .conftest import ADMIN, READ, WRONG, auth
from .order_path import OrderPath
from .test_api_routes import Audited, order_body

H = auth(ADMIN)


def test_the_page_and_its_assets_are_open_and_strict(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/console/console.js"' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "set-cookie" not in page.headers
    js = client.get("/console/console.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert client.get("/console/console.css").headers["content-type"].startswith("text/css")
    assert client.get("/console/..%2Fweb.py").status_code == 404
    assert client.get("/console/other.js").status_code == 404


def test_roles_and_state(client: TestClient) -> None:
    assert client.get("/api/v1/console/whoami", headers=H).json() == {"role": "operator"}
    assert client.get("/api/v1/console/whoami", headers=auth(READ)).json() == {"role": "viewer"}
    assert client.get("/api/v1/console/whoami", headers=auth(WRONG)).status_code == 401
    assert client.get("/api/v1/console/state").status_code == 401
    state = client.get("/api/v1/console/state", headers=auth(READ)).json()
    assert state["venue"]["kind"] == "sim"
    assert {s["name"] for s in state["services"]} == {
        "market_data",
        "risk_manager",
        "execution_engine",
        "signal_bridge",
    }
    assert state["trading"]["state"] == "ACTIVE"
    assert {"positions", "orders", "fills", "denials", "limits", "audit", "pnl", "breaker"} <= state.keys()
    assert client.get("/api/v1/reports", headers=auth(READ)).json() == []


def test_cancel_one_order(client: TestClient, system: OrderPath) -> None:
    try:
        cancel_one(client, system)
    finally:
        client.delete("/api/v1/orders", headers=H)


def cancel_one(client: TestClient, clean: OrderPath) -> None:
    assert clean.open_order_ids() == []
    ids = []
    for price in ("96", "97"):
        res = client.post("/api/v1/orders", json=order_body(order_type="limit", limit_price=price), headers=H)
        assert res.status_code == 201, res.text
        ids.append(res.json()["client_order_id"])
    wait_for(lambda: len(clean.open_order_ids()) == 2, 10, "two resting orders")
    assert client.delete(f"/api/v1/orders/{ids[0]}", headers=auth(READ)).status_code == 403
    with Audited(clean, "orders.cancel") as a:
        res = client.request("DELETE", f"/api/v1/orders/{ids[0]}", json={"reason": "too far"}, headers=H)
    assert res.status_code == 200 and res.json()["via"] == "execution_engine", res.text
    assert a.entry["reason"] == "too far" and a.entry["before"] == {"order_id": ids[0]}
    wait_for(lambda: len(clean.open_order_ids()) == 1, 10, "one order left")
    with Audited(clean, "orders.cancel"):
        missing = client.delete("/api/v1/orders/no-such-order", headers=H)
    assert missing.status_code == 409 and "no open order" in missing.json()["detail"]


def test_the_event_stream_starts_with_the_state(client: TestClient) -> None:
    with client.stream("GET", "/api/v1/console/events", headers=auth(READ)) as res:
        assert res.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in res.iter_lines():
            lines.append(line)
            if line.startswith("data: "):
                break
    assert lines[0] == "event: state"
    state = json.loads(lines[-1][len("data: ") :])
    assert state["venue"]["kind"] == "sim"
