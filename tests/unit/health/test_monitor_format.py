"""The pure half of `pyrt monitor`: streams, rates, latencies and lines."""

from __future__ import annotations

import io
import re
import time
from types import SimpleNamespace

import pytest

from pyrt.ops.monitor import STREAMS, Monitor, StreamStats, format_latency, format_rate, stream_line, stream_of


@pytest.mark.parametrize(
    ("topic", "stream"),
    [
        ("md.quote.AAPL", "market_data"),
        ("md.trade.AAPL", "market_data"),
        ("md.bar.AAPL", "market_data"),
        ("md.status.AAPL", None),
        ("sig.ema.AAPL", "signals"),
        ("risk.decision", "risk"),
        ("risk.state", None),
        ("exec.report.ema", "executions"),
        ("exec.pnl", None),
        ("hb.market_data", None),
    ],
)
def test_streams_exclude_heartbeats_and_state(topic: str, stream: str | None) -> None:
    assert stream_of(topic) == stream


def test_lines_like_the_guide() -> None:
    assert stream_line("Market Data", 127.0, 0.45) == "Market Data: 127 msgs/sec, avg latency: 0.45ms"
    assert stream_line("Signals", 45.2, 1.23) == "Signals: 45 msgs/sec, avg latency: 1.2ms"
    assert stream_line("Executions", 0.0, None) == "Executions: 0 msgs/sec, avg latency: n/a"
    assert format_rate(2.5) == "2.5" and format_rate(3.0) == "3" and format_rate(12.4) == "12"
    assert format_latency(250.4) == "250ms" and format_latency(0.049) == "0.05ms"


def test_stats_average_and_reset() -> None:
    s = StreamStats()
    for latency_ns in (1_000_000, 3_000_000):
        s.add(latency_ns)
    assert s.take(0.5) == (4.0, 2.0)
    assert s.take(1.0) == (0.0, None)


class _FakeSub:
    """recv_batch of a ZmqSubscriber: one signal and one heartbeat-free quote, then nothing."""

    def __init__(self) -> None:
        self.sent = False

    def recv_batch(self, timeout_ms: int) -> list[tuple[str, SimpleNamespace]]:
        if self.sent:
            time.sleep(timeout_ms / 1000)
            return []
        self.sent = True
        now = time.time_ns()
        return [
            ("sig.ema.AAPL", SimpleNamespace(ts_init=now - 2_000_000)),
            ("md.quote.AAPL", SimpleNamespace(ts_init=now)),
            ("hb.market_data", SimpleNamespace(ts_init=now)),
        ]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _monitor() -> Monitor:
    monitor = Monitor.__new__(Monitor)  # no sockets
    monitor.sub = _FakeSub()  # type: ignore[assignment]
    monitor.stats = {k: StreamStats() for k, _ in STREAMS}
    return monitor


def test_plain_output_prints_blocks() -> None:
    out = io.StringIO()
    _monitor().run(0.05, 2, out)
    blocks = out.getvalue().split("\n\n")
    assert blocks[2] == "" and len(blocks) == 3
    first = blocks[0].splitlines()
    assert [line.split(":")[0] for line in first] == ["Market Data", "Signals", "Risk Checks", "Executions"]
    assert re.fullmatch(r"Signals: \d+ msgs/sec, avg latency: 2\.\dms", first[1]), first[1]  # 1 message in ~0.05 s
    assert blocks[1].splitlines()[1] == "Signals: 0 msgs/sec, avg latency: n/a"
    assert "\x1b" not in out.getvalue()


def test_terminal_output_redraws_in_place() -> None:
    out = _Tty()
    _monitor().run(0.05, 2, out)
    text = out.getvalue()
    assert not text.startswith("\x1b") and text.count("\x1b[4F") == 1
    assert text.count("\x1b[K\n") == 8
