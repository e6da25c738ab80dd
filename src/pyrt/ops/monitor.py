"""`pyrt monitor` (and scripts/monitor_zmq.py): message flow on the bus, per stream, every
interval::

    Market Data: 127 msgs/sec, avg latency: 0.45ms
    Signals: 45 msgs/sec, avg latency: 1.2ms
    Risk Checks: 45 msgs/sec, avg latency: 0.8ms
    Executions: 12 msgs/sec, avg latency: 2.1ms

Streams: market data = quotes, trades and bars (md.quote/trade/bar.*) on the market data
PUB; signals = sig.* on the signals PUB; risk checks = decisions (risk.decision) on the risk
PUB; executions = execution reports (exec.report.*) on the execution PUB. Heartbeats, state,
positions and P&L are not counted.

Latency is *bus latency* for every stream: the monitor's receipt time minus the envelope's
`ts_init` (when the publishing service created the message). For market data that is the
delay from the market data service to a subscriber, not the feed latency from the exchange
(that one is the service's market_data_latency_seconds metric).

On a terminal the four lines are redrawn in place; otherwise each interval prints a block
of four lines followed by an empty line."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from pyrt.ops.health import connect_address

if TYPE_CHECKING:
    from pyrt.config import AppConfig

STREAMS = (
    ("market_data", "Market Data"),
    ("signals", "Signals"),
    ("risk", "Risk Checks"),
    ("executions", "Executions"),
)
"""(key, label) of each stream, in display order."""


def stream_of(topic: str) -> str | None:
    """The stream a topic counts for, or None (heartbeats, state, positions ...)."""
    if topic.startswith(("md.quote.", "md.trade.", "md.bar.")):
        return "market_data"
    if topic.startswith("sig."):
        return "signals"
    if topic == "risk.decision":
        return "risk"
    if topic.startswith("exec.report."):
        return "executions"
    return None


def monitor_endpoints(cfg: AppConfig, md_port: int | None = None) -> dict[str, str]:
    """Stream -> connect address. `md_port`, if it differs from the configured market data
    port, replaces the market data endpoint by tcp://127.0.0.1:<md_port>."""
    from pyrt.config.types import zmq_tcp_host_port

    s = cfg.system
    md = connect_address(s.market_data.zmq_publish_address)
    configured = zmq_tcp_host_port(s.market_data.zmq_publish_address)
    if md_port is not None and (configured is None or configured[1] != md_port):
        md = f"tcp://127.0.0.1:{md_port}"
    return {
        "market_data": md,
        "signals": connect_address(s.signals.publish_address),
        "risk": connect_address(s.risk.publish_address),
        "executions": connect_address(s.execution.report_publish_address),
    }


@dataclass
class StreamStats:
    """Messages and summed latency of one stream since the last `take`."""

    count: int = 0
    latency_ns: int = 0

    def add(self, latency_ns: int) -> None:
        self.count += 1
        self.latency_ns += latency_ns

    def take(self, elapsed_s: float) -> tuple[float, float | None]:
        """(messages per second, average latency in ms or None) and reset."""
        rate = self.count / elapsed_s if elapsed_s > 0 else 0.0
        avg = self.latency_ns / self.count / 1e6 if self.count else None
        self.count = self.latency_ns = 0
        return rate, avg


def format_rate(rate: float) -> str:
    """'127', '45', '2.5' (one decimal below 10 when not whole)."""
    return f"{rate:.1f}" if rate < 10 and round(rate, 1) != round(rate) else f"{rate:.0f}"


def format_latency(ms: float | None) -> str:
    """'0.45ms', '1.2ms', '250ms'; 'n/a' without messages."""
    if ms is None:
        return "n/a"
    if ms < 1:
        return f"{ms:.2f}ms"
    return f"{ms:.1f}ms" if ms < 100 else f"{ms:.0f}ms"


def stream_line(label: str, rate: float, avg_ms: float | None) -> str:
    """`Market Data: 127 msgs/sec, avg latency: 0.45ms`."""
    return f"{label}: {format_rate(rate)} msgs/sec, avg latency: {format_latency(avg_ms)}"


class Monitor:
    """Subscribes to the data streams of the four PUB endpoints and reports per interval."""

    def __init__(self, endpoints: dict[str, str], security: Any = None) -> None:
        """`security`: the deployment's bus security (``pyrt.bus.security.for_config``);
        None uses the one activated in this process, if any."""
        from pyrt.bus import schema as wire
        from pyrt.bus.security import PROCESS
        from pyrt.bus.zmq import ZmqSubscriber

        prefixes = ("md.quote.", "md.trade.", "md.bar.", "sig.", wire.exact(wire.RISK_DECISION_TOPIC), "exec.report.")
        self.endpoints = endpoints
        self.sub = ZmqSubscriber(
            list(dict.fromkeys(endpoints.values())), prefixes, security=PROCESS if security is None else security
        )
        self.stats = {key: StreamStats() for key, _ in STREAMS}

    def close(self) -> None:
        """Close the subscriber socket."""
        self.sub.close()

    def receive(self, timeout_ms: int) -> None:
        """Wait up to `timeout_ms` for messages and account for them."""
        batch = self.sub.recv_batch(timeout_ms)
        if not batch:
            return
        now_ns = time.time_ns()
        for topic, env in batch:
            key = stream_of(topic)
            if key is not None:
                self.stats[key].add(now_ns - env.ts_init)

    def lines(self, elapsed_s: float) -> list[str]:
        """The four lines for the interval just ended (resets the counters)."""
        return [stream_line(label, *self.stats[key].take(elapsed_s)) for key, label in STREAMS]

    def run(self, interval_s: float, count: int, out: TextIO) -> None:
        """Report every `interval_s` until `count` reports were printed (0: forever)."""
        redraw = out.isatty()
        printed = 0
        last = time.monotonic()
        while True:
            next_at = last + interval_s
            while (remaining := next_at - time.monotonic()) > 0:
                self.receive(max(1, int(remaining * 1000)))
            now = time.monotonic()
            lines = self.lines(now - last)
            last = now
            if redraw:
                prefix = f"\x1b[{len(lines)}F" if printed else ""
                out.write(prefix + "".join(f"{line}\x1b[K\n" for line in lines))
            else:
                out.write("\n".join(lines) + "\n\n")
            out.flush()
            printed += 1
            if count and printed >= count:
                return
