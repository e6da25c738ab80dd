"""What is running: the processes of a deployment from their pid and ready files, checked
against the live process table (a pid file is trusted only if that pid is alive, not a
zombie, and its command line contains "pyrt"; stale files are removed), and the status
report of `pyrt status`.

Process names ("targets"): the four services, "sim_broker" (the embedded simulated broker,
ready file = its bound port) and "control" (the metrics gateway, later the control API)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pyrt.config import AppConfig
from pyrt.config.system import CONTROL, SERVICE_NAMES, SIM_BROKER, START_ORDER
from pyrt.ops.gateway import format_value, parse_exposition, scrape

SUPERVISOR = "supervisor"
SUPERVISOR_STATE = "supervisor.json"
"""run/supervisor.json: what the running supervisor publishes (see pyrt.ops.service_control)."""
TARGETS = frozenset(START_ORDER)
_ALIASES = {"sim-broker": SIM_BROKER, "simbroker": SIM_BROKER, "gateway": CONTROL}

KEY_METRICS: dict[str, tuple[str, ...]] = {
    "market_data": ("market_data_websocket_connected", "market_data_messages_received_total"),
    "risk_manager": ("risk_checks_performed_total", "risk_circuit_breaker_active"),
    "execution_engine": ("execution_orders_submitted_total", "execution_orders_filled_total"),
    "signal_bridge": ("signal_bridge_signals_generated_total", "trading_messages_processed_total"),
    CONTROL: ("pyrt_gateway_scrape_up",),
}
"""The couple of metrics `pyrt status` shows per service (summed over labels)."""


def canonical_target(name: str) -> str:
    """'market-data', 'market_data', 'sim-broker', 'control' ... -> the target name;
    ValueError for anything else."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key.replace("-", "_"))
    if key in TARGETS:
        return key
    raise ValueError(f"unknown service {name!r}; expected one of {', '.join(t.replace('_', '-') for t in START_ORDER)}")


def expected_targets(cfg: AppConfig) -> list[str]:
    """The processes `pyrt up` starts for this config, in start order."""
    return [t for t in START_ORDER if t != SIM_BROKER or cfg.venue.embedded_sim]


# --------------------------------------------------------------------------- files
def run_dir(cfg: AppConfig) -> Path:
    """Where pid and ready files live."""
    return cfg.system.paths.run_dir


def pid_file(cfg: AppConfig, name: str) -> Path:
    """run/<name>.pid (named by `PathsConfig.pid_file`)."""
    return cfg.system.paths.pid_file(name)


def ready_file(cfg: AppConfig, name: str) -> Path:
    """run/<name>.ready (named by `PathsConfig.ready_file`)."""
    return cfg.system.paths.ready_file(name)


