"""The order path for control tests: an in-thread sim broker (market paused, AAPL quoted at
100.00/100.02), the real risk manager, execution engine and signal bridge (`pyrt run
<service>`, each its own process: the journal allows one writer per process, and the
audit log of the facade under test writes to it too), and a stand-in market-data publisher
in a thread repeating the same quote (the risk manager needs a mid for its price collar).
No strategy is configured: only manual orders trade."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from pyrt.bus.security import for_config
from pyrt.bus.zmq import ZmqPublisher
from pyrt.config import AppConfig, load_config
from pyrt.config.system import SimBrokerConfig
from pyrt.domain.market import Quote
from pyrt.ops.audit import AuditLog
from pyrt.ops.status import read_ready_info
from pyrt.simbroker.harness import DEFAULT_KEYS
from tests.support.deploy import make_deployment, wait_for
from tests.support.sim import InThreadSimBroker

HEADERS = {"APCA-API-KEY-ID": DEFAULT_KEYS[0], "APCA-API-SECRET-KEY": DEFAULT_KEYS[1]}
BID, ASK = 100.00, 100.02


class ServiceProcess:
    """`pyrt run <service>` as a child process, its output in logs/<service>.out."""

    def __init__(self, name: str, config_dir: Path, logs_dir: Path) -> None:
        logs_dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        with (logs_dir / f"{name}.out").open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pyrt", "run", name, "--config-dir", str(config_dir)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class QuoteFeed:
    """Publishes the fixed AAPL quote every 50 ms (a stand-in for the market data service)."""

    def __init__(self, address: str, cfg: AppConfig | None = None) -> None:
        # the services admit only holders of the deployment's bus key (pass `cfg`)
        self.pub = ZmqPublisher(address, publisher_id="market_data", security=for_config(cfg) if cfg else None)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="quote-feed")
        self.thread.start()

    def _run(self) -> None:
        import time

        while not self.stop_event.wait(0.05):
            self.pub.publish_quote(Quote("AAPL", BID, 1000, ASK, 1000, time.time_ns()))

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        self.pub.close()


@dataclass
class OrderPath:
    """What the tests see: the config, the sim broker and its REST helpers."""

    cfg: AppConfig
    config_dir: Path
    sim: InThreadSimBroker

    def broker(self, path: str, **params: Any) -> Any:
        return requests.get(self.sim.url + path, params=params, headers=HEADERS, timeout=5).json()

    def open_order_ids(self) -> list[str]:
        return sorted(o["client_order_id"] for o in self.broker("/v2/orders", status="open", limit=500))

    def all_order_ids(self) -> list[str]:
        return sorted(o["client_order_id"] for o in self.broker("/v2/orders", status="all", limit=500))

    def positions(self) -> dict[str, Decimal]:
        return {p["symbol"]: Decimal(p["qty"]) for p in self.broker("/v2/positions")}

    def control_entries(self) -> list[dict[str, Any]]:
        """The audit entries of the control facade (the services also audit the commands
        they receive, "from": "bus -> <service>"; those are not counted here)."""
        entries = AuditLog(self.cfg.system.execution.journal_path).entries(100_000)
        return [e for e in entries if not str(e.get("from", "")).startswith("bus ->")]

    def audit_count(self) -> int:
        return len(self.control_entries())


@contextmanager
def order_path(tmp: Path, rate_limit_per_minute: int = 0) -> Iterator[OrderPath]:
    """Start the sim broker (its per-key rate limit off by default) and the three order-path
    services; stop them on exit."""
    with InThreadSimBroker(
        SimBrokerConfig(data_dir=tmp / "sim", seed=5, rate_limit_per_minute=rate_limit_per_minute or None)
    ) as sim:
        requests.post(sim.url + "/admin/market", json={"paused": True}, headers=HEADERS, timeout=5)
        requests.post(
            sim.url + "/admin/quote",
            json={"symbol": "AAPL", "bid": BID, "ask": ASK, "bid_size": 1000, "ask_size": 1000},
            headers=HEADERS,
            timeout=5,
        )
        config_dir = make_deployment(tmp / "root", sim_url=sim.url, system={"signals": {"strategies": []}})
        cfg = load_config(config_dir)
        feed = QuoteFeed(cfg.system.market_data.zmq_publish_address, cfg)
        started: list[ServiceProcess] = []
        try:
            for name in ("risk_manager", "execution_engine", "signal_bridge"):
                svc = ServiceProcess(name, config_dir, cfg.system.paths.logs_dir)
                started.append(svc)
                wait_for(
                    lambda name=name, svc=svc: read_ready_info(cfg, name) or svc.proc.poll() is not None,
                    30,
                    f"{name} ready",
                    0.05,
                )
                assert svc.proc.poll() is None, f"{name} exited: see {cfg.system.paths.logs_dir}/{name}.out"
            yield OrderPath(cfg, config_dir, sim)
        finally:
            for svc in reversed(started):
                svc.stop()
            feed.close()
