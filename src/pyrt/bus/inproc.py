"""In-memory bus with the same interfaces as ``pyrt.bus.zmq``, for unit tests and backtests.

Synchronous and deterministic: ``publish`` encodes the frame (so everything that crosses
this bus would also cross the real wire) and queues it for every subscriber whose prefix
matches, exactly as a SUB socket would; ``poll``/``recv_batch`` decode, track sequence and
drop bad frames through the same ``FrameIntake`` as the zmq subscriber. ``InprocBus.drain``
dispatches until every queue is empty. Requests are answered at once by the server's
handler; a handler returning None models a lost request (RequestTimeout).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from pyrt.bus.schema import (
    DEFAULT_MAX_FRAME_BYTES,
    Envelope,
    EnvelopeFactory,
    FrameEncoder,
    FrameIntake,
    GapHandler,
    RequestTimeout,
    SeqTracker,
    reply_topic,
    request_topic,
)
from pyrt.bus.transport import Closing, MessageHandler, Receiving, StampingPublisher
from pyrt.domain.clock import Clock

RequestHandler = Callable[[Envelope], Any]


class _Closable(Closing):
    closed = False

    def close(self) -> None:
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"{type(self).__name__} is closed")


class InprocBus:
    """The in-memory broker: create publishers, subscribers, request clients and reply
    servers from it. Endpoint names for request/reply are any strings."""

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._subscribers: list[InprocSubscriber] = []
        self._servers: dict[str, InprocReplyServer] = {}

    def publisher(
        self, publisher_id: str = "inproc", *, clock: Clock | None = None, epoch: int | None = None
    ) -> InprocPublisher:
        return InprocPublisher(self, publisher_id, clock, epoch)

    def subscriber(
        self,
        prefixes: Iterable[str] = ("",),
        handler: MessageHandler | None = None,
        *,
        on_gap: GapHandler | None = None,
        tracker: SeqTracker | None = None,
        rcvhwm: int | None = None,
    ) -> InprocSubscriber:
        sub = InprocSubscriber(self, prefixes, handler, on_gap, tracker, rcvhwm)
        self._subscribers.append(sub)
        return sub

    def reply_server(
        self,
        endpoint: str,
        handler: RequestHandler,
        *,
        server_id: str = "",
        clock: Clock | None = None,
    ) -> InprocReplyServer:
        if endpoint in self._servers:
            raise ValueError(f"{endpoint!r} is already bound")
        server = InprocReplyServer(self, endpoint, handler, server_id or endpoint, clock)
        self._servers[endpoint] = server
        return server

    def request_client(
        self,
        endpoint: str,
        timeout_ms: int = 1000,
        *,
        client_id: str = "inproc-client",
        clock: Clock | None = None,
    ) -> InprocRequestClient:
        return InprocRequestClient(self, endpoint, timeout_ms, client_id, clock)

    def drain(self, max_rounds: int = 10_000) -> int:
        """Dispatch queued messages to subscriber handlers until all queues with a handler
        are empty (handlers may publish more). Returns messages delivered."""
        total = 0
        for _ in range(max_rounds):
            delivered = sum(s.poll() for s in list(self._subscribers) if s.handler is not None)
            total += delivered
            if not delivered and not any(s.pending for s in self._subscribers if s.handler):
                return total
        raise RuntimeError(f"bus not drained after {max_rounds} rounds (a publish loop?)")

    def _deliver(self, frame: bytes) -> None:
        for sub in self._subscribers:
            if frame.startswith(sub._prefixes):
                sub._enqueue(frame)


class InprocPublisher(_Closable, StampingPublisher):
    """Same interface as ZmqPublisher."""

    def __init__(self, bus: InprocBus, publisher_id: str, clock: Clock | None, epoch: int | None) -> None:
        self._bus = bus
        self.factory = EnvelopeFactory(publisher_id, clock, epoch)
        self.encoder = FrameEncoder(bus.max_frame_bytes)
        self.sent = 0

    def _send(self, frame: bytes) -> None:
        """Queue a stamped frame for every matching subscriber."""
        self._check_open()
        self._bus._deliver(frame)

    def publish_raw(self, frame: bytes) -> None:
        """Queue a frame as is (for testing the drop paths)."""
        self._check_open()
        self._bus._deliver(bytes(frame))


class InprocSubscriber(_Closable, Receiving):
    """Same interface as ZmqSubscriber. ``rcvhwm`` (None: unbounded) drops new frames
    silently when the queue is full, like a zmq high-water mark, to test gap handling."""

    def __init__(
        self,
        bus: InprocBus,
        prefixes: Iterable[str],
        handler: MessageHandler | None,
        on_gap: GapHandler | None,
        tracker: SeqTracker | None,
        rcvhwm: int | None,
    ) -> None:
        self._bus = bus
        self._prefixes: tuple[bytes, ...] = ()
        for prefix in prefixes:
            self.subscribe(prefix)
        self.handler = handler
        self.intake = FrameIntake(bus.max_frame_bytes, tracker, on_gap)
        self.rcvhwm = rcvhwm
        self._queue: deque[bytes] = deque()

    @property
    def pending(self) -> int:
        """Frames queued and not yet received."""
        return len(self._queue)

    def subscribe(self, prefix: str) -> None:
        raw = prefix.encode()
        if raw not in self._prefixes:
            self._prefixes += (raw,)

    def unsubscribe(self, prefix: str) -> None:
        raw = prefix.encode()
        self._prefixes = tuple(p for p in self._prefixes if p != raw)

    def _enqueue(self, frame: bytes) -> None:
        if self.rcvhwm is None or len(self._queue) < self.rcvhwm:
            self._queue.append(frame)

    def recv_batch(self, timeout_ms: int = 0, max_messages: int = 10_000) -> list[tuple[str, Envelope]]:
        """Take up to ``max_messages`` queued frames; ``timeout_ms`` is ignored (nothing
        can arrive while we wait in a synchronous bus)."""
        self._check_open()
        out: list[tuple[str, Envelope]] = []
        queue, accept = self._queue, self.intake.accept
        for _ in range(min(max_messages, len(queue))):
            item = accept(queue.popleft())
            if item is not None:
                out.append(item)
        return out

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.clear()
            if self in self._bus._subscribers:
                self._bus._subscribers.remove(self)


class InprocReplyServer(_Closable):
    """Answers requests on ``endpoint`` synchronously with ``handler(envelope)``; a None
    result sends no reply. Bad request frames are dropped and counted."""

    def __init__(
        self,
        bus: InprocBus,
        endpoint: str,
        handler: RequestHandler,
        server_id: str,
        clock: Clock | None,
    ) -> None:
        self._bus = bus
        self.endpoint = endpoint
        self.handler = handler
        self.factory = EnvelopeFactory(server_id, clock)
        self._topic = reply_topic(server_id)
        self.encoder = FrameEncoder(bus.max_frame_bytes)
        self.intake = FrameIntake(bus.max_frame_bytes, track=False)
        self.handled = 0

    @property
    def dropped(self) -> dict[str, int]:
        return self.intake.dropped

    def _handle(self, frame: bytes) -> bytes | None:
        item = self.intake.accept(frame)
        if item is None:
            return None
        request = item[1]
        self.handled += 1
        payload = self.handler(request)
        if payload is None:
            return None
        env = self.factory.make(self._topic, payload, None, request.correlation_id)
        return self.encoder.encode(self._topic, env)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._bus._servers.get(self.endpoint) is self:
                del self._bus._servers[self.endpoint]


class InprocRequestClient(_Closable):
    """Same interface as the zmq RequestClient; the reply is computed during the call."""

    def __init__(
        self,
        bus: InprocBus,
        endpoint: str,
        timeout_ms: int,
        client_id: str,
        clock: Clock | None,
    ) -> None:
        self._bus = bus
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self.factory = EnvelopeFactory(client_id, clock)
        self._topic = request_topic(client_id)
        self.encoder = FrameEncoder(bus.max_frame_bytes)
        self.intake = FrameIntake(bus.max_frame_bytes, track=False)
        self._seq = 0

    @property
    def dropped(self) -> dict[str, int]:
        return self.intake.dropped

    def request(self, payload: Any, correlation_id: str = "", timeout_ms: int | None = None) -> Envelope:
        """Send ``payload``; the reply envelope, or RequestTimeout if nobody answered."""
        self._check_open()
        self._seq += 1
        cid = correlation_id or f"{self.factory.publisher_id}-{self._seq}"
        timeout = self.timeout_ms if timeout_ms is None else timeout_ms
        env = self.factory.make(self._topic, payload, None, cid)
        frame = self.encoder.encode(self._topic, env)
        server = self._bus._servers.get(self.endpoint)
        reply = server._handle(frame) if server is not None else None
        item = self.intake.accept(reply) if reply is not None else None
        if item is None or item[1].correlation_id != cid:
            raise RequestTimeout(cid, timeout)
        return item[1]
