"""One poll over bus endpoints and plain file descriptors (a wake pipe), so a service loop
waits on its sockets without importing zmq: the bus package is the only place that does."""

from __future__ import annotations

from typing import Any

import zmq


class Poller:
    def __init__(self) -> None:
        self._poller = zmq.Poller()
        self._by_socket: dict[Any, Any] = {}

    def register(self, endpoint: Any) -> None:
        """An endpoint with a `.socket` (ZmqSubscriber, ReplyServer, ...) or a raw fd."""
        socket = getattr(endpoint, "socket", endpoint)
        self._by_socket[socket] = endpoint
        self._poller.register(socket, zmq.POLLIN)

    def poll(self, timeout_ms: int) -> set[Any]:
        """The registered endpoints (or fds) with something to read."""
        return {self._by_socket[s] for s, _ in self._poller.poll(timeout_ms) if s in self._by_socket}