def read_pid(path: Path) -> int | None:
    """The pid in a pid file, or None (missing or garbage)."""
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def read_ready_info(cfg: AppConfig, name: str) -> dict[str, Any] | None:
    """The ready file as a dict, or None if absent. The sim broker's ready file holds only
    its port: it is returned as {"port": N}."""
    try:
        data = json.loads(ready_file(cfg, name).read_text())
    except (FileNotFoundError, ValueError):
        return None
    if isinstance(data, int):
        return {"port": data}
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- processes
def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def process_cmdline(pid: int) -> str | None:
    """The command line of `pid` as one string, or None if it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace").strip()
    except FileNotFoundError:
        return None
    except OSError:
        pass
    if sys.platform.startswith("linux"):
        return None
    try:  # macOS and other systems without /proc
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], check=False, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def pid_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return _proc_state(pid) != "Z"


def is_pyrt_process(pid: int) -> bool:
    """True if `pid` is alive and its command line contains "pyrt"."""
    if not pid_alive(pid):
        return False
    cmdline = process_cmdline(pid)
    return cmdline is not None and "pyrt" in cmdline


def live_pid(cfg: AppConfig, name: str, clean: bool = True) -> int | None:
    """The pid of a running `name`, trusting its pid file only if the process is alive and
    a pyrt process. A stale pid file (and its ready file) is removed when `clean`."""
    path = pid_file(cfg, name)
    pid = read_pid(path)
    if pid is not None and is_pyrt_process(pid):
        return pid
    if clean and path.exists():
        path.unlink(missing_ok=True)
        ready_file(cfg, name).unlink(missing_ok=True)
    return None


def uptime_text(seconds: float | None) -> str:
    """'2d 4h', '3h 12m', '5m 2s', '7s'; '-' for None."""
    if seconds is None:
        return "-"
    s = int(max(seconds, 0))
    days, hours, minutes = s // 86400, s // 3600 % 24, s // 60 % 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {s % 60}s"
    return f"{s}s"


# --------------------------------------------------------------------------- status
@dataclass
class ProcessStatus:
    """One line of `pyrt status`."""

    name: str
    running: bool
    pid: int | None = None
    ready: bool = False
    uptime_s: float | None = None
    metrics_port: int | None = None
    port: int | None = None
    metrics: dict[str, str] = field(default_factory=dict)
    restarts: int = 0  # by the supervisor since it started
    supervised: str = ""  # the supervisor's word on a process that is not running: held, restarting


def metrics_port_of(cfg: AppConfig, name: str, ready: dict[str, Any] | None) -> int | None:
    """The metrics port of a target: from its ready file, else from the config."""
    if ready and int(ready.get("metrics_port") or 0) > 0:
        return int(ready["metrics_port"])
    if name in SERVICE_NAMES:
        return cfg.system.metrics.port_for(name)
    if name == CONTROL:
        return cfg.system.metrics.gateway
    return None


def local_host(host: str) -> str:
    """A host to connect to for a listener bound to `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "*") else ("[::1]" if host == "::" else host)


def key_metrics(cfg: AppConfig, name: str, port: int, timeout_s: float = 1.0) -> dict[str, str]:
    """The KEY_METRICS of a service read from its /metrics (summed over labels); {} if unreachable."""
    wanted = KEY_METRICS.get(name)
    if not wanted:
        return {}
    text = scrape(f"http://{local_host(cfg.system.metrics.host)}:{port}/metrics", timeout_s)
    if text is None:
        return {}
    totals: dict[str, float] = {}
    for family in parse_exposition(text):
        for sample in family.samples:
            if sample.name in wanted:
                totals[sample.name] = totals.get(sample.name, 0.0) + float(sample.value)
    found = {n: format_value(repr(totals[n])) for n in wanted if n in totals}
    return found


def process_status(cfg: AppConfig, name: str, with_metrics: bool = True) -> ProcessStatus:
    """The status of one target (stale pid files are cleaned up on the way)."""
    pid = live_pid(cfg, name)
    if pid is None:
        return ProcessStatus(name, running=False)
    ready = read_ready_info(cfg, name)
    started = ready.get("started_at") if ready else None
    if started is None:
        try:
            started = pid_file(cfg, name).stat().st_mtime
        except FileNotFoundError:
            started = None
    status = ProcessStatus(
        name,
        running=True,
        pid=pid,
        ready=ready is not None,
        uptime_s=None if started is None else round(time.time() - float(started), 1),
    )
    if name == SIM_BROKER:
        status.port = int(ready["port"]) if ready and "port" in ready else cfg.system.sim_broker.port
        return status
    status.metrics_port = metrics_port_of(cfg, name, ready)
    if with_metrics and status.metrics_port and name in KEY_METRICS:
        status.metrics = key_metrics(cfg, name, status.metrics_port)
    return status


def system_status(cfg: AppConfig, names: Iterable[str] | None = None) -> list[ProcessStatus]:
    """The status of every expected target (default: those `pyrt up` starts), with the
    supervisor's restart counts and held/restarting states."""
    statuses = [process_status(cfg, n) for n in (names if names is not None else expected_targets(cfg))]
    state = supervisor_state(cfg)
    restarts, states = state.get("restarts") or {}, state.get("states") or {}
    for s in statuses:
        s.restarts = int(restarts.get(s.name, 0))
        if not s.running and states.get(s.name) in ("held", "restarting"):
            s.supervised = str(states[s.name])
    return statuses


def supervisor_pid(cfg: AppConfig) -> int | None:
    """The pid of a running `pyrt up` supervisor, if any."""
    return live_pid(cfg, SUPERVISOR)


def supervisor_state(cfg: AppConfig) -> dict[str, Any]:
    """The running supervisor's published state: restarts per process, the processes held
    down on purpose, each process's state ({} when no supervisor runs)."""
    if supervisor_pid(cfg) is None:
        return {}
    try:
        data = json.loads((run_dir(cfg) / SUPERVISOR_STATE).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def status_json(statuses: list[ProcessStatus], supervisor: int | None) -> str:
    """`pyrt status --json` output."""
    return json.dumps(
        {
            "all_running": all(s.running for s in statuses),
            "supervisor_pid": supervisor,
            "services": [asdict(s) for s in statuses],
        },
        indent=2,
    )


def status_table(statuses: list[ProcessStatus], supervisor: int | None) -> str:
    """`pyrt status` output: one line per process."""
    rows = [("SERVICE", "STATE", "PID", "UPTIME", "READY", "PORT", "RESTARTS", "METRICS")]
    for s in statuses:
        port = f":{s.metrics_port}" if s.metrics_port else (f":{s.port}" if s.port else "-")
        rows.append(
            (
                s.name,
                "running" if s.running else ("stopped" if not s.supervised else f"stopped ({s.supervised})"),
                str(s.pid or "-"),
                uptime_text(s.uptime_s),
                ("yes" if s.ready else "no") if s.running else "-",
                port,
                str(s.restarts),
                " ".join(f"{k}={v}" for k, v in s.metrics.items()),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows]
    running = sum(s.running for s in statuses)
    sup = f"supervisor pid {supervisor}" if supervisor else "no supervisor (started by hand or by systemd)"
    lines.append(f"{running}/{len(statuses)} running; {sup}")
    return "\n".join(line.rstrip() for line in lines)
