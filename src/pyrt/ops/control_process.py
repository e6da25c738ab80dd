"""The control process (`pyrt run control`): it serves the metrics gateway on
metrics.gateway (9090) and the control API (FastAPI over the control facade, on
api.host:api.port, 8080; see pyrt.ops.api) with the operator console at `/` (its live
state follows the bus: pyrt.ops.console.feed).

It runs in the services' lifecycle (``pyrt.services.runtime.ServiceRuntime``):
run/control.pid from start to exit, run/control.ready (JSON {service, pid, started_at,
metrics_port, api_port}) once it serves, logs to logs/control.log, SIGTERM/SIGINT stop it
gracefully (exit 0), SIGHUP reloads the config (the gateway reads the scrape targets from
the current config at every request).

Its bus sockets (the facade's requests to the services, the alert relay's subscriptions)
hold the deployment's bus key (``pyrt.bus.security``), loaded at start: without usable keys
it does not start (exit 2)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from pyrt.bus import security as bus_security
from pyrt.config import AppConfig
from pyrt.config.system import CONTROL, TRADING_SERVICES
from pyrt.ops.alert_relay import AlertRelay
from pyrt.ops.api import ApiRefused, ApiServer, start_api
from pyrt.ops.console.feed import ConsoleFeed
from pyrt.ops.facade import ControlFacade
from pyrt.ops.gateway import MetricsGateway, ScrapeTarget
from pyrt.ops.notify import notifier_from_config
from pyrt.ops.replay_metrics import replay_families
from pyrt.ops.service_control import supervisor_families
from pyrt.ops.status import local_host, metrics_port_of, read_ready_info
from pyrt.services.runtime import ServiceRuntime

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
    """The control process: the shared process lifecycle (``ServiceRuntime``: pid/ready
    files, logging, signals, reload, bus keys) around its servers, the metrics gateway and
    the control API (and the alert relay), started in `start()` and stopped in `stop()`."""

    def __init__(self, config_dir: Path, stop_event: threading.Event | None = None) -> None:
        self.runtime = ServiceRuntime(CONTROL, config_dir, stop_event=stop_event)
        self.gateway: MetricsGateway | None = None
        self.api: ApiServer | None = None
        self.alerts: AlertRelay | None = None
        self.console: ConsoleFeed | None = None

    @property
    def cfg(self) -> AppConfig:
        """The running config (replaced by a reload)."""
        return self.runtime.cfg

    def start(self) -> None:
        """Write the pid file, start the servers, then write the ready file."""
        self.runtime.__enter__()
        m = self.cfg.system.metrics
        self.gateway = MetricsGateway(
            lambda: scrape_targets(self.cfg),
            m.host,
            m.gateway,
            extra=lambda: supervisor_families(self.cfg) + replay_families(self.cfg),
        )
        notifier = notifier_from_config(self.cfg)
        facade = ControlFacade(self.cfg, notifier=notifier)
        self.console = ConsoleFeed(self.cfg, facade, targets=lambda: scrape_targets(self.cfg)).start()
        self.api = start_api(self.cfg, facade, self.console)
        self.alerts = AlertRelay(self.cfg, notifier)  # breaker trips, integrity alerts, watchdog
        self.alerts.start()
        self.runtime.mark_ready(metrics_port=self.gateway.port, api_port=self.api.port)
        log.info(
            "control ready: metrics gateway on %s:%d, control API on http://%s:%d (docs at /docs)",
            self.gateway.host,
            self.gateway.port,
            self.api.host,
            self.api.port,
        )

    def stop(self) -> None:
        """Stop the servers and remove the pid and ready files."""
        self.runtime.mark_not_ready()
        if self.alerts is not None:
            self.alerts.stop()
        if self.api is not None:
            self.api.close()
        if self.console is not None:
            self.console.stop()
        if self.gateway is not None:
            self.gateway.close()
        self.runtime.__exit__(None, None, None)

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (SIGHUP reloads the config the gateway scrapes by);
        returns the exit code."""
        try:
            self.start()
            while not self.runtime.stop_event.wait(0.5):
                self.runtime.try_reload()
        except ApiRefused as exc:
            log.error("control process not started: %s", exc)
            return 2
        except bus_security.BusSecurityError:  # the runtime logged why
            return 2
        finally:
            self.stop()
        return 0


def run(config_dir: Path) -> int:
    """Entry point of `pyrt run control`."""
    return ControlProcess(config_dir).run()
