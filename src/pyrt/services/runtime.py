"""What every process of a deployment shares (the four services, the control process and
the sim broker): loading the config, logging to logs/<process>.log, the pid and ready files
the supervisor waits on, and signals (SIGTERM/SIGINT: stop gracefully; SIGHUP: reload the
config). A service also serves its /metrics (the control process's gateway serves them all;
the sim broker has none).

Bus security: unless told the process has no bus (the sim broker), the runtime loads the deployment's bus keys (``pyrt.bus.security``, created
at first start) before anything else and activates them for every bus socket of the
process; a service whose keys cannot be loaded refuses to start. Refused peers are counted
in bus_auth_failures_total, and every control command that changes state is audited
(``audit_bus_command``) like an API call.

Ready protocol: once a service accepts work it writes `run/<service>.ready`, a JSON object
{"service", "pid", "started_at", "metrics_port", ...extra}; the supervisor and health checks
read it. The pid file `run/<service>.pid` exists from start to exit."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from pyrt.bus import schema as wire
from pyrt.bus import security as bus_security
from pyrt.config import SERVICE_NAMES, AppConfig, load_config
from pyrt.config.system import START_ORDER
from pyrt.observability.logging import setup_logging
from pyrt.observability.metrics import (
    MetricsServer,
    ServiceMetrics,
    common_metrics,
    new_registry,
    serve_metrics,
    service_metrics,
)
from pyrt.persistence.files import write_atomic

ALIASES = {name.replace("_", "-"): name for name in START_ORDER}


def canonical_service(name: str) -> str:
    """'market-data' or 'market_data' -> 'market_data' (any process of START_ORDER);
    ValueError for anything else."""
    key = name.strip().lower()
    if key in START_ORDER:
        return key
    if key in ALIASES:
        return ALIASES[key]
    raise ValueError(f"unknown service {name!r}; expected one of {', '.join(ALIASES)}")


class Every:
    """Work a poll loop does every ``period_s`` (monotonic clock): ``wait_ms`` bounds the
    poll so the loop wakes when it is due, ``due()`` says whether to do it now."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._next = 0.0

    def wait_ms(self, cap_ms: int) -> int:
        return max(0, min(cap_ms, int((self._next - time.monotonic()) * 1000) + 1))

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.period_s
        return True


