"""Review S2: a flood of API reads never takes the broker requests the engine needs. 300
reads of positions, orders and status against a sim broker that enforces Alpaca's limit
(200 requests per minute per key) reach the broker a bounded number of times, none is a
server error, and an order submitted right after is still filled.

The broker's own count is the measure: the sim's X-RateLimit-Remaining, read by the
adapter's response hook (`AlpacaVenue.last_rate_limit`), so these tests check the hook too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pyrt.ops.api import build_api
from pyrt.ops.auth import TokenSet
from pyrt.ops.facade import ControlFacade
from pyrt.simbroker.harness import DEFAULT_KEYS
from pyrt.venues.alpaca.adapter import AlpacaVenue
from tests.support.deploy import free_port, wait_for

from .conftest import ADMIN, READ, auth
from .order_path import OrderPath, order_path

LIMIT = 200  # Alpaca's requests per minute per key
READS = ["/api/v1/positions", "/api/v1/orders", "/api/v1/orders?status=all&limit=7", "/api/v1/status"]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrderPath]:
    with order_path(tmp_path_factory.mktemp("flood"), rate_limit_per_minute=LIMIT) as s:
        yield s


def used_at_broker(system: OrderPath) -> int:
    """Requests of the key in the broker's current minute (this probe included)."""
    probe = AlpacaVenue(system.sim.url, *DEFAULT_KEYS)
    probe.account()
    assert probe.last_rate_limit is not None and probe.last_rate_limit[0] == LIMIT
    return LIMIT - int(probe.last_rate_limit[1] or 0)


def flood(client: TestClient, n: int = 300, paths: list[str] = READS) -> list[int]:
    return [client.get(paths[i % len(paths)], headers=auth(READ)).status_code for i in range(n)]


def api(facade: ControlFacade) -> TestClient:
    return TestClient(build_api(facade.cfg, facade, TokenSet(ADMIN, READ, from_env=True)))


def test_reads_with_the_engine_up_come_from_its_projection(limited: OrderPath) -> None:
    facade = ControlFacade(limited.cfg)
    with api(facade) as client:
        before = used_at_broker(limited)
        codes = flood(client)
        after = used_at_broker(limited)
        print(f"engine up: 300 API reads -> {after - before} broker requests in the key's minute")
        assert set(codes) == {200}
        # the probe itself, the status route's account (cached 2 s) and the engine's own periodic reads
        assert after - before <= 15, f"{after - before} broker requests for 300 API reads"
        assert facade.reads.budget.used()[1] <= 15
        res = client.post(
            "/api/v1/orders",
            headers=auth(ADMIN),
            json={"symbol": "AAPL", "side": "buy", "qty": "1", "order_type": "market", "reason": "S2"},
        )
        assert res.status_code == 201, res.text
        coid = res.json()["client_order_id"]
        wait_for(lambda: limited.positions().get("AAPL") == 1, 10, "the order filled at the broker")
        assert coid in limited.all_order_ids()
        wait_for(
            lambda: any(
                o["client_order_id"] == coid
                for o in client.get("/api/v1/orders", params={"status": "all"}, headers=auth(READ)).json()
            ),
            10,
            "the order listed",
        )
        assert (
            client.post("/api/v1/positions/liquidate", json={"confirm": True}, headers=auth(ADMIN)).status_code == 200
        )


def test_reads_with_the_engine_down_go_through_the_read_budget_and_cache(limited: OrderPath) -> None:
    cfg = limited.cfg
    nobody = cfg.system.execution.model_copy(update={"order_endpoint": f"tcp://127.0.0.1:{free_port()}"})
    facade = ControlFacade(cfg.model_copy(update={"system": cfg.system.model_copy(update={"execution": nobody})}))
    with api(facade) as client:
        before = used_at_broker(limited)
        codes = flood(client, paths=READS[:3])  # /status would wait 1 s per call for the engine that is not there
        after = used_at_broker(limited)
        assert set(codes) <= {200, 429} and codes.count(200) >= len(codes) - 10
        sent = facade.reads.broker_requests
        print(
            f"engine down: 300 API reads -> {sent} broker reads by the facade, {after - before} at the broker, "
            f"{codes.count(429)} answered 429"
        )
        assert sent <= facade.reads.budget.limit("read") and sent <= 30, f"{sent} broker reads for 300 API reads"
        assert after - before <= sent + 15  # the broker saw no more than that (+ probe and engine periodics)
        assert facade.venue.last_rate_limit is not None  # the facade's budget heard the broker's count
    # the order path still has its submit tier: an order goes through the engine and fills
    with api(ControlFacade(limited.cfg)) as client:
        res = client.post(
            "/api/v1/orders",
            headers=auth(ADMIN),
            json={"symbol": "AAPL", "side": "buy", "qty": "2", "order_type": "market", "reason": "S2"},
        )
        assert res.status_code == 201, res.text
        wait_for(lambda: limited.positions().get("AAPL") == 2, 10, "the order filled at the broker")
        assert (
            client.post("/api/v1/positions/liquidate", json={"confirm": True}, headers=auth(ADMIN)).status_code == 200
        )
