"""`pyrt health` (and scripts/health_check.sh): is each service really alive and doing its
job, not merely present in the process table.

Two halves:
- `collect(cfg)` gathers facts (I/O): pid and ready files (`pyrt.ops.status`), one scrape
  of every service's /metrics and of the gateway, a bus probe of at most `probe_s` seconds
  subscribed to the heartbeats (hb.*), market data and risk state on the four PUB
  endpoints, and RSS / CPU of each pid from /proc;
- `assess(facts)` turns those facts into a verdict (pure, unit-tested): per service
  HEALTHY, DEGRADED or UNHEALTHY with reasons, the ZeroMQ and Prometheus summary lines,
  and warnings (high memory or CPU, circuit breaker, safe mode).

Exit codes: 0 healthy and able to trade (safe mode is a warning: the operator chose it);
1 something is UNHEALTHY; 4 (EXIT_BLOCKED) alive but trading is blocked or degraded: the
execution engine halted, the circuit breaker active, the risk state not ACTIVE or a service
DEGRADED. The reasons are printed, with the command that clears the cause when there is one
(e.g. adopting the broker's positions after a restore).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyrt.config import SERVICE_NAMES
from pyrt.ops.status import local_host, uptime_text

if TYPE_CHECKING:
    from pyrt.config import AppConfig

HEALTHY, DEGRADED, UNHEALTHY = "HEALTHY", "DEGRADED", "UNHEALTHY"
EXIT_HEALTHY, EXIT_UNHEALTHY, EXIT_BLOCKED = 0, 1, 4
ADOPT_COMMAND = "python scripts/reconcile_positions.py --apply --yes"
"""The exact command that adopts the broker's positions (named by the health check and by
`pyrt reconcile` when our positions disagree with the broker's)."""
BREAKER_COMMAND = 'pyrt breaker deactivate --reason "<why it is safe>"'
MARKS = {HEALTHY: "✓", DEGRADED: "⚠", UNHEALTHY: "✗"}
TITLES = {  # also the order of the lines
    "market_data": "Market Data Service",
    "risk_manager": "Risk Manager",
    "execution_engine": "Execution Engine",
    "signal_bridge": "Signal Bridge",
}
TRADE_STREAM_METRICS = ("execution_trade_stream_connected", "execution_broker_stream_connected")
"""Metrics that, if an execution engine exposes one, say whether the broker's trade_updates
stream is connected (1) or not (0)."""
CPU_WINDOW_S = 0.5
"""The probe lasts at least this long, so that CPU usage is measured over a fair window."""
_MD_DATA_PREFIXES = ("md.quote.", "md.trade.", "md.bar.")


@dataclass(frozen=True)
class Thresholds:
    """Limits of the verdict; the percentages are of total memory and of one CPU core."""

    heartbeat_max_age_s: float = 3.0
    memory_percent: float = 75.0
    cpu_percent: float = 90.0


@dataclass
class ServiceFacts:
    """What was observed about one service. `metrics` is None when its endpoint did not
    answer; values are summed over labels. `metrics_later` is a second scrape at the end
    of the probe (market data only, to see its message counter move)."""

    service: str
    running: bool
    pid: int | None = None
    ready: dict[str, Any] | None = None
    uptime_s: float | None = None
    metrics_port: int | None = None
    metrics: dict[str, float] | None = None
    metrics_later: dict[str, float] | None = None
    heartbeat_status: str | None = None
    heartbeat_age_s: float | None = None
    rss_bytes: int | None = None
    cpu_percent: float | None = None


