"""What the zmq and the in-memory transports share above the wire: stamping and encoding
on the publishing side, handing received messages to a handler on the subscribing side,
and closing as a context manager. Each transport supplies how a frame leaves (``_send``,
bound once: it is the market-data hot path) and how frames arrive (``recv_batch``)."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from pyrt.bus.schema import Envelope, EnvelopeFactory, FrameEncoder, FrameIntake, QuoteMsg, SeqTracker, md_quote
from pyrt.domain.market import Quote

MessageHandler = Callable[[str, Envelope], None]


class Closing:
    """``with`` support around ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class StampingPublisher(Closing):
    """Envelopes for one publisher (epoch, seq per topic), encoded and handed to ``_send``."""

    factory: EnvelopeFactory
    encoder: FrameEncoder
    sent: int
    _send: Callable[[bytes], Any]

    @property
    def publisher_id(self) -> str:
        return self.factory.publisher_id

    def publish(self, topic: str, payload: Any, ts_event: int | None = None, correlation_id: str = "") -> Envelope:
        """Stamp, encode and send one message; returns the envelope sent."""
        env = self.factory.make(topic, payload, ts_event, correlation_id)
        self._send(self.encoder.encode(topic, env))
        self.sent += 1
        return env

    def publish_quote(self, quote: Any) -> Envelope:
        """Fast path for quotes: a ``QuoteMsg`` (or a domain ``Quote``, converted) on
        ``md.quote.<symbol>`` with ``ts_event`` = the quote's time."""
        msg = QuoteMsg.from_domain(quote) if isinstance(quote, Quote) else quote
        env = self.factory.make(md_quote(msg.symbol), msg, msg.ts_ns)
        self._send(self.encoder.encode_quote(env))
        self.sent += 1
        return env


class Receiving(Closing):
    """Decoded messages from ``recv_batch``, or handed one by one to ``handler`` by ``poll``."""

    handler: MessageHandler | None
    intake: FrameIntake

    @property
    def dropped(self) -> dict[str, int]:
        """Frames not delivered, by reason (malformed, oversized, duplicate, ...)."""
        return self.intake.dropped

    @property
    def tracker(self) -> SeqTracker:
        return self.intake.tracker

    def recv_batch(self, timeout_ms: int = 0, max_messages: int = 10_000) -> list[tuple[str, Envelope]]:
        raise NotImplementedError

    def poll(self, timeout_ms: int = 0, max_messages: int = 10_000) -> int:
        """Like ``recv_batch`` but hands each message to ``handler``; returns how many."""
        handler = self.handler
        if handler is None:
            raise RuntimeError(f"{type(self).__name__} has no handler; use recv_batch")
        batch = self.recv_batch(timeout_ms, max_messages)
        for topic, env in batch:
            handler(topic, env)
        return len(batch)
