"""The data stream's reconnect loop (pyrt.venues.alpaca.data_stream) on its own: backoff
schedule on failures, reasons, and a prompt stop in the middle of a backoff."""

from __future__ import annotations

import threading
import time
from typing import Any

from pyrt.simbroker.harness import DEFAULT_KEYS
from pyrt.venues.alpaca.data_stream import AUTH_FAILED, CONNECT_FAILED, BackoffPolicy, BatchStockDataStream
from tests.support.deploy import free_port, wait_for

from .conftest import Sim


class Recorder:
    """A FeedListener that remembers what the stream told it."""

    def __init__(self) -> None:
        self.reconnects: list[tuple[int, float, str]] = []
        self.connected = 0
        self.frames = 0

    def on_frame(self, frame: bytes, recv_ns: int) -> int:
        self.frames += 1
        return 0

    def on_connected(self) -> None:
        self.connected += 1

    def on_disconnected(self, reason: str, detail: str) -> None:
        pass

    def on_reconnect(self, attempt: int, delay_s: float, reason: str) -> None:
        self.reconnects.append((attempt, delay_s, reason))


def run_stream(url: str, secret: str, policy: BackoffPolicy) -> tuple[BatchStockDataStream, Recorder, threading.Thread]:
    rec = Recorder()
    stream = BatchStockDataStream(DEFAULT_KEYS[0], secret, url, rec, policy, ["AAPL"], idle_timeout_s=None)
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    return stream, rec, thread


def stop(stream: Any, thread: threading.Thread) -> float:
    wait_for(lambda: stream._loop is not None and stream._loop.is_running(), 5, "stream loop")
    started = time.monotonic()
    stream.stop()
    thread.join(5)
    assert not thread.is_alive()
    return time.monotonic() - started


def test_failed_auth_backs_off_exponentially_and_stop_interrupts_the_wait(sim: Sim):
    stream, rec, thread = run_stream(sim.running.ws_url + "/v2/iex", "wrong-secret", BackoffPolicy(0.05, 10.0, 0.0))
    wait_for(lambda: len(rec.reconnects) >= 5, 10, "five reconnects")
    assert [r[0] for r in rec.reconnects[:5]] == [0, 1, 2, 3, 4]
    assert [r[1] for r in rec.reconnects[:5]] == [0.0, 0.05, 0.1, 0.2, 0.4]
    assert {r[2] for r in rec.reconnects} == {AUTH_FAILED}
    assert rec.connected == 0
    assert stop(stream, thread) < 1.0  # the next wait is 0.8 s or more: stop cut it short


def test_an_unreachable_venue_counts_as_connect_failed():
    url = f"ws://127.0.0.1:{free_port()}/v2/iex"
    stream, rec, thread = run_stream(url, DEFAULT_KEYS[1], BackoffPolicy(0.01, 0.02, 0.5))
    wait_for(lambda: len(rec.reconnects) >= 3, 10, "reconnects")
    assert {r[2] for r in rec.reconnects} == {CONNECT_FAILED}
    assert all(0.005 <= d <= 0.03 for _a, d, _r in rec.reconnects[1:])  # jittered, capped
    stop(stream, thread)
