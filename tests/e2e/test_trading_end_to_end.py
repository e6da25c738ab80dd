"""The whole system as processes trades on the synthetic market: every journalled order is
at the broker exactly once, and positions and cash match the broker."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import requests

from pyrt.config import load_config
from pyrt.persistence.journal import Journal, RecordKind
from pyrt.persistence.projections import replay
from pyrt.simbroker.harness import DEFAULT_KEYS, SimBrokerProcess
from tests.support.deploy import wait_for

from .conftest import System

HEADERS = {"APCA-API-KEY-ID": DEFAULT_KEYS[0], "APCA-API-SECRET-KEY": DEFAULT_KEYS[1]}


def _orders_in_journal(cfg) -> int:
    try:
        with Journal(cfg.system.execution.journal_path, read_only=True) as j:
            return sum(1 for r in j.iter_records() if r.kind == RecordKind.INTENT)
    except Exception:  # noqa: BLE001 - not created yet
        return 0


CANARY_KEY = "CANARYKEYID7Q2"
CANARY_SECRET = "canary-secret-9f8e7d6c5b4a"


def test_system_trades_and_matches_the_broker(deployment: System):
    # canary keys: the embedded sim broker accepts them, and they must appear in no log
    deployment.env.update({"ALPACA_API_KEY": CANARY_KEY, "ALPACA_SECRET_KEY": CANARY_SECRET})
    cfg = load_config(deployment.config_dir, env=deployment.env)
    out = deployment.pyrt("up", "--detach", timeout=120)
    assert "started 6 processes" in out.stdout
    status = deployment.pyrt("status")
    assert "6/6 running" in status.stdout
    metrics = requests.get(f"http://127.0.0.1:{cfg.system.metrics.gateway}/metrics", timeout=5).text
    assert "market_data_websocket_connected 1" in metrics.splitlines()
    assert "risk_circuit_breaker_active 0" in metrics.splitlines()

    wait_for(lambda: _orders_in_journal(cfg) >= 6, 120, "strategies to trade", interval=0.5)
    deployment.pyrt("down", "--grace", "10")

    with Journal(cfg.system.execution.journal_path, read_only=True) as j:
        records = list(j.iter_records())
    proj = replay(records)
    assert not [a for a in proj.anomalies if "rejected" in a.what or "OVERFILL" in a.what]
    # the broker's state survives its own restart: look at it with the system stopped
    broker = SimBrokerProcess(
        Path(cfg.system.sim_broker.data_dir),
        log_path=deployment.root / "sim_check.out",
        env={"ALPACA_API_KEY": DEFAULT_KEYS[0], "ALPACA_SECRET_KEY": DEFAULT_KEYS[1]},
    ).start()
    try:
        orders = requests.get(
            broker.url + "/v2/orders", params={"status": "all", "limit": 500}, headers=HEADERS, timeout=5
        ).json()
        positions = {
            p["symbol"]: Decimal(p["qty"])
            for p in requests.get(broker.url + "/v2/positions", headers=HEADERS, timeout=5).json()
        }
        account = requests.get(broker.url + "/v2/account", headers=HEADERS, timeout=5).json()
    finally:
        broker.stop()
    coids = [o["client_order_id"] for o in orders]
    assert len(coids) == len(set(coids)), "an order reached the broker twice"
    sent = {c for c, o in proj.orders.items() if o.broker_order_id}
    assert sent == set(coids), "journal and broker disagree on which orders exist"
    assert {s: p.qty for s, p in proj.positions.items() if p.qty} == positions
    # cash: the initial cash minus what the journalled fills cost
    spent = sum(
        (
            Decimal(r.payload["qty"])
            * Decimal(r.payload["price"])
            * (1 if proj.orders[r.client_order_id].side.value == "buy" else -1)
            for r in records
            if r.kind == RecordKind.FILL
        ),
        Decimal(0),
    )
    assert Decimal(account["cash"]) == Decimal(100_000) - spent
    # no secret in any log, output or state file of the run
    for path in deployment.root.rglob("*"):
        if path.is_file() and path.suffix in (".log", ".out", ".json", ".ready", ".pid", ".txt"):
            text = path.read_text(errors="replace")
            assert CANARY_SECRET not in text, f"secret leaked into {path}"