@dataclass
class HealthFacts:
    """Everything `assess` needs. `streams_seen`: service -> a message arrived from its PUB
    endpoint during the probe. `md_messages`: market data messages (quotes, trades, bars)
    seen on the bus during the probe (counting stops at the first). `metric_points`: samples on the gateway (None if it did not answer);
    `service_points`: samples per answering service."""

    services: dict[str, ServiceFacts]
    probe_s: float
    streams_seen: dict[str, bool] = field(default_factory=dict)
    md_messages: int = 0
    risk_state: dict[str, Any] | None = None
    alerts: list[str] = field(default_factory=list)
    gateway_port: int | None = None
    metric_points: int | None = None
    service_points: dict[str, int] = field(default_factory=dict)
    mem_total_bytes: int | None = None


@dataclass
class ServiceHealth:
    """The verdict on one service."""

    service: str
    state: str
    reasons: list[str] = field(default_factory=list)
    uptime_s: float | None = None
    pid: int | None = None
    heartbeat_status: str | None = None
    heartbeat_age_s: float | None = None


@dataclass
class HealthReport:
    """The verdict on the whole system."""

    services: list[ServiceHealth]
    zmq_active: int
    zmq_total: int
    metric_points: int | None
    metrics_source: str  # "gateway", "services" or "none"
    gateway_port: int | None = None
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    blocked: list[str] = field(default_factory=list)  # why trading cannot happen now
    next_steps: list[str] = field(default_factory=list)  # commands that clear those causes

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 unhealthy, 4 alive but halted, breaker active or degraded."""
        if not self.healthy:
            return EXIT_UNHEALTHY
        return EXIT_BLOCKED if self.blocked else EXIT_HEALTHY

    @property
    def healthy(self) -> bool:
        """False if anything is UNHEALTHY (the exit code 1 case)."""
        return (
            all(s.state != UNHEALTHY for s in self.services)
            and self.zmq_active == self.zmq_total
            and self.metric_points is not None
        )

    @property
    def status(self) -> str:
        """ "healthy", "degraded" (something DEGRADED, nothing UNHEALTHY), "blocked" (the
        breaker or the risk state stops trading) or "unhealthy"."""
        if not self.healthy:
            return "unhealthy"
        if any(s.state == DEGRADED for s in self.services):
            return "degraded"
        return "blocked" if self.blocked else "healthy"


# --------------------------------------------------------------------------- parsing
def parse_kb_field(text: str, key: str) -> int | None:
    """Bytes of a `Key:   1234 kB` line of /proc/meminfo or /proc/<pid>/status."""
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if sep and name.strip() == key:
            parts = rest.split()
            try:
                value = int(parts[0])
            except (IndexError, ValueError):
                return None
            return value * 1024 if len(parts) > 1 and parts[1].lower() == "kb" else value
    return None


def memory_percent(rss_bytes: int | None, total_bytes: int | None) -> float | None:
    """RSS as a percentage of total memory, None if either is unknown."""
    if not rss_bytes or not total_bytes:
        return None
    return 100.0 * rss_bytes / total_bytes


def display_name(service: str) -> str:
    """'execution_engine' -> 'execution-engine' (as in warnings)."""
    return service.replace("_", "-")


# --------------------------------------------------------------------------- verdict
def _metric(values: dict[str, float] | None, name: str) -> float | None:
    return None if values is None else values.get(name)


def _md_flowing(f: ServiceFacts, facts: HealthFacts) -> bool:
    """A market data message reached the bus during the probe, or the feed counter moved."""
    if facts.md_messages > 0:
        return True
    before = _metric(f.metrics, "market_data_messages_received_total")
    after = _metric(f.metrics_later, "market_data_messages_received_total")
    return before is not None and after is not None and after > before


def assess_service(f: ServiceFacts, facts: HealthFacts, th: Thresholds) -> ServiceHealth:
    """The verdict on one service from its facts (and the bus facts it depends on)."""
    out = ServiceHealth(
        f.service,
        HEALTHY,
        uptime_s=f.uptime_s,
        pid=f.pid,
        heartbeat_status=f.heartbeat_status,
        heartbeat_age_s=f.heartbeat_age_s,
    )
    if not f.running:
        out.state, out.reasons = UNHEALTHY, ["not running"]
        return out
    bad: list[str] = []
    weak: list[str] = []
    if f.ready is None:
        bad.append("not ready")
    if f.metrics is None:
        bad.append(f"metrics endpoint :{f.metrics_port} not answering")
    if f.heartbeat_age_s is None:
        bad.append(f"no heartbeat on the bus in {facts.probe_s:.1f}s")
    elif f.heartbeat_age_s > th.heartbeat_max_age_s:
        bad.append(f"last heartbeat {f.heartbeat_age_s:.1f}s ago")
    status = f.heartbeat_status
    if f.service == "market_data":
        connected = _metric(f.metrics, "market_data_websocket_connected")
        if connected is not None and connected != 1:
            bad.append("feed websocket disconnected")
        elif f.heartbeat_age_s is not None and not _md_flowing(f, facts):
            weak.append(f"no market data flowing in {facts.probe_s:.1f}s")
        if status == "degraded":
            weak.append("stale symbols")
    elif f.service == "execution_engine":
        if status == "halted":
            reason = (f.ready or {}).get("halted") or (facts.alerts[-1] if facts.alerts else "")
            weak.append(f"halted: {reason}" if reason else "halted")
        elif status == "starting":
            weak.append("starting (reconciling with the broker)")
        for name in TRADE_STREAM_METRICS:
            value = _metric(f.metrics, name)
            if value is not None and value != 1:
                weak.append("broker trade stream disconnected")
    if bad:
        out.state, out.reasons = UNHEALTHY, bad
    elif weak:
        out.state, out.reasons = DEGRADED, weak
    return out


def warnings_of(facts: HealthFacts, th: Thresholds) -> list[str]:
    """Warning texts (without the '⚠ Warning: ' prefix)."""
    found: list[str] = []
    risk = facts.services.get("risk_manager")
    state = facts.risk_state or {}
    breaker = (
        state.get("circuit_breaker_active")
        or _metric(risk.metrics if risk else None, "risk_circuit_breaker_active") == 1
    )
    reason = state.get("reason") or ""
    if breaker:
        found.append("Circuit breaker active" + (f" ({reason})" if reason else ""))
    elif state.get("trading_state") not in (None, "ACTIVE"):
        found.append(f"Trading {str(state['trading_state']).lower()}" + (f" ({reason})" if reason else ""))
    bridge = facts.services.get("signal_bridge")
    if bridge is not None and bridge.heartbeat_status == "safe_mode":
        found.append("Signal bridge in safe mode (no new orders)")
    for f in (facts.services[n] for n in TITLES if n in facts.services):
        pct = memory_percent(f.rss_bytes, facts.mem_total_bytes)
        if pct is not None and pct >= th.memory_percent:
            found.append(f"High memory usage on {display_name(f.service)} ({pct:.0f}%)")
        if f.cpu_percent is not None and f.cpu_percent >= th.cpu_percent:
            found.append(f"High CPU usage on {display_name(f.service)} ({f.cpu_percent:.0f}%)")
    return found


def blocked_of(facts: HealthFacts, services: list[ServiceHealth]) -> tuple[list[str], list[str]]:
    """Why trading is blocked (or degraded) although the processes are alive, and the
    commands that clear those causes."""
    blocked: list[str] = []
    state = facts.risk_state or {}
    risk = facts.services.get("risk_manager")
    reason = str(state.get("reason") or "")
    if (
        state.get("circuit_breaker_active")
        or _metric(risk.metrics if risk else None, "risk_circuit_breaker_active") == 1
    ):
        blocked.append("circuit breaker active" + (f" ({reason})" if reason else ""))
    elif state.get("trading_state") not in (None, "ACTIVE"):
        blocked.append(f"risk manager {str(state['trading_state']).lower()}" + (f" ({reason})" if reason else ""))
    for s in services:
        if s.state == DEGRADED:
            blocked.append(f"{TITLES.get(s.service, s.service)} degraded: {'; '.join(s.reasons)}")
    text = " ".join(blocked) + " " + " ".join(facts.alerts)
    steps: list[str] = []
    if "position_mismatch" in text or "position mismatch" in text:
        steps.append(f"adopt the broker's positions: {ADOPT_COMMAND}")
    elif blocked and blocked[0].startswith("circuit breaker"):
        steps.append(f"once the cause is fixed: {BREAKER_COMMAND}")
    return blocked, steps


def assess(facts: HealthFacts, th: Thresholds | None = None) -> HealthReport:
    """The whole verdict from collected facts."""
    th = th or Thresholds()
    services = [assess_service(facts.services[n], facts, th) for n in TITLES if n in facts.services]
    if facts.metric_points is not None:
        points, source = facts.metric_points, "gateway"
    elif facts.service_points:
        points, source = sum(facts.service_points.values()), "services"
    else:
        points, source = None, "none"
    blocked, steps = blocked_of(facts, services)
    return HealthReport(
        services,
        sum(bool(facts.streams_seen.get(n)) for n in SERVICE_NAMES),
        len(SERVICE_NAMES),
        points,
        source,
        facts.gateway_port,
        warnings_of(facts, th),
        blocked=blocked,
        next_steps=steps,
    )


# --------------------------------------------------------------------------- output
def service_line(s: ServiceHealth) -> str:
    """`✓ Market Data Service: HEALTHY (uptime: 2d 4h)` or `✗ ...: UNHEALTHY (reason)`."""
    detail = f"uptime: {uptime_text(s.uptime_s)}" if s.state == HEALTHY else "; ".join(s.reasons)
    return f"{MARKS[s.state]} {TITLES.get(s.service, s.service)}: {s.state} ({detail})"


def report_lines(report: HealthReport) -> list[str]:
    """The lines `pyrt health` prints."""
    lines = [service_line(s) for s in report.services]
    zmq_ok = report.zmq_active == report.zmq_total
    lines.append(f"{'✓' if zmq_ok else '✗'} ZeroMQ Connections: {report.zmq_active}/{report.zmq_total} active")
    if report.metrics_source == "gateway":
        lines.append(f"✓ Prometheus Metrics: {report.metric_points} data points")
    elif report.metrics_source == "services":
        lines.append(
            f"⚠ Prometheus Metrics: {report.metric_points} data points "
            f"(gateway :{report.gateway_port} not answering; sum over services)"
        )
    else:
        lines.append("✗ Prometheus Metrics: no metrics endpoint answering")
    lines.extend(f"⚠ Warning: {w}" for w in report.warnings)
    if report.healthy and report.blocked:
        lines.append(f"✗ Trading blocked: {'; '.join(report.blocked)}")
    lines.extend(f"→ Next: {step}" for step in report.next_steps)
    return lines


def report_dict(report: HealthReport) -> dict[str, Any]:
    """`pyrt health --json`: the same content as the lines, as one JSON object."""
    services = {}
    for s in report.services:
        services[s.service] = {
            **asdict(s),
            "name": TITLES.get(s.service, s.service),
            "uptime": None if s.uptime_s is None else uptime_text(s.uptime_s),
        }
        services[s.service].pop("service")
    return {
        "status": report.status,
        "healthy": report.healthy,
        "exit_code": report.exit_code,
        "blocked": report.blocked,
        "next_steps": report.next_steps,
        "services": services,
        "zmq": {"active": report.zmq_active, "total": report.zmq_total},
        "metrics": {"data_points": report.metric_points, "source": report.metrics_source},
        "warnings": report.warnings,
        "duration_s": round(report.duration_s, 3),
        "lines": report_lines(report),
    }


# --------------------------------------------------------------------------- collection
def connect_address(address: str) -> str:
    """A ZeroMQ address to connect to for a PUB bound to `address` (wildcards -> loopback)."""
    if not address.startswith("tcp://"):
        return address
    host, _, port = address[len("tcp://") :].rpartition(":")
    target = local_host(host.strip("[]"))
    if ":" in target and not target.startswith("["):
        target = f"[{target}]"
    return f"tcp://{target}:{port}"


def bus_endpoints(cfg: AppConfig) -> dict[str, str]:
    """Service -> the connect address of the PUB endpoint it publishes on."""
    s = cfg.system
    return {
        "market_data": connect_address(s.market_data.zmq_publish_address),
        "risk_manager": connect_address(s.risk.publish_address),
        "execution_engine": connect_address(s.execution.report_publish_address),
        "signal_bridge": connect_address(s.signals.publish_address),
    }


def publisher_of_topic(topic: str) -> str | None:
    """The service whose PUB endpoint carries `topic` (topics are disjoint per endpoint)."""
    if topic.startswith("hb."):
        name = topic[3:]
        return name if name in SERVICE_NAMES else None
    for prefix, service in (
        ("md.", "market_data"),
        ("sig.", "signal_bridge"),
        ("risk.", "risk_manager"),
        ("exec.", "execution_engine"),
    ):
        if topic.startswith(prefix):
            return service
    return None


@dataclass
class BusObservation:
    """What the bus probe saw. `heartbeats`: service -> (status, ts_init ns)."""

    heartbeats: dict[str, tuple[str, int]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    md_messages: int = 0
    risk_state: dict[str, Any] | None = None
    alerts: list[str] = field(default_factory=list)


def probe_bus(
    endpoints: dict[str, str], expect: set[str], timeout_s: float, min_s: float = 0.0, security: Any = None
) -> BusObservation:
    """Listen on the PUB endpoints until a heartbeat of every service in `expect` (and, if
    market data is expected, one market data message) arrived, or `timeout_s` passed;
    listen at least `min_s`."""
    from pyrt.bus import schema as wire
    from pyrt.bus.security import PROCESS
    from pyrt.bus.zmq import ZmqSubscriber

    obs = BusObservation()
    prefixes = ["hb.", *_MD_DATA_PREFIXES, wire.exact(wire.RISK_STATE_TOPIC), wire.exact(wire.exec_alert())]
    start = time.monotonic()
    deadline = start + timeout_s
    with ZmqSubscriber(list(endpoints.values()), prefixes, security=PROCESS if security is None else security) as sub:
        while True:
            remaining = deadline - time.monotonic()
            want_md = "market_data" in expect and obs.md_messages == 0
            done = expect <= obs.heartbeats.keys() and not want_md
            if remaining <= 0 or (done and time.monotonic() - start >= min_s):
                return obs
            wait_s = min(remaining, start + min_s - time.monotonic()) if done else remaining
            for topic, env in sub.recv_batch(max(1, int(wait_s * 1000))):
                service = publisher_of_topic(topic)
                if service is not None:
                    obs.seen.add(service)
                payload = env.payload
                if isinstance(payload, wire.Heartbeat) and service is not None:
                    obs.heartbeats[service] = (payload.status, env.ts_init)
                elif topic.startswith(_MD_DATA_PREFIXES):
                    if obs.md_messages == 0:
                        for prefix in _MD_DATA_PREFIXES:  # one is enough: spare the probe a busy feed
                            sub.unsubscribe(prefix)
                    obs.md_messages += 1
                elif isinstance(payload, wire.RiskState):
                    obs.risk_state = {
                        "trading_state": payload.trading_state,
                        "reason": payload.reason,
                        "circuit_breaker_active": payload.circuit_breaker_active,
                    }
                elif isinstance(payload, wire.IntegrityAlert):
                    obs.alerts.append(f"{payload.kind} {payload.symbol}: {payload.detail}".strip())


def scrape_metrics(url: str, timeout_s: float) -> tuple[dict[str, float], int] | None:
    """Sample values of a /metrics page summed by sample name, and the number of samples;
    None if it does not answer."""
    from pyrt.ops.gateway import parse_exposition, scrape

    text = scrape(url, timeout_s)
    if text is None:
        return None
    totals: dict[str, float] = {}
    count = 0
    for family in parse_exposition(text):
        for sample in family.samples:
            count += 1
            try:
                totals[sample.name] = totals.get(sample.name, 0.0) + float(sample.value)
            except ValueError:
                continue
    return totals, count


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of `pid` from /proc, None where unavailable."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int | None:
    """Resident memory of `pid` from /proc, None where unavailable."""
    text = _read(f"/proc/{pid}/status")
    return None if text is None else parse_kb_field(text, "VmRSS")


def collect(cfg: AppConfig, probe_s: float = 2.0, scrape_timeout_s: float = 0.8) -> HealthFacts:
    """Gather the facts about the deployment of `cfg` (takes at most about probe_s + 1 s)."""
    from pyrt.bus.security import for_config
    from pyrt.ops.status import process_status, read_ready_info

    statuses = {n: process_status(cfg, n, with_metrics=False) for n in SERVICE_NAMES}
    host = local_host(cfg.system.metrics.host)
    gateway_port = cfg.system.metrics.gateway
    running = {n for n, s in statuses.items() if s.running}
    t0 = time.monotonic()
    cpu0 = {n: cpu_seconds(statuses[n].pid or 0) for n in running}
    with ThreadPoolExecutor(max_workers=6) as pool:
        url = {n: f"http://{host}:{statuses[n].metrics_port}/metrics" for n in running if statuses[n].metrics_port}
        scrapes = {n: pool.submit(scrape_metrics, u, scrape_timeout_s) for n, u in url.items()}
        gateway = pool.submit(scrape_metrics, f"http://{host}:{gateway_port}/metrics", scrape_timeout_s + 1.5)
        obs = probe_bus(
            bus_endpoints(cfg), running, probe_s, min_s=min(CPU_WINDOW_S, probe_s), security=for_config(cfg)
        )
        later = pool.submit(scrape_metrics, url["market_data"], scrape_timeout_s) if "market_data" in url else None
        results = {n: fut.result() for n, fut in scrapes.items()}
        md_later = later.result() if later is not None else None
        gw = gateway.result()
    elapsed = max(time.monotonic() - t0, 1e-3)
    now_ns = time.time_ns()
    facts = HealthFacts(
        {},
        probe_s,
        {n: n in obs.seen for n in SERVICE_NAMES},
        obs.md_messages,
        obs.risk_state,
        obs.alerts,
        gateway_port,
        None if gw is None else gw[1],
        {n: r[1] for n, r in results.items() if r is not None},
        parse_kb_field(_read("/proc/meminfo") or "", "MemTotal"),
    )
    for name, st in statuses.items():
        f = ServiceFacts(name, st.running, st.pid, None, st.uptime_s, st.metrics_port)
        if st.running and st.pid:
            f.ready = read_ready_info(cfg, name) if st.ready else None
            result = results.get(name)
            f.metrics = result[0] if result else None
            f.metrics_later = md_later[0] if name == "market_data" and md_later else None
            f.rss_bytes = rss_bytes(st.pid)
            before, after = cpu0.get(name), cpu_seconds(st.pid)
            if before is not None and after is not None:
                f.cpu_percent = 100.0 * (after - before) / elapsed
        hb = obs.heartbeats.get(name)
        if hb is not None:
            f.heartbeat_status, f.heartbeat_age_s = hb[0], max(0.0, (now_ns - hb[1]) / 1e9)
        facts.services[name] = f
    return facts


def run_health(cfg: AppConfig, th: Thresholds | None = None, probe_s: float = 2.0) -> HealthReport:
    """Collect and assess: the whole `pyrt health`."""
    start = time.monotonic()
    report = assess(collect(cfg, probe_s), th)
    report.duration_s = time.monotonic() - start
    return report
