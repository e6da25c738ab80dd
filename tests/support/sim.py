"""A running sim broker as tests see it: one in a thread of the test process
(InThreadSimBroker), its URL, the broker object, and the admin and REST calls tests make
around it (headers with the local default keys)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import requests
import uvicorn

from pyrt.config.system import SimBrokerConfig
from pyrt.simbroker.app import build_app, build_source
from pyrt.simbroker.broker import SimBroker
from pyrt.simbroker.harness import DEFAULT_KEYS

HEADERS = {"APCA-API-KEY-ID": DEFAULT_KEYS[0], "APCA-API-SECRET-KEY": DEFAULT_KEYS[1]}


class InThreadSimBroker:
    """A sim broker on a free port in a background thread of the test process (fast); use
    as a context manager. `config.port` is ignored."""

    def __init__(self, config: SimBrokerConfig, keys: Mapping[str, str] | None = None) -> None:
        self.config = config.model_copy(update={"port": 0})
        self.broker = SimBroker(self.config, build_source(self.config), keys=keys)
        server_config = uvicorn.Config(
            build_app(self.broker),
            host=self.config.host,
            port=0,
            log_level="error",
            ws="websockets-sansio",
            http="httptools",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(server_config)
        self._thread = threading.Thread(target=self.server.run, name="sim-broker", daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> InThreadSimBroker:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("sim broker did not start")
            time.sleep(0.005)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self.broker.close()


class SimAdmin:
    quote_size: float = 100  # displayed size of injected quotes unless given

    def __init__(self, running: InThreadSimBroker | Any) -> None:
        self.running = running
        self.broker = getattr(running, "broker", None)  # None for a sim broker in its own process
        self.url = running.url

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        r = requests.request(method, self.url + path, json=body, headers=HEADERS, timeout=5)
        r.raise_for_status()
        return r.json()

    def quote(
        self, symbol: str, bid: float, ask: float, bid_size: float | None = None, ask_size: float | None = None
    ) -> None:
        size = self.quote_size
        self.admin(
            "POST",
            "/admin/quote",
            {
                "symbol": symbol,
                "bid": bid,
                "ask": ask,
                "bid_size": size if bid_size is None else bid_size,
                "ask_size": size if ask_size is None else ask_size,
            },
        )

    def orders(self) -> list[dict[str, Any]]:
        params = {"status": "all", "limit": 500}
        return requests.get(self.url + "/v2/orders", params=params, headers=HEADERS, timeout=5).json()

    def positions(self) -> dict[str, Decimal]:
        rows = requests.get(self.url + "/v2/positions", headers=HEADERS, timeout=5).json()
        return {p["symbol"]: Decimal(p["qty"]) for p in rows}
