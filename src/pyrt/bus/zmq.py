"""ZeroMQ transport: with ``pyrt.bus.security`` (CURVE keys, who may connect), the only
module in the project that imports zmq.

- Broadcast: ``ZmqPublisher`` (PUB) and ``ZmqSubscriber`` (SUB). Frames are single-part
  (see ``pyrt.bus.schema``); bad frames are dropped and counted, never raised.
- Order path: ``RequestClient`` (DEALER) and ``ReplyServer`` (ROUTER). A DEALER never
  wedges after a timeout: replies are matched by correlation id and late ones discarded.

Every socket takes ``security``: ``PROCESS`` (default) uses the security activated in the
process (every service and ops process activates its deployment's keys), ``None`` is a
plain socket (unit tests), or a ``BusSecurity``. A socket that binds is the CURVE server.

Endpoints may use an ephemeral port (``tcp://127.0.0.1:*``, see ``EPHEMERAL``); every
socket exposes the real one as ``last_endpoint``. Deadlines use ``time.monotonic``;
timestamps in envelopes come from the injected clock.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import zmq

from pyrt.bus.schema import (
    DEFAULT_MAX_FRAME_BYTES,
    PROBE_PREFIX,
    REASON_LATE_REPLY,
    REASON_MALFORMED,
    REASON_STALE,
    REASON_UNROUTABLE,
    SEPARATOR,
    Envelope,
    EnvelopeFactory,
    FrameEncoder,
    FrameIntake,
    GapHandler,
    Heartbeat,
    SeqTracker,
    exact,
    reply_topic,
    request_topic,
)

# re-exported: callers of RequestClient catch it from here
from pyrt.bus.schema import RequestTimeout as RequestTimeout
from pyrt.bus.security import PROCESS, BusSecurity, resolve
from pyrt.bus.transport import Closing, MessageHandler, Receiving, StampingPublisher
from pyrt.domain.clock import Clock, WallClock

EPHEMERAL = "tcp://127.0.0.1:*"
"""Bind to a free loopback port; read the real endpoint from ``last_endpoint``."""

DEFAULT_HWM = 100_000
DEFAULT_LINGER_MS = 200

RequestHandler = Callable[[Envelope], Any]


def _default_id(kind: str) -> str:
    return f"{kind}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class _Socket(Closing):
    """Shared lifecycle: one zmq socket, close() and context-manager support."""

    _sock: zmq.Socket[bytes]

    def _open(
        self,
        kind: int,
        context: zmq.Context[zmq.Socket[bytes]] | None,
        linger_ms: int,
        security: BusSecurity | None,
        server: bool,
    ) -> zmq.Socket[bytes]:
        ctx = context if context is not None else zmq.Context.instance()
        self._sock = ctx.socket(kind)
        self._sock.setsockopt(zmq.LINGER, linger_ms)
        self.security = resolve(security)
        if self.security is not None:
            try:
                self.security.apply(self._sock, server)
            except BaseException:
                self._sock.close(0)
                raise
        return self._sock

    @property
    def socket(self) -> zmq.Socket[bytes]:
        """The underlying socket, for a zmq.Poller in the owning thread only."""
        return self._sock

    @property
    def last_endpoint(self) -> str:
        """The endpoint actually bound or connected last (real port for ``:*``)."""
        value = self._sock.getsockopt(zmq.LAST_ENDPOINT)
        return value.decode() if isinstance(value, bytes) else str(value)

    @property
    def closed(self) -> bool:
        return bool(self._sock.closed)

    def close(self) -> None:
        """Close the socket (idempotent). The shared context is left alone."""
        if not self._sock.closed:
            self._sock.close()


def _attach(sock: zmq.Socket[bytes], endpoints: str | Iterable[str], bind: bool) -> None:
    for endpoint in [endpoints] if isinstance(endpoints, str) else endpoints:
        if bind:
            sock.bind(endpoint)
        else:
            sock.connect(endpoint)


def bind_ephemeral(socket_kind: int | str = "pub", context: zmq.Context[Any] | None = None) -> str:
    """Find a free loopback tcp endpoint by binding a throwaway socket of ``socket_kind``
    (``"pub"``, ``"router"`` or a zmq constant) to port ``*``; the port is free again on
    return. Prefer passing ``EPHEMERAL`` to the bus classes
    directly and reading ``last_endpoint``; this is for code that needs the address first."""
    ctx = context if context is not None else zmq.Context.instance()
    kind = getattr(zmq, socket_kind.upper()) if isinstance(socket_kind, str) else socket_kind
    sock = ctx.socket(kind)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(EPHEMERAL)
        value = sock.getsockopt(zmq.LAST_ENDPOINT)
        return value.decode() if isinstance(value, bytes) else str(value)
    finally:
        sock.close()


# --------------------------------------------------------------------------- pub/sub


class ZmqPublisher(_Socket, StampingPublisher):
    """PUB socket stamping envelopes for one publisher (epoch, seq per topic).

    A PUB socket drops silently for a subscriber whose queue is at the high-water mark;
    subscribers see that as a seq gap."""

    def __init__(
        self,
        endpoint: str,
        bind: bool = True,
        *,
        publisher_id: str = "",
        clock: Clock | None = None,
        epoch: int | None = None,
        sndhwm: int = DEFAULT_HWM,
        linger_ms: int = DEFAULT_LINGER_MS,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        context: zmq.Context[Any] | None = None,
        security: BusSecurity | None = PROCESS,
    ) -> None:
        sock = self._open(zmq.PUB, context, linger_ms, security, server=bind)
        sock.setsockopt(zmq.SNDHWM, sndhwm)
        try:
            _attach(sock, endpoint, bind)
        except zmq.ZMQError:
            sock.close(0)
            raise
        self.factory = EnvelopeFactory(publisher_id or _default_id("pub"), clock, epoch)
        self.encoder = FrameEncoder(max_frame_bytes)
        self.sent = 0
        self._send = sock.send

    def publish_raw(self, frame: bytes) -> None:
        """Send a frame as is (tests, replays). No stamping, no checks."""
        self._sock.send(frame)


class ZmqSubscriber(_Socket, Receiving):
    """SUB socket: decodes, tracks seq per (publisher, topic), drops and counts bad
    frames and duplicates (``dropped`` by reason) and reports gaps to ``on_gap``.

    Use ``poll(timeout_ms)`` to dispatch to ``handler`` or ``recv_batch(timeout_ms)`` to
    get the messages. Prefixes are plain topic prefixes (``MD_PREFIX``, ``md_quote(s)``)
    or ``exact(topic)``.

    ``conflate=True`` is for consumers that only need the latest value per topic (marks
    for the risk collar and the engine's P&L): each batch keeps the newest frame of each
    topic and decodes only those, so 1,000 quotes/s cost a few decodes per drain. Skipping
    is intended there, so sequence gaps are not tracked."""

    def __init__(
        self,
        endpoints: str | Sequence[str],
        prefixes: Iterable[str] = ("",),
        handler: MessageHandler | None = None,
        *,
        bind: bool = False,
        on_gap: GapHandler | None = None,
        tracker: SeqTracker | None = None,
        rcvhwm: int = DEFAULT_HWM,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        linger_ms: int = 0,
        context: zmq.Context[Any] | None = None,
        conflate: bool = False,
        security: BusSecurity | None = PROCESS,
    ) -> None:
        sock = self._open(zmq.SUB, context, linger_ms, security, server=bind)
        sock.setsockopt(zmq.RCVHWM, rcvhwm)
        for prefix in prefixes:
            self.subscribe(prefix)
        try:
            _attach(sock, endpoints, bind)
        except zmq.ZMQError:
            sock.close(0)
            raise
        self.handler = handler
        self.intake = FrameIntake(max_frame_bytes, tracker, on_gap, track=not conflate)
        self.conflate = conflate
        self.superseded = 0  # frames skipped by conflation (a newer one on the same topic)
        self._backlog: list[tuple[str, Envelope]] = []

    def subscribe(self, prefix: str) -> None:
        self._sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())

    def unsubscribe(self, prefix: str) -> None:
        self._sock.setsockopt(zmq.UNSUBSCRIBE, prefix.encode())

    def recv_batch(self, timeout_ms: int = 0, max_messages: int = 10_000) -> list[tuple[str, Envelope]]:
        """Wait up to ``timeout_ms`` for traffic, then take what is queued (at most
        ``max_messages`` frames). Returns accepted (topic, envelope) pairs in order."""
        out, self._backlog = self._backlog, []
        if not out and not self._sock.poll(timeout_ms, zmq.POLLIN):
            return out
        recv, frames = self._sock.recv, []
        for _ in range(max_messages):
            try:
                frames.append(recv(zmq.NOBLOCK))
            except zmq.Again:
                break
        if self.conflate:  # the newest frame of each topic (the topic is the frame's prefix)
            latest = {frame.partition(SEPARATOR)[0]: frame for frame in frames}
            self.superseded += len(frames) - len(latest)
            frames = list(latest.values())
        accept = self.intake.accept
        out.extend(item for item in map(accept, frames) if item is not None)
        return out


def wait_connected(
    publisher: ZmqPublisher,
    subscriber: ZmqSubscriber,
    timeout_s: float = 5.0,
    interval_ms: int = 20,
) -> None:
    """Publish probes until ``subscriber`` receives one (the slow-joiner problem), or raise
    TimeoutError. Other messages that arrive meanwhile are kept: handed to the
    subscriber's handler, or returned by its next ``recv_batch``."""
    probe = PROBE_PREFIX + uuid.uuid4().hex
    subscriber.subscribe(exact(probe))
    deadline = time.monotonic() + timeout_s
    try:
        while probe not in subscriber.intake.probes_seen:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{subscriber.last_endpoint} saw no probe in {timeout_s} s")
            publisher.publish(probe, Heartbeat(publisher.publisher_id, "probe", 0))
            batch = subscriber.recv_batch(interval_ms)
            if subscriber.handler is not None:
                for topic, env in batch:
                    subscriber.handler(topic, env)
            else:
                subscriber._backlog.extend(batch)
    finally:
        subscriber.unsubscribe(exact(probe))
        subscriber.intake.probes_seen.discard(probe)


# --------------------------------------------------------------------------- request/reply


def _remaining_ms(deadline: float) -> int:
    return max(0, math.ceil((deadline - time.monotonic()) * 1000))


class RequestClient(_Socket):
    """DEALER client for the order path: ``request`` sends one envelope and waits for the
    reply with the same correlation id, or raises RequestTimeout (count it as rejected).

    With ZMQ_IMMEDIATE a request is never queued for a server that is not connected, so
    it cannot be delivered long after the caller gave up."""

    def __init__(
        self,
        endpoint: str,
        timeout_ms: int = 1000,
        *,
        client_id: str = "",
        clock: Clock | None = None,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        context: zmq.Context[Any] | None = None,
        security: BusSecurity | None = PROCESS,
    ) -> None:
        sock = self._open(zmq.DEALER, context, 0, security, server=False)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        try:
            sock.connect(endpoint)
        except zmq.ZMQError:
            sock.close(0)
            raise
        self.timeout_ms = timeout_ms
        self.factory = EnvelopeFactory(client_id or _default_id("req"), clock)
        self._topic = request_topic(self.factory.publisher_id)
        self.encoder = FrameEncoder(max_frame_bytes)
        self.intake = FrameIntake(max_frame_bytes, track=False)

    @property
    def dropped(self) -> dict[str, int]:
        """Replies discarded, by reason (late_reply, malformed, ...)."""
        return self.intake.dropped

    def send_raw(self, frame: bytes, timeout_ms: int | None = None) -> None:
        """Send a frame as is, without waiting for a reply (tests of the server's drop
        path). Raises RequestTimeout if no server is connected in time."""
        timeout = self.timeout_ms if timeout_ms is None else timeout_ms
        self._send(frame, time.monotonic() + timeout / 1000, "", timeout)

    def _send(self, frame: bytes, deadline: float, cid: str, timeout: float) -> None:
        sock = self._sock
        while True:
            try:
                sock.send(frame, zmq.NOBLOCK)
                return
            except zmq.Again:  # no connected server yet (ZMQ_IMMEDIATE)
                if time.monotonic() >= deadline:
                    raise RequestTimeout(cid, timeout) from None
                sock.poll(min(_remaining_ms(deadline), 10) or 1, zmq.POLLOUT)

    def request(
        self,
        payload: Any,
        correlation_id: str = "",
        timeout_ms: int | None = None,
        ts_event: int | None = None,
    ) -> Envelope:
        """Send ``payload`` and return the matching reply envelope. ``ts_event`` carries
        when the triggering event happened (e.g. the market-data receipt of a quote)."""
        timeout = self.timeout_ms if timeout_ms is None else timeout_ms
        cid = correlation_id or uuid.uuid4().hex
        frame = self.encoder.encode(self._topic, self.factory.make(self._topic, payload, ts_event, cid))
        deadline = time.monotonic() + timeout / 1000
        self._send(frame, deadline, cid, timeout)
        sock = self._sock
        while True:
            remaining = _remaining_ms(deadline)
            if not sock.poll(remaining, zmq.POLLIN):
                if time.monotonic() >= deadline:
                    raise RequestTimeout(cid, timeout)
                continue
            while True:
                try:
                    reply = sock.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                item = self.intake.accept(reply)
                if item is None:
                    continue
                env = item[1]
                if env.correlation_id == cid:
                    return env
                self.intake.drop(REASON_LATE_REPLY, reply, env.correlation_id)


class ReplyServer(_Socket):
    """ROUTER server for the order path. ``poll`` yields (identity, request envelope);
    ``reply`` answers one; ``serve`` does both with a handler. Malformed and (optionally)
    stale requests are dropped and counted in ``dropped``.

    ``max_request_age_ms``: drop requests whose ``ts_init`` is older than this, so a
    request the client has already timed out on is not acted on. Set it to the clients'
    timeout."""

    def __init__(
        self,
        endpoint: str,
        *,
        bind: bool = True,
        server_id: str = "",
        clock: Clock | None = None,
        max_request_age_ms: int | None = None,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        linger_ms: int = DEFAULT_LINGER_MS,
        context: zmq.Context[Any] | None = None,
        security: BusSecurity | None = PROCESS,
    ) -> None:
        sock = self._open(zmq.ROUTER, context, linger_ms, security, server=bind)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        try:
            _attach(sock, endpoint, bind)
        except zmq.ZMQError:
            sock.close(0)
            raise
        self.clock: Clock = clock if clock is not None else WallClock()
        self.factory = EnvelopeFactory(server_id or _default_id("rep"), self.clock)
        self._topic = reply_topic(self.factory.publisher_id)
        self.encoder = FrameEncoder(max_frame_bytes)
        self.intake = FrameIntake(max_frame_bytes, track=False)
        self.max_request_age_ms = max_request_age_ms

    @property
    def dropped(self) -> dict[str, int]:
        """Requests (and replies) not handled, by reason."""
        return self.intake.dropped

    def poll(self, timeout_ms: int = 0, max_messages: int = 1000) -> list[tuple[bytes, Envelope]]:
        """Wait up to ``timeout_ms``, then take the queued requests."""
        out: list[tuple[bytes, Envelope]] = []
        sock = self._sock
        if not sock.poll(timeout_ms, zmq.POLLIN):
            return out
        max_age_ns = None if self.max_request_age_ms is None else self.max_request_age_ms * 10**6
        for _ in range(max_messages):
            try:
                parts = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(parts) != 2:
                self.intake.drop(REASON_MALFORMED, b"".join(parts), f"{len(parts)} parts")
                continue
            identity, frame = parts
            item = self.intake.accept(frame)
            if item is None:
                continue
            env = item[1]
            if max_age_ns is not None and self.clock.now_ns() - env.ts_init > max_age_ns:
                self.intake.drop(REASON_STALE, frame, env.correlation_id)
                continue
            out.append((identity, env))
        return out

    def reply(
        self,
        identity: bytes,
        payload: Any,
        correlation_id: str,
        ts_event: int | None = None,
    ) -> bool:
        """Send a reply; False (and counted as unroutable) if the client is gone."""
        env = self.factory.make(self._topic, payload, ts_event, correlation_id)
        frame = self.encoder.encode(self._topic, env)
        try:
            self._sock.send_multipart([identity, frame], zmq.NOBLOCK)
        except zmq.ZMQError:
            self.intake.drop(REASON_UNROUTABLE, frame, correlation_id)
            return False
        return True

    def serve(self, handler: RequestHandler, timeout_ms: int = 0) -> int:
        """Poll once and answer each request with ``handler(envelope)``; a handler that
        returns None sends no reply (the client times out). Returns requests handled."""
        requests = self.poll(timeout_ms)
        for identity, env in requests:
            payload = handler(env)
            if payload is not None:
                self.reply(identity, payload, env.correlation_id)
        return len(requests)
