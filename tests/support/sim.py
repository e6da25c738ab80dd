"""A running sim broker as tests see it: its URL, the broker object, and the admin and
REST calls tests make around it (headers with the local default keys)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from pyrt.simbroker.harness import DEFAULT_KEYS, InThreadSimBroker

HEADERS = {"APCA-API-KEY-ID": DEFAULT_KEYS[0], "APCA-API-SECRET-KEY": DEFAULT_KEYS[1]}


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

    def quote(self, symbol: str, bid: float, ask: float, bid_size: float | None = None,
              ask_size: float | None = None) -> None:
        size = self.quote_size
        self.admin("POST", "/admin/quote", {"symbol": symbol, "bid": bid, "ask": ask,
                                            "bid_size": size if bid_size is None else bid_size,
                                            "ask_size": size if ask_size is None else ask_size})

    def orders(self) -> list[dict[str, Any]]:
        params = {"status": "all", "limit": 500}
        return requests.get(self.url + "/v2/orders", params=params, headers=HEADERS, timeout=5).json()

    def positions(self) -> dict[str, Decimal]:
        rows = requests.get(self.url + "/v2/positions", headers=HEADERS, timeout=5).json()
        return {p["symbol"]: Decimal(p["qty"]) for p in rows}
