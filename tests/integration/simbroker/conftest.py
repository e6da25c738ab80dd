"""Fixtures: a sim broker per test on a free port, and alpaca-py clients pointed at it."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.stream import TradingStream

from pyrt.config.system import SimBrokerConfig
from pyrt.simbroker.harness import DEFAULT_KEYS
from tests.support.deploy import wait_for
from tests.support.sim import HEADERS, InThreadSimBroker, SimAdmin  # noqa: F401 - HEADERS re-exported to the tests

KEY, SECRET = DEFAULT_KEYS


class Sim(SimAdmin):
    def client(self, timeout: float | None = 5.0) -> TradingClient:
        c = TradingClient(KEY, SECRET, paper=True, url_override=self.url)
        c._retry = 0  # tests must not sleep through alpaca-py's 3 s retries
        if timeout is not None:
            original = c._session.request
            c._session.request = lambda *a, **kw: original(*a, **{"timeout": timeout, **kw})  # type: ignore[method-assign]
        return c


@pytest.fixture
def sim_opts(tmp_path: Path) -> SimBrokerConfig:
    """Paused market (tests drive quotes), no rate limit, fresh state."""
    return SimBrokerConfig(data_dir=tmp_path / "sim", seed=7, rate_limit_per_minute=None)


@pytest.fixture
def sim(sim_opts: SimBrokerConfig) -> Iterator[Sim]:
    with InThreadSimBroker(sim_opts) as running:
        s = Sim(running)
        s.admin("POST", "/admin/market", {"paused": True})
        s.quote("AAPL", 99.0, 101.0, 300, 200)
        s.quote("MSFT", 49.0, 51.0, 100, 100)
        s.quote("GOOGL", 149.0, 151.0, 100, 100)
        yield s


class TradeUpdates:
    """alpaca-py's TradingStream in a thread, collecting raw trade_updates."""

    def __init__(self, url: str) -> None:
        self.stream = TradingStream(
            KEY, SECRET, paper=True, raw_data=True, url_override=url.replace("http", "ws") + "/stream"
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []

        async def handler(msg: Any) -> None:
            self.events.put(msg["data"])

        self.stream.subscribe_trade_updates(handler)
        self.thread = threading.Thread(target=self.stream.run, daemon=True)

    def start(self, sim: Sim) -> TradeUpdates:
        self.thread.start()
        wait_for(lambda: sim.broker.trade_subs, what="trade stream subscription")
        return self

    def next(self, timeout: float = 5.0) -> dict[str, Any]:
        ev = self.events.get(timeout=timeout)
        self.seen.append(ev)
        return ev

    def take(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return [self.next(timeout) for _ in range(n)]

    def stop(self) -> None:
        try:
            self.stream.stop()
        except Exception:  # noqa: BLE001 - loop may be gone already
            pass
        self.thread.join(5)


@pytest.fixture
def trade_updates(sim: Sim) -> Iterator[TradeUpdates]:
    tu = TradeUpdates(sim.url).start(sim)
    yield tu
    tu.stop()


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[Callable[..., Sim]]:
    started: list[InThreadSimBroker] = []

    def make(**overrides: Any) -> Sim:
        opts = SimBrokerConfig(
            **{"data_dir": tmp_path / f"sim{len(started)}", "seed": 7, "rate_limit_per_minute": None, **overrides}
        )
        running = InThreadSimBroker(opts).__enter__()
        started.append(running)
        return Sim(running)

    yield make
    for running in started:
        running.__exit__(None, None, None)
