"""A fake running deployment for `pyrt health` and `pyrt monitor`: pid and ready files of
the four services pointing at one live sleeper process whose command line contains "pyrt",
each service's /metrics and the gateway served from this process, and one thread
publishing heartbeats, risk state and data messages on the four PUB endpoints."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

from pyrt.bus import schema as wire
from pyrt.bus.security import for_config
from pyrt.bus.zmq import ZmqPublisher
from pyrt.config import AppConfig, load_config
from pyrt.domain.enums import OrderSide
from pyrt.domain.intents import RiskDecision
from pyrt.observability.metrics import MetricsServer, new_registry, serve_metrics, service_metrics
from pyrt.ops.gateway import MetricsGateway, ScrapeTarget

SERVICES = ("market_data", "risk_manager", "execution_engine", "signal_bridge")
UPTIME_S = 3700.0  # shows as "1h 1m"


class FakeSystem:
    """Start with `start()`, stop with `close()`. `silent`: services that publish no
    heartbeat; `status`: heartbeat status per service (default "ok")."""

    def __init__(
        self,
        config_dir: Path,
        silent: tuple[str, ...] = (),
        status: dict[str, str] | None = None,
        period_s: float = 0.02,
    ) -> None:
        self.config_dir = config_dir
        self.cfg: AppConfig = load_config(config_dir)
        self.silent = set(silent)
        self.status = status or {}
        self.period_s = period_s
        self.sleeper: subprocess.Popen[bytes] | None = None
        self.servers: list[MetricsServer] = []
        self.gateway: MetricsGateway | None = None
        self.stop = threading.Event()
        self.bound = threading.Event()
        self.thread = threading.Thread(target=self._publish, name="fake-system-pub", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> FakeSystem:
        self.sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "pyrt-fake-service"])
        run_dir = self.cfg.system.paths.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        m = self.cfg.system.metrics
        for name in SERVICES:
            metrics = service_metrics(name, new_registry(process_metrics=False))
            if metrics.market_data is not None:
                metrics.market_data.websocket_connected.set(1)
            if metrics.execution is not None:
                metrics.execution.trade_stream_connected.set(1)
            self.servers.append(serve_metrics(metrics.registry, m.host, m.port_for(name)))
            (run_dir / f"{name}.pid").write_text(f"{self.sleeper.pid}\n")
            (run_dir / f"{name}.ready").write_text(
                json.dumps(
                    {
                        "service": name,
                        "pid": self.sleeper.pid,
                        "started_at": time.time() - UPTIME_S,
                        "metrics_port": m.port_for(name),
                    }
                )
            )
        targets = [ScrapeTarget(n, f"http://{m.host}:{m.port_for(n)}/metrics") for n in SERVICES]
        self.gateway = MetricsGateway(lambda: targets, m.host, m.gateway)
        self.thread.start()
        if not self.bound.wait(5) or self.error is not None:
            raise RuntimeError(f"fake publishers did not start: {self.error!r}")
        return self

    def _publish(self) -> None:
        s = self.cfg.system
        addresses = {
            "market_data": s.market_data.zmq_publish_address,
            "risk_manager": s.risk.publish_address,
            "execution_engine": s.execution.report_publish_address,
            "signal_bridge": s.signals.publish_address,
        }
        try:
            key = for_config(self.cfg)  # `pyrt health` listens only to holders of the bus key
            pubs = {n: ZmqPublisher(a, publisher_id=f"fake-{n}", security=key) for n, a in addresses.items()}
        except BaseException as exc:
            self.error = exc
            self.bound.set()
            return
        self.bound.set()
        try:
            last_hb = 0.0
            while not self.stop.wait(self.period_s):
                now_ns = time.time_ns()
                pubs["market_data"].publish_quote(wire.QuoteMsg("AAPL", 189.9, 100, 190.1, 200, now_ns))
                pubs["signal_bridge"].publish(
                    wire.signal("ema", "AAPL"), wire.Signal("ema", "AAPL", "long", 0.5, now_ns)
                )
                pubs["risk_manager"].publish(
                    wire.risk_decision(),
                    wire.RiskDecisionMsg(RiskDecision(intent_id="i1", approved=True, reason_code="OK", ts_ns=now_ns)),
                )
                pubs["execution_engine"].publish(
                    wire.exec_report("ema"),
                    wire.ExecutionReport(
                        client_order_id="c1",
                        strategy="ema",
                        symbol="AAPL",
                        side=OrderSide.BUY,
                        event="new",
                        status="new",
                        qty=Decimal(1),
                    ),
                )
                if time.monotonic() - last_hb >= 0.2:
                    last_hb = time.monotonic()
                    pubs["risk_manager"].publish(wire.risk_state(), wire.RiskState("ACTIVE", "", False, Decimal(0)))
                    for name, pub in pubs.items():
                        if name not in self.silent:
                            pub.publish(wire.heartbeat(name), wire.Heartbeat(name, self.status.get(name, "ok"), now_ns))
        finally:
            for pub in pubs.values():
                pub.close()

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(5)
        if self.gateway is not None:
            self.gateway.close()
        for server in self.servers:
            server.close()
        if self.sleeper is not None:
            self.sleeper.kill()
            self.sleeper.wait(5)
