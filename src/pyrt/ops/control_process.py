"""The control process (`pyrt run control`): it serves the metrics gateway on
metrics.gateway (9090) and the control API (FastAPI over the control facade, on
api.host:api.port, 8080; see pyrt.ops.api).

It follows the services' conventions: run/control.pid from start to exit,
run/control.ready (JSON {service, pid, started_at, metrics_port, api_port}) once it serves,
logs to logs/control.log, SIGTERM/SIGINT stop it gracefully (exit 0), SIGHUP reloads the
config (the gateway reads the scrape targets from the current config at every request).

Its bus sockets (the facade's requests to the services, the alert relay's subscriptions)
hold the deployment's bus key (``pyrt.bus.security``), loaded at start: without usable keys
it does not start (exit 2)."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from pyrt.bus import security as bus_security
from pyrt.config import AppConfig, ConfigError, load_config
from pyrt.config.system import TRADING_SERVICES
from pyrt.observability.logging import setup_logging
from pyrt.ops.alert_relay import AlertRelay
from pyrt.ops.api import ApiRefused, ApiServer, start_api
from pyrt.ops.facade import ControlFacade
from pyrt.ops.gateway import MetricsGateway, ScrapeTarget
from pyrt.ops.notify import notifier_from_config
from pyrt.ops.status import CONTROL, local_host, metrics_port_of, pid_file, read_ready_info, ready_file
from pyrt.persistence.files import write_atomic

log = logging.getLogger("pyrt.control")

def scrape_targets(cfg: AppConfig) -> list[ScrapeTarget]:
    """Each service's /metrics URL: the port from its ready file when it has one (the bound
    port), else from the config."""
    m = cfg.system.metrics
    host = local_host(m.host)
    targets = []
    for service in TRADING_SERVICES:
        port = metrics_port_of(cfg, service, read_ready_info(cfg, service))
        targets.append(ScrapeTarget(service, f"http://{m.scrape_hosts.get(service, host)}:{port}/metrics"))
    return targets


class ControlProcess:
    """The control process's lifecycle: pid/ready files, signals and its servers (the
    metrics gateway and the control API), started in `start()` and stopped in `stop()`."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = Path(config_dir)
        self.cfg = load_config(self.config_dir)
        self.stop_event = threading.Event()
        self.started_at = time.time()
        self.gateway: MetricsGateway | None = None
        self.api: ApiServer | None = None
        self.alerts: AlertRelay | None = None
        self.bus_security: bus_security.BusSecurity | None = None

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_event.set()

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        try:
            self.cfg = load_config(self.config_dir)
            log.info("config reloaded from %s", self.config_dir)
        except ConfigError as exc:  # it lists every problem
            log.error("config reload rejected, keeping the running config: %s", exc)

    def start(self) -> None:
        """Write the pid file, start the servers, then write the ready file."""
        paths = self.cfg.system.paths
        paths.run_dir.mkdir(parents=True, exist_ok=True)
        ready_file(self.cfg, CONTROL).unlink(missing_ok=True)
        write_atomic(pid_file(self.cfg, CONTROL), f"{os.getpid()}\n")
        self.bus_security = bus_security.for_config(self.cfg)
        bus_security.activate(self.bus_security)
        m = self.cfg.system.metrics
        self.gateway = MetricsGateway(lambda: scrape_targets(self.cfg), m.host, m.gateway)
        notifier = notifier_from_config(self.cfg)
        facade = ControlFacade(self.cfg, notifier=notifier)
        self.api = start_api(self.cfg, facade)
        self.alerts = AlertRelay(self.cfg, notifier)  # breaker trips, integrity alerts, watchdog
        self.alerts.start()
        info: dict[str, Any] = {"service": CONTROL, "pid": os.getpid(), "started_at": self.started_at,
                                "metrics_port": self.gateway.port, "api_port": self.api.port}
        write_atomic(ready_file(self.cfg, CONTROL), json.dumps(info))
        log.info("control ready: metrics gateway on %s:%d, control API on http://%s:%d (docs at /docs)",
                 self.gateway.host, self.gateway.port, self.api.host, self.api.port)

    def stop(self) -> None:
        """Stop the servers and remove the pid and ready files."""
        ready_file(self.cfg, CONTROL).unlink(missing_ok=True)
        if self.alerts is not None:
            self.alerts.stop()
        if self.api is not None:
            self.api.close()
        if self.gateway is not None:
            self.gateway.close()
        pid_file(self.cfg, CONTROL).unlink(missing_ok=True)
        if self.bus_security is not None:
            bus_security.deactivate(self.bus_security)
        log.info("control stopped after %.1fs", time.time() - self.started_at)

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; returns the exit code."""
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        try:
            self.start()
            while not self.stop_event.wait(0.5):
                pass
        except ApiRefused as exc:
            log.error("control process not started: %s", exc)
            return 2
        except bus_security.BusSecurityError as exc:
            log.critical("control process not started: bus keys unusable: %s", exc)
            return 2
        finally:
            self.stop()
        return 0


def run(config_dir: Path) -> int:
    """Entry point of `pyrt run control`."""
    proc = ControlProcess(config_dir)
    logging_cfg = proc.cfg.system.logging
    setup_logging(CONTROL, proc.cfg.system.paths.logs_dir, logging_cfg.level, json=logging_cfg.format == "json")
    return proc.run()
