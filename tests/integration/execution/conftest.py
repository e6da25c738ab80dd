"""An execution engine (in a thread) against an in-thread sim broker, with a RequestClient
on its order endpoint and a subscriber on its reports (both holding the deployment's bus key)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pyrt.bus import schema as wire
from pyrt.bus.zmq import RequestClient, ZmqSubscriber
from pyrt.config import load_config
from pyrt.config.system import SimBrokerConfig
from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent
from pyrt.ops.status import read_ready_info
from pyrt.persistence.journal import Journal
from tests.support.bus import bus_key
from tests.support.deploy import make_deployment, wait_for
from tests.support.sim import HEADERS, InThreadSimBroker, SimAdmin  # noqa: F401 - HEADERS re-exported to the tests


class Sim(SimAdmin):
    quote_size = 1000


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    with InThreadSimBroker(SimBrokerConfig(data_dir=tmp_path / "sim", seed=3, rate_limit_per_minute=None)) as running:
        s = Sim(running)
        s.admin("POST", "/admin/market", {"paused": True})
        for sym, px in (("AAPL", 100.0), ("MSFT", 50.0), ("GOOGL", 150.0)):
            s.quote(sym, px - 0.01, px + 0.01)
        yield s


class EngineThread:
    """run() of the execution engine in a thread, stopped through its stop event."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.cfg = load_config(config_dir)
        self.stop_event = threading.Event()
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from pyrt.services.execution import service

        self.code = service.run(self.config_dir, self.stop_event)

    def start(self) -> EngineThread:
        self.thread.start()
        wait_for(lambda: read_ready_info(self.cfg, "execution_engine") or self.code is not None, 20, "engine ready")
        assert self.code is None, f"engine exited with {self.code}"
        return self

    def stop(self) -> int | None:
        self.stop_event.set()
        self.thread.join(15)
        return self.code


@contextmanager
def running_engine(config_dir: Path) -> Iterator[tuple[EngineThread, RequestClient]]:
    """A started engine and a client on its order endpoint; both stopped on exit."""
    engine = EngineThread(config_dir).start()
    client = RequestClient(engine.cfg.system.execution.order_endpoint, timeout_ms=5000, security=bus_key(engine.cfg))
    try:
        yield engine, client
    finally:
        client.close()
        engine.stop()


@pytest.fixture
def deployment(tmp_path: Path, sim: Sim) -> Path:
    # the engine runs alone here: no risk-manager heartbeats, so park the watchdog
    return make_deployment(
        tmp_path / "root",
        sim_url=sim.url,
        system={"execution": {"watchdog_risk_silence_s": 3600, "watchdog_cancel_after_s": 7200}},
    )


def intent(n: int, symbol: str = "AAPL", side: str = "buy", qty: int = 1, **kw: Any) -> OrderIntent:
    return OrderIntent(
        intent_id=f"t{n}",
        strategy="test",
        symbol=symbol,
        side=OrderSide(side),
        qty=Decimal(qty),
        order_type=kw.pop("order_type", OrderType.MARKET),
        time_in_force=kw.pop("tif", TimeInForce.DAY),
        **kw,
    )


def send(client: RequestClient, i: OrderIntent, timeout_ms: int = 5000) -> wire.OrderAck:
    env = client.request(wire.OrderIntentMsg(i), correlation_id=i.intent_id, timeout_ms=timeout_ms)
    assert isinstance(env.payload, wire.OrderAck)
    return env.payload


def journal_kinds(cfg: Any) -> list[tuple[str, str]]:
    with Journal(cfg.system.execution.journal_path, read_only=True) as j:
        return [(r.kind, r.client_order_id) for r in j.iter_records()]


def reports(cfg: Any) -> ZmqSubscriber:
    return ZmqSubscriber(cfg.system.execution.report_publish_address, [wire.EXEC_PREFIX], security=bus_key(cfg))
