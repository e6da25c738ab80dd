"""The wire: one schema module (envelope, topics, message types), the ZeroMQ transport (zmq.py and security.py, its CURVE keys: the only modules importing zmq) and an in-process bus with the same interface for unit tests and backtests."""

from __future__ import annotations

from typing import Any, Protocol

from pyrt.bus.schema import Envelope


class Publisher(Protocol):
    """What a service shell publishes through (ZmqPublisher, InprocPublisher)."""

    def publish(self, topic: str, payload: Any, ts_event: int | None = None, correlation_id: str = "") -> Envelope: ...

    def publish_quote(self, quote: Any) -> Envelope: ...

    def close(self) -> None: ...


class Requester(Protocol):
    """The order-path client (RequestClient, InprocRequestClient). ``request`` returns
    the reply envelope or raises RequestTimeout."""

    def request(self, payload: Any, correlation_id: str = "", timeout_ms: int | None = None) -> Envelope: ...

    def close(self) -> None: ...
