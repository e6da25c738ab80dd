"""signal-bridge -> risk-manager -> execution-engine over real ZeroMQ (services in threads),
fed by a stand-in market-data publisher (holding the deployment's bus key), trading on an in-thread sim broker."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from pyrt.bus import schema as wire
from pyrt.bus.zmq import ZmqPublisher, ZmqSubscriber
from pyrt.config import load_config
from pyrt.config.system import SimBrokerConfig
from pyrt.domain.market import Quote
from pyrt.ops.status import read_ready_info
from pyrt.persistence.journal import Journal
from pyrt.persistence.projections import replay
from pyrt.simbroker.harness import DEFAULT_KEYS
from tests.support.bus import bus_key
from tests.support.deploy import make_deployment, wait_for
from tests.support.sim import InThreadSimBroker

HEADERS = {"APCA-API-KEY-ID": DEFAULT_KEYS[0], "APCA-API-SECRET-KEY": DEFAULT_KEYS[1]}


class Service:
    def __init__(self, module: Any, config_dir: Path, name: str) -> None:
        self.stop_event = threading.Event()
        self.name = name
        self.code: int | None = None
        self.thread = threading.Thread(
            target=lambda: setattr(self, "code", module.run(config_dir, self.stop_event)), daemon=True
        )

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(15)


@pytest.fixture
def system(tmp_path: Path):
    with InThreadSimBroker(SimBrokerConfig(data_dir=tmp_path / "sim", seed=5, rate_limit_per_minute=None)) as sim:
        requests.post(sim.url + "/admin/market", json={"paused": True}, headers=HEADERS, timeout=5)
        strategies = [{"name": "bench", "kind": "benchmark_every_n", "symbols": ["AAPL"], "params": {"every_n": 1}}]
        config_dir = make_deployment(tmp_path / "root", sim_url=sim.url, system={"signals": {"strategies": strategies}})
        cfg = load_config(config_dir)
        md = ZmqPublisher(cfg.system.market_data.zmq_publish_address, publisher_id="market_data", security=bus_key(cfg))
        from pyrt.services.execution import service as execution
        from pyrt.services.risk import service as risk
        from pyrt.services.signals import service as signals

        started = []
        try:
            for module, name in ((risk, "risk_manager"), (execution, "execution_engine"), (signals, "signal_bridge")):
                svc = Service(module, config_dir, name)
                svc.thread.start()
                started.append(svc)
                wait_for(
                    lambda name=name, svc=svc: read_ready_info(cfg, name) or svc.code is not None, 20, f"{name} ready"
                )
                assert svc.code is None, f"{name} exited"
            yield sim, cfg, md
        finally:
            for svc in reversed(started):
                svc.stop()
            md.close()


def test_quotes_become_orders_exactly_once(system):
    sim, cfg, md = system
    sub = ZmqSubscriber(cfg.system.market_data.zmq_publish_address, [wire.MD_QUOTE_PREFIX], security=bus_key(cfg))
    try:
        # the services subscribe asynchronously: publish until the engine has seen an intent
        n = 0
        deadline = time.monotonic() + 20
        while _orders(sim) < 6 and time.monotonic() < deadline:
            n += 1
            px = 100 + (n % 5) * 0.01
            requests.post(
                sim.url + "/admin/quote",
                json={"symbol": "AAPL", "bid": px - 0.01, "ask": px + 0.01, "bid_size": 1000, "ask_size": 1000},
                headers=HEADERS,
                timeout=5,
            )
            md.publish_quote(Quote("AAPL", px - 0.01, 1000, px + 0.01, 1000, time.time_ns()))
            time.sleep(0.05)
        assert _orders(sim) >= 6
    finally:
        sub.close()
    with Journal(cfg.system.execution.journal_path, read_only=True) as j:
        wait_for(lambda: all(o.is_terminal for o in replay(j.iter_records()).orders.values()), 10, "orders final")
        proj = replay(j.iter_records())
    broker = requests.get(
        sim.url + "/v2/orders", params={"status": "all", "limit": 500}, headers=HEADERS, timeout=5
    ).json()
    coids = [o["client_order_id"] for o in broker]
    assert len(coids) == len(set(coids))  # never twice at the broker
    sent = {c for c, o in proj.orders.items() if o.broker_order_id}
    assert sent == set(coids)  # every journalled order is at the broker exactly once
    positions = {
        p["symbol"]: Decimal(p["qty"])
        for p in requests.get(sim.url + "/v2/positions", headers=HEADERS, timeout=5).json()
    }
    assert positions.get("AAPL", Decimal(0)) == proj.position("AAPL").qty


def _orders(sim) -> int:
    return len(
        requests.get(sim.url + "/v2/orders", params={"status": "all", "limit": 500}, headers=HEADERS, timeout=5).json()
    )
