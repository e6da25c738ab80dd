"""Fixtures: an in-thread sim broker, a deployment pointing at it, the market-data service
running in a thread (its own ServiceRuntime, so the test can set stop/reload events) and a
bus subscriber."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pyrt.bus.schema import Envelope
from pyrt.bus.zmq import ZmqSubscriber
from pyrt.config.system import SimBrokerConfig
from pyrt.ops.status import read_ready_info
from pyrt.services.market_data.service import MarketDataService
from pyrt.services.runtime import ServiceRuntime
from pyrt.simbroker.harness import DEFAULT_KEYS
from tests.support.deploy import make_deployment, wait_for
from tests.support.sim import InThreadSimBroker, SimAdmin

SYMBOLS = ["AAPL", "MSFT", "GOOGL"]
SIM_SYMBOLS = ("AAPL", "MSFT", "GOOGL", "NVDA")
FAST = {
    "market_data": {
        "symbols": SYMBOLS,
        "stale_after_seconds": 0.5,
        "reconnect": {"initial_delay_s": 0.05, "max_delay_s": 0.5, "jitter": 0.2},
    },
    "signals": {"strategies": []},
}


class Sim(SimAdmin):
    """The running sim broker and its admin endpoints."""

    def subscribed_quotes(self) -> set[str]:
        sub = self.broker.data_subs.get(DEFAULT_KEYS[0])
        return set(sub.quotes) if sub is not None else set()


class ServiceThread:
    """The market-data service in a thread of the test process."""

    def __init__(self, config_dir: Path, **kwargs: Any) -> None:
        self.config_dir = config_dir
        self.kwargs = {"tick_s": 0.05, **kwargs}
        self.rt: ServiceRuntime | None = None
        self.service: MarketDataService | None = None
        self.rc: int | None = None
        self.error: BaseException | None = None
        self._created = threading.Event()
        self.thread = threading.Thread(target=self._run, name="market-data-test", daemon=True)

    def _run(self) -> None:
        try:
            with ServiceRuntime("market_data", self.config_dir) as rt:
                self.rt = rt
                self.service = MarketDataService(rt, **self.kwargs)
                self._created.set()
                self.rc = self.service.serve()
        except BaseException as exc:  # surfaced by start()/stop()
            self.error = exc
            self._created.set()

    def start(self) -> ServiceThread:
        self.thread.start()
        assert self._created.wait(10), "service not created"
        if self.error is not None:
            raise self.error
        wait_for(lambda: self.svc.ready, 10, "market data ready")
        return self

    @property
    def svc(self) -> MarketDataService:
        assert self.service is not None
        return self.service

    def stop(self) -> int | None:
        if self.rt is not None:
            self.rt.stop_event.set()
        self.thread.join(15)
        assert not self.thread.is_alive(), "service thread did not stop"
        return self.rc

    def on_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn on the service's loop thread (the only thread that may publish)."""

        async def call() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), self.svc.loop).result(5)

    def metrics(self) -> dict[str, float]:
        """Samples of /metrics as {'name{label="v",...}': value}."""
        assert self.rt is not None
        port = read_ready_info(self.rt.cfg, "market_data")["metrics_port"]  # type: ignore[index]
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
        return out

    def raw_metrics(self) -> str:
        assert self.rt is not None
        port = read_ready_info(self.rt.cfg, "market_data")["metrics_port"]  # type: ignore[index]
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()

    def log_text(self) -> str:
        assert self.rt is not None
        return (self.rt.cfg.system.paths.logs_dir / "market_data.log").read_text()


def wait_msg(sub: ZmqSubscriber, pred: Callable[[str, Envelope], bool], timeout: float = 5.0,
             what: str = "message") -> tuple[str, Envelope]:  # fmt: skip
    """The first message matching pred (others are discarded)."""
    found: list[tuple[str, Envelope]] = []

    def poll() -> bool:
        for topic, env in sub.recv_batch(20):
            if pred(topic, env):
                found.append((topic, env))
                return True
        return False

    wait_for(poll, timeout, what, interval=0)
    return found[0]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    opts = SimBrokerConfig(data_dir=tmp_path / "sim", seed=1, rate_limit_per_minute=None, symbols=SIM_SYMBOLS)
    with InThreadSimBroker(opts) as running:
        yield Sim(running)


@pytest.fixture
def config_dir(tmp_path: Path, sim: Sim) -> Path:
    return make_deployment(tmp_path, sim_url=sim.url, system=json.loads(json.dumps(FAST)))


@pytest.fixture
def md(config_dir: Path) -> Iterator[ServiceThread]:
    running = ServiceThread(config_dir).start()
    yield running
    assert running.stop() == 0


@pytest.fixture
def sub(md: ServiceThread) -> Iterator[ZmqSubscriber]:
    """A subscriber to everything the service publishes, already hearing it."""
    with ZmqSubscriber(md.svc.publisher.last_endpoint, ["md.", "hb."]) as s:
        wait_msg(s, lambda t, e: True, 5, "first message")
        yield s