class ServiceRuntime:
    """Use as a context manager around a process's main loop."""

    def __init__(
        self,
        service: str,
        config_dir: Path,
        cfg: AppConfig | None = None,
        stop_event: threading.Event | None = None,
        *,
        bus: bool = True,
    ) -> None:
        """`stop_event` lets a caller (a test running the service in a thread) stop it;
        `bus=False`: the process has no bus sockets (no keys loaded)."""
        self.service = canonical_service(service)
        self.uses_bus = bus
        self.config_dir = Path(config_dir)
        self.cfg = cfg if cfg is not None else load_config(self.config_dir)
        paths = self.cfg.system.paths
        self.logger = setup_logging(
            self.service, paths.logs_dir, self.cfg.system.logging.level, json=self.cfg.system.logging.format == "json"
        )
        self.log = logging.getLogger(f"pyrt.{self.service}")
        self.metrics: ServiceMetrics
        if self.service in SERVICE_NAMES:
            self.metrics = service_metrics(self.service)
        else:  # control, sim broker: the common metrics only, served by no one
            registry = new_registry()
            self.metrics = ServiceMetrics(registry, common_metrics(registry, self.service))
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self.reload_event = threading.Event()
        self.started_at = time.time()
        self._metrics_server: MetricsServer | None = None
        self._old_handlers: dict[int, Any] = {}
        self._drops_exported: dict[str, int] = {}
        self.bus_security: bus_security.BusSecurity | None = None

    # ------------------------------------------------------------------ lifecycle
    def _secure_bus(self) -> None:
        """Load (or create) the bus keys and use them for every socket of this process."""
        try:
            self.bus_security = bus_security.for_config(self.cfg)
        except bus_security.BusSecurityError as exc:
            self.log.critical("%s not started: bus keys unusable: %s", self.service, exc)
            raise
        bus_security.activate(self.bus_security)
        bus_security.add_refusal_listener(self._count_refusal)

    def _count_refusal(self, side: str, reason: str, endpoint: str) -> None:
        self.metrics.common.bus_auth_failures.labels(side=side, reason=reason).inc()

    def __enter__(self) -> ServiceRuntime:
        if self.uses_bus:
            self._secure_bus()
        paths = self.cfg.system.paths
        run_dir = paths.run_dir
        for folder in (paths.logs_dir, paths.data_dir, paths.cache_dir, paths.models_dir, paths.backups_dir, run_dir):
            folder.mkdir(parents=True, exist_ok=True)  # the runtime folders exist from the first start
        self.cfg.system.paths.ready_file(self.service).unlink(missing_ok=True)
        write_atomic(self.cfg.system.paths.pid_file(self.service), f"{os.getpid()}\n")
        if self.service in SERVICE_NAMES:  # the others' metrics: the gateway's, or none
            m = self.cfg.system.metrics
            self._metrics_server = serve_metrics(self.metrics.registry, m.host, m.port_for(self.service))
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old_handlers[sig] = signal.signal(sig, self._on_stop_signal)
            self._old_handlers[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._on_reload_signal)
        self.log.info("%s starting pid=%d metrics_port=%d", self.service, os.getpid(), self.metrics_port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.mark_not_ready()
        self.cfg.system.paths.pid_file(self.service).unlink(missing_ok=True)
        if self._metrics_server is not None:
            self._metrics_server.close()
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        if self.bus_security is not None:
            bus_security.remove_refusal_listener(self._count_refusal)
            bus_security.deactivate(self.bus_security)
        self.log.info("%s stopped after %.1fs", self.service, time.time() - self.started_at)

    @property
    def metrics_port(self) -> int:
        return self._metrics_server.port if self._metrics_server is not None else 0

    def mark_ready(self, **extra: Any) -> None:
        """Tell the supervisor this service accepts work."""
        info = {
            "service": self.service,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "metrics_port": self.metrics_port,
            **extra,
        }
        write_atomic(self.cfg.system.paths.ready_file(self.service), json.dumps(info))
        self.log.info("%s ready", self.service)

    def mark_not_ready(self) -> None:
        """Withdraw the ready file (first thing of a stop, before the servers close)."""
        self.cfg.system.paths.ready_file(self.service).unlink(missing_ok=True)

    # ------------------------------------------------------------------ bus health
    def gap_handler(self, on_gap: Any = None, on_restart: Any = None) -> Any:
        """A GapHandler for subscribers: counts real gaps in bus_seq_gaps_total, logs them,
        and calls `on_gap(info)` so the service can ask for a snapshot; `on_restart(info)`
        when a publisher restarted (a new epoch: what it sent just before dying, or before
        this subscriber reconnected, may be lost)."""

        def handle(info: Any) -> None:
            if info.kind == "restart" and on_restart is not None:
                self.log.info("bus: %s restarted (topic %s)", info.publisher, info.topic)
                on_restart(info)
                return
            if info.kind != "gap":
                return
            self.metrics.common.bus_seq_gaps.inc()
            self.log.warning(
                "bus gap: %d messages missing from %s on %s (asking for a snapshot)",
                info.missing,
                info.publisher,
                info.topic,
            )
            if on_gap is not None:
                on_gap(info)

        return handle

    def export_drops(self, *sockets: Any) -> None:
        """Mirror the subscribers' dropped-frame counts into bus_messages_dropped_total."""
        totals: dict[str, int] = {}
        for sock in sockets:
            for reason, count in sock.dropped.items():
                totals[reason] = totals.get(reason, 0) + count
        counter = self.metrics.common.bus_messages_dropped
        for reason, count in totals.items():
            child = counter.labels(reason=reason)
            seen = self._drops_exported.get(reason, 0)
            if count > seen:
                child.inc(count - seen)
                self._drops_exported[reason] = count

    def audit_command(
        self,
        cmd: wire.ControlCommand,
        result: wire.ControlResult,
        before: Any = None,
        after: Any = None,
        journal: Any = None,
    ) -> None:
        """Audit one control command received over the bus (see ``audit_bus_command``).
        A service that holds the journal open (the execution engine) passes it."""
        audit_bus_command(self.cfg, self.service, cmd, result, before, after, journal)

    # ------------------------------------------------------------------ signals
    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stop_event.set()

    def _on_reload_signal(self, signum: int, frame: FrameType | None) -> None:
        self.reload_event.set()

    def try_reload(self) -> AppConfig | None:
        """If SIGHUP arrived: load and validate the config again. Returns the new config, or
        None (no reload asked, or the new config is invalid: then the old one stays)."""
        if not self.reload_event.is_set():
            return None
        self.reload_event.clear()
        try:
            new = load_config(self.config_dir)
        except Exception as exc:  # ConfigError lists every problem
            self.metrics.common.config_reload.labels(status="failed").inc()
            self.log.error("config reload rejected, keeping the running config: %s", exc)
            return None
        self.metrics.common.config_reload.labels(status="success").inc()
        self.log.info("config reloaded from %s", self.config_dir)
        self.cfg = new
        return new


READ_ONLY_ACTIONS = frozenset({"status", "recent"})
"""Control actions that change nothing: not audited (the API does not audit reads either)."""


def audit_bus_command(
    cfg: AppConfig,
    service: str,
    cmd: wire.ControlCommand,
    result: wire.ControlResult,
    before: Any = None,
    after: Any = None,
    journal: Any = None,
) -> bool:
    """Append an audit entry for a control command a service received over the bus (who
    it says it is, the action, why, the state before/after and the result), like the API
    audits its calls. Read-only actions are skipped. The sender is authenticated by the
    bus key, not by ``cmd.actor`` (which it chooses). A failed journal write is logged
    and returns False: the command has already taken effect, so the caller still answers.
    Returns whether an entry was written. ``journal``: the process's open journal writer,
    if it has one (a second writer of the same file in one process is refused)."""
    if cmd.action in READ_ONLY_ACTIONS:
        return False
    from pyrt.ops.audit import AuditLog, Caller

    caller = Caller(cmd.actor or "unknown", f"bus -> {service}")
    outcome = {"ok": result.ok, "detail": result.detail, "args": dict(cmd.args)}
    try:
        if journal is None:
            AuditLog(cfg.system.execution.journal_path).record(caller, cmd.action, cmd.reason, before, after, outcome)
        else:
            from pyrt.domain.events import RecordKind
            from pyrt.ops.audit import log as audit_log

            audit_log.warning(
                "audit who=%s from=%s action=%s reason=%r result=%s",
                caller.name,
                caller.source,
                cmd.action,
                cmd.reason,
                outcome,
            )
            journal.append(
                RecordKind.AUDIT,
                "",
                {
                    "who": caller.name,
                    "from": caller.source,
                    "action": cmd.action,
                    "reason": cmd.reason,
                    "before": before,
                    "after": after,
                    "result": outcome,
                    "at": time.time(),
                },
            )
    except Exception as exc:
        logging.getLogger(f"pyrt.{service}").critical(
            "audit of bus command %s failed: %s: %s", cmd.action, type(exc).__name__, exc
        )
        return False
    return True


def run_service(
    service: str, config_dir: Path, build: Callable[[ServiceRuntime], Any], stop_event: threading.Event | None = None
) -> int:
    """The life of a service process: the runtime, ``build(rt)`` (an object with
    ``ready_info()``, ``serve()`` and ``close()``), ready once built, serve until stopped,
    close whatever happens. Returns the exit code (0)."""
    with ServiceRuntime(service, config_dir, stop_event=stop_event) as rt:
        svc = build(rt)
        try:
            rt.mark_ready(**svc.ready_info())
            svc.serve()
        finally:
            svc.close()
    return 0
