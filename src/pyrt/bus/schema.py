"""The wire contract: topics, the envelope, payload types, framing, sequence tracking.

Every message on the bus is one frame::

    topic (UTF-8) + b"\\x00" + msgspec-msgpack(Envelope)

The envelope is a msgpack array whose first element is the schema version, so a reader can
tell a future version from garbage. The payload is a msgpack map tagged by its ``type`` key
(a msgspec tagged union), so decoding yields the right Struct and new optional fields can be
added to a payload without a version bump.

Sequence numbers are per ``(publisher, topic)``: a subscriber only sees the topics it
subscribed to, so a per-publisher counter would show false gaps to anyone filtering by
prefix. ``epoch`` is the publisher's start time in ns; a new epoch means a restart (the
stream starts again at seq 1), not a gap.

Nothing here does I/O; ``pyrt.bus.zmq`` and ``pyrt.bus.inproc`` carry the frames.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

import msgspec

from pyrt.domain.clock import Clock, WallClock
from pyrt.domain.enums import OrderSide, ReportEvent
from pyrt.domain.errors import BadInput, PyrtError, Retryable
from pyrt.domain.intents import OrderIntent, RiskDecision
from pyrt.domain.market import Bar, Quote, Trade

log = logging.getLogger("pyrt.bus")

SCHEMA_VERSION = 1
SEPARATOR = b"\x00"
DEFAULT_MAX_FRAME_BYTES = 64 * 1024

# --------------------------------------------------------------------------- errors


class BusError(PyrtError):
    """Base of every error raised by the bus."""


class WireError(BusError, BadInput):
    """A frame that cannot be accepted. ``reason_code`` is one of the ``REASON_*``
    constants and is what drop counters are keyed by."""

    def __init__(self, reason_code: str, detail: str = "") -> None:
        super().__init__(f"{reason_code}: {detail}" if detail else reason_code)
        self.reason_code = reason_code
        self.detail = detail


class RequestTimeout(BusError, Retryable):
    """No matching reply arrived in time. The request counts as rejected; a reply that
    arrives later is discarded."""

    def __init__(self, correlation_id: str, timeout_ms: float) -> None:
        super().__init__(f"no reply to {correlation_id!r} within {timeout_ms:g} ms")
        self.correlation_id = correlation_id
        self.timeout_ms = timeout_ms


REASON_NO_SEPARATOR = "no_separator"
REASON_OVERSIZED = "oversized"
REASON_MALFORMED = "malformed"
REASON_UNKNOWN_VERSION = "unknown_version"
REASON_UNKNOWN_TYPE = "unknown_type"
# Drop reasons that are not WireErrors but are counted in the same dicts.
REASON_DUPLICATE = "duplicate"
REASON_STALE = "stale"
REASON_LATE_REPLY = "late_reply"
REASON_UNROUTABLE = "unroutable"

# --------------------------------------------------------------------------- topics

MD_PREFIX = "md."
MD_QUOTE_PREFIX = "md.quote."
MD_TRADE_PREFIX = "md.trade."
MD_BAR_PREFIX = "md.bar."
MD_STATUS_PREFIX = "md.status."
SIGNAL_PREFIX = "sig."
EXEC_PREFIX = "exec."
EXEC_REPORT_PREFIX = "exec.report."
EXEC_POSITION_PREFIX = "exec.position."
EXEC_PNL_TOPIC = "exec.pnl"
RISK_PREFIX = "risk."
RISK_DECISION_TOPIC = "risk.decision"
RISK_STATE_TOPIC = "risk.state"
HEARTBEAT_PREFIX = "hb."
REQUEST_PREFIX = "req."
REPLY_PREFIX = "rep."
PROBE_PREFIX = "_probe."  # connection probes; subscribers swallow them


def _segment(value: str) -> str:
    if not value or not value.isprintable() or " " in value:
        raise ValueError(f"invalid topic segment {value!r}")
    return value


@lru_cache(maxsize=8192)
def md_quote(symbol: str) -> str:
    """Quotes of one symbol: ``md.quote.AAPL``."""
    return MD_QUOTE_PREFIX + _segment(symbol)


@lru_cache(maxsize=8192)
def md_trade(symbol: str) -> str:
    """Trades of one symbol: ``md.trade.AAPL``."""
    return MD_TRADE_PREFIX + _segment(symbol)


@lru_cache(maxsize=8192)
def md_bar(symbol: str) -> str:
    """Bars of one symbol: ``md.bar.AAPL``."""
    return MD_BAR_PREFIX + _segment(symbol)


@lru_cache(maxsize=8192)
def md_status(symbol: str) -> str:
    """Stale/fresh status of one symbol's feed: ``md.status.AAPL``."""
    return MD_STATUS_PREFIX + _segment(symbol)


@lru_cache(maxsize=8192)
def signal(strategy: str, symbol: str) -> str:
    """A strategy's signal on a symbol: ``sig.<strategy>.<symbol>``."""
    return f"{SIGNAL_PREFIX}{_segment(strategy)}.{_segment(symbol)}"


def exec_report(strategy: str) -> str:
    """Execution reports of one strategy's orders: ``exec.report.<strategy>``."""
    return EXEC_REPORT_PREFIX + _segment(strategy)


def exec_position(symbol: str) -> str:
    """Position updates of one symbol: ``exec.position.<symbol>``."""
    return EXEC_POSITION_PREFIX + _segment(symbol)


def exec_pnl() -> str:
    """Account P&L updates: ``exec.pnl``."""
    return EXEC_PNL_TOPIC


def risk_decision() -> str:
    """Risk decisions on order intents: ``risk.decision``."""
    return RISK_DECISION_TOPIC


def risk_state() -> str:
    """Trading state and circuit breaker: ``risk.state``."""
    return RISK_STATE_TOPIC


def exec_alert() -> str:
    """Integrity alerts from the execution engine."""
    return "exec.alert"


def heartbeat(service: str) -> str:
    """A service's heartbeat: ``hb.<service>``."""
    return HEARTBEAT_PREFIX + _segment(service)


def request_topic(sender: str) -> str:
    """Topic of an order-path request frame: ``req.<sender>``."""
    return REQUEST_PREFIX + _segment(sender)


def reply_topic(sender: str) -> str:
    """Topic of an order-path reply frame: ``rep.<sender>``."""
    return REPLY_PREFIX + _segment(sender)


def exact(topic: str) -> str:
    """A subscription prefix that matches ``topic`` only (``md.quote.A`` would also match
    ``md.quote.AAPL``; ``exact("md.quote.A")`` does not)."""
    return topic + "\x00"


# --------------------------------------------------------------------------- payloads


def _check_finite(*values: Decimal | None) -> None:
    for value in values:
        if value is not None and not value.is_finite():
            raise ValueError(f"non-finite decimal {value!r}")


class QuoteMsg(msgspec.Struct, tag="quote", frozen=True, gc=False):
    """A top-of-book quote; fields as ``pyrt.domain.market.Quote``."""

    symbol: str
    bid_price: float
    bid_size: float
    ask_price: float
    ask_size: float
    ts_ns: int

    @classmethod
    def from_domain(cls, quote: Quote) -> QuoteMsg:
        q = quote
        return cls(q.symbol, q.bid_price, q.bid_size, q.ask_price, q.ask_size, q.ts_ns)

    def to_domain(self) -> Quote:
        return Quote(self.symbol, self.bid_price, self.bid_size, self.ask_price, self.ask_size, self.ts_ns)


class TradeMsg(msgspec.Struct, tag="trade", frozen=True, gc=False):
    """A trade print; fields as ``pyrt.domain.market.Trade``."""

    symbol: str
    price: float
    size: float
    ts_ns: int
    trade_id: int = 0

    @classmethod
    def from_domain(cls, trade: Trade) -> TradeMsg:
        return cls(trade.symbol, trade.price, trade.size, trade.ts_ns, trade.trade_id)

    def to_domain(self) -> Trade:
        return Trade(self.symbol, self.price, self.size, self.ts_ns, self.trade_id)


class BarMsg(msgspec.Struct, tag="bar", frozen=True, gc=False):
    """An OHLCV bar; fields as ``pyrt.domain.market.Bar``."""

    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    ts_ns: int
    trade_count: int = 0
    vwap: float = 0.0

    @classmethod
    def from_domain(cls, bar: Bar) -> BarMsg:
        return cls(
            bar.symbol, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.ts_ns,
            bar.trade_count, bar.vwap,
        )  # fmt: skip

    def to_domain(self) -> Bar:
        return Bar(
            self.symbol, self.open, self.high, self.low, self.close, self.volume, self.ts_ns,
            self.trade_count, self.vwap,
        )  # fmt: skip


class SymbolStatus(msgspec.Struct, tag="symbol_status", frozen=True):
    """A symbol's feed went stale (no data within its limit) or fresh again."""

    symbol: str
    stale: bool
    reason: str = ""


class Signal(msgspec.Struct, tag="signal", frozen=True):
    """A strategy's view of a symbol. ``strength`` is in [0, 1] by convention."""

    strategy: str
    symbol: str
    direction: Literal["long", "short", "flat"]
    strength: float
    ts_ns: int
    features: dict[str, float] = {}


class OrderIntentMsg(msgspec.Struct, tag="order_intent", frozen=True):
    """An order intent on the order path (signal-bridge -> risk -> execution)."""

    intent: OrderIntent

    def __post_init__(self) -> None:
        i = self.intent
        _check_finite(i.qty, i.limit_price, i.stop_price)


OUTCOME_UNKNOWN = "unknown"


class RiskDecisionMsg(msgspec.Struct, tag="risk_decision", frozen=True):
    """The risk manager's answer to an intent (also broadcast on ``risk.decision``).

    ``outcome`` is "" when ``decision`` says it all, or ``OUTCOME_UNKNOWN`` when risk
    approved and forwarded the intent but the execution engine's accept did not arrive in
    time: the order may have been journalled and sent (``client_order_id``), so it is
    neither denied nor to be resent; its reports tell the outcome.

    ``strategy``, ``symbol``, ``side`` and ``qty`` name the order decided on (for readers of
    the broadcast, such as the operator console, that never saw the intent)."""

    decision: RiskDecision
    outcome: str = ""
    client_order_id: str = ""
    strategy: str = ""
    symbol: str = ""
    side: str = ""
    qty: Decimal | None = None


class ExecutionReport(msgspec.Struct, tag="exec_report", frozen=True, kw_only=True):
    """What happened to an order: ``event`` is a `ReportEvent` (Alpaca's trade_updates
    spelling plus the engine's own steps), ``status`` the order's state after it (an
    `OrderState` value). Whether the order is finished is `is_terminal_status(status)`,
    the one rule every consumer asks."""

    client_order_id: str
    broker_order_id: str = ""
    intent_id: str = ""
    strategy: str = ""
    symbol: str
    side: OrderSide
    event: ReportEvent
    status: str
    qty: Decimal
    filled_qty: Decimal = Decimal(0)
    fill_qty: Decimal | None = None
    fill_price: Decimal | None = None
    avg_price: Decimal | None = None
    position_qty: Decimal | None = None
    reason: str = ""
    # the order's terms (set in snapshots, where a reader needs the whole order)
    order_type: str = ""
    time_in_force: str = ""
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    created_ns: int = 0

    def __post_init__(self) -> None:
        _check_finite(
            self.qty, self.filled_qty, self.fill_qty, self.fill_price, self.avg_price,
            self.position_qty, self.limit_price, self.stop_price,
        )  # fmt: skip


class PositionUpdate(msgspec.Struct, tag="position", frozen=True):
    """A position after a fill or a mark (qty is signed: negative is short). `strategy` is
    set only in a "strategy_positions" snapshot: one strategy's share of the symbol (the
    net of its own orders' fills)."""

    symbol: str
    qty: Decimal
    avg_entry_price: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    strategy: str = ""

    def __post_init__(self) -> None:
        _check_finite(
            self.qty, self.avg_entry_price, self.market_value, self.unrealized_pnl,
            self.realized_pnl,
        )  # fmt: skip


class PnLUpdate(msgspec.Struct, tag="pnl", frozen=True):
    """Account-level P&L."""

    realized: Decimal
    unrealized: Decimal
    equity: Decimal
    cash: Decimal

    def __post_init__(self) -> None:
        _check_finite(self.realized, self.unrealized, self.equity, self.cash)


class RiskState(msgspec.Struct, tag="risk_state", frozen=True):
    """The risk manager's trading state."""

    trading_state: Literal["ACTIVE", "REDUCING", "HALTED"]
    reason: str
    circuit_breaker_active: bool
    daily_pnl: Decimal

    def __post_init__(self) -> None:
        _check_finite(self.daily_pnl)


class Heartbeat(msgspec.Struct, tag="heartbeat", frozen=True):
    """A service is alive; ``status`` is e.g. "ok", "degraded", "starting"."""

    service: str
    status: str
    ts_ns: int


class OrderAck(msgspec.Struct, tag="order_ack", frozen=True, kw_only=True):
    """The execution engine's answer on the order path: `accepted` means the intent is
    journalled (durable) and will be submitted exactly once; otherwise `reason_code` says
    why not (EXECUTION_HALTED, NOT_READY, JOURNAL_WRITE_FAILED, SYMBOL_HALTED, ...).
    `duplicate` marks an intent seen before (the earlier order stands, in `state`)."""

    intent_id: str
    client_order_id: str
    accepted: bool
    reason_code: str = "OK"
    message: str = ""
    duplicate: bool = False
    state: str = ""


class IntegrityAlert(msgspec.Struct, tag="integrity_alert", frozen=True):
    """Something that must stop trading until a human looks: an overfill, a broker position
    that disagrees with ours, an order at the broker we never sent."""

    kind: str
    symbol: str
    detail: str


class ControlCommand(msgspec.Struct, tag="control", frozen=True):
    """An operator command to a service (cancel all, halt, enable trading ...)."""

    action: str
    args: dict[str, str] = {}
    reason: str = ""
    actor: str = ""


class ControlResult(msgspec.Struct, tag="control_result", frozen=True):
    """A service's answer to a ControlCommand."""

    ok: bool
    detail: str = ""
    data: dict[str, Any] = {}


class SnapshotRequest(msgspec.Struct, tag="snapshot_request", frozen=True):
    """Ask a publisher for current state after a gap. ``kind`` names the state
    ("positions", "open_orders", "risk_state", ...); ``topic_prefix`` narrows it."""

    kind: str
    topic_prefix: str = ""
    reason: str = ""


SnapshotItem = (
    QuoteMsg | TradeMsg | BarMsg | SymbolStatus | Signal | OrderIntentMsg | RiskDecisionMsg
    | ExecutionReport | PositionUpdate | PnLUpdate | RiskState | Heartbeat | OrderAck
    | IntegrityAlert | ControlCommand | ControlResult
)  # fmt: skip


class Snapshot(msgspec.Struct, tag="snapshot", frozen=True):
    """Current state of ``kind`` as of the publisher's ``seqs`` (last seq per topic in
    ``epoch``). A subscriber applies the items and then calls ``SeqTracker.resync`` for
    each topic so that older messages still in flight are dropped as duplicates."""

    kind: str
    items: list[SnapshotItem] = []
    publisher: str = ""
    epoch: int = 0
    seqs: dict[str, int] = {}


Payload = SnapshotItem | SnapshotRequest | Snapshot

_PAYLOAD_TYPES: tuple[type[msgspec.Struct], ...] = (
    QuoteMsg, TradeMsg, BarMsg, SymbolStatus, Signal, OrderIntentMsg, RiskDecisionMsg,
    ExecutionReport, PositionUpdate, PnLUpdate, RiskState, Heartbeat, OrderAck,
    IntegrityAlert, ControlCommand, ControlResult, SnapshotRequest, Snapshot,
)  # fmt: skip


def _tag_of(t: type[msgspec.Struct]) -> str:
    tag = t.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"payload type {t.__name__} has no string tag")
    return tag


MESSAGE_TYPES: dict[str, type] = {_tag_of(t): t for t in _PAYLOAD_TYPES}
"""Message type tag -> payload Struct."""


def msg_type(payload: Any) -> str:
    """The wire type tag of a payload instance (``"quote"``, ``"exec_report"``, ...)."""
    return payload.__struct_config__.tag  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- envelope


class Envelope(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """Every message: who sent it (``publisher``, ``epoch``), where it sits in that
    publisher's stream for its topic (``seq`` from 1), when it happened (``ts_event``) and
    when it was created (``ts_init``), both UTC ns, a ``correlation_id`` tying a reply to
    its request (or a chain of messages together), and the payload."""

    version: int
    publisher: str
    epoch: int
    seq: int
    ts_event: int
    ts_init: int
    correlation_id: str
    payload: Payload

    @property
    def msg_type(self) -> str:
        """The payload's type tag."""
        return msg_type(self.payload)


class EnvelopeFactory:
    """Stamps envelopes for one publisher: epoch (fixed for the publisher's life), seq per
    topic starting at 1, and ``ts_init`` from the clock."""

    def __init__(self, publisher_id: str, clock: Clock | None = None, epoch: int | None = None):
        self.publisher_id = publisher_id
        self.clock: Clock = clock if clock is not None else WallClock()
        self.epoch = epoch if epoch is not None else self.clock.now_ns()
        self._seqs: dict[str, int] = {}

    def make(self, topic: str, payload: Any, ts_event: int | None = None, correlation_id: str = "") -> Envelope:
        """The next envelope on ``topic``; ``ts_event`` defaults to now."""
        seq = self._seqs.get(topic, 0) + 1
        self._seqs[topic] = seq
        now = self.clock.now_ns()
        return Envelope(
            SCHEMA_VERSION, self.publisher_id, self.epoch, seq,
            now if ts_event is None else ts_event, now, correlation_id, payload,
        )  # fmt: skip

    def last_seqs(self) -> dict[str, int]:
        """Last seq issued per topic (for a Snapshot's ``seqs``)."""
        return dict(self._seqs)


# --------------------------------------------------------------------------- framing


def frame_hash(frame: bytes) -> str:
    """Short sha256 of a frame, for logging bad frames without dumping them."""
    return hashlib.sha256(frame).hexdigest()[:16]


class FrameEncoder:
    """Envelope -> frame. Reuses one msgspec encoder and caches topic prefixes."""

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._encode = msgspec.msgpack.Encoder().encode
        self._prefixes: dict[str, bytes] = {}
        self._quote_prefixes: dict[str, bytes] = {}

    def _prefix(self, topic: str) -> bytes:
        prefix = self._prefixes.get(topic)
        if prefix is None:
            raw = topic.encode("utf-8")
            if not raw or SEPARATOR in raw:
                raise ValueError(f"invalid topic {topic!r}")
            prefix = raw + SEPARATOR
            if len(self._prefixes) < 65536:
                self._prefixes[topic] = prefix
        return prefix

    def encode(self, topic: str, env: Envelope) -> bytes:
        """One frame. Raises WireError(oversized) if it exceeds ``max_frame_bytes``."""
        frame = self._prefix(topic) + self._encode(env)
        if len(frame) > self.max_frame_bytes:
            raise WireError(REASON_OVERSIZED, f"{len(frame)} bytes on {topic}")
        return frame

    def encode_quote(self, env: Envelope) -> bytes:
        """Fast path for an envelope carrying a QuoteMsg: topic ``md.quote.<symbol>``."""
        symbol = env.payload.symbol  # type: ignore[union-attr]
        prefix = self._quote_prefixes.get(symbol)
        if prefix is None:
            prefix = self._quote_prefixes[symbol] = self._prefix(md_quote(symbol))
        return prefix + self._encode(env)


class _Probe(msgspec.Struct, array_like=True):
    version: int


class FrameDecoder:
    """Frame -> (topic, Envelope), or WireError with a reason code."""

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._decode = msgspec.msgpack.Decoder(Envelope).decode
        self._topics: dict[bytes, str] = {}

    def _topic(self, raw: bytes) -> str:
        try:
            topic = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WireError(REASON_MALFORMED, "topic is not UTF-8") from None
        if not topic:
            raise WireError(REASON_MALFORMED, "empty topic")
        if len(raw) <= 128 and len(self._topics) < 65536:  # bounded even under garbage
            self._topics[raw] = topic
        return topic

    def decode(self, frame: bytes) -> tuple[str, Envelope]:
        """Decode one frame. Raises only WireError."""
        if len(frame) > self.max_frame_bytes:
            raise WireError(REASON_OVERSIZED, f"{len(frame)} > {self.max_frame_bytes} bytes")
        raw_topic, sep, body = frame.partition(SEPARATOR)
        if not sep:
            raise WireError(REASON_NO_SEPARATOR)
        topic = self._topics.get(raw_topic)
        if topic is None:
            topic = self._topic(raw_topic)
        try:
            env = self._decode(body)
        except Exception as exc:  # the body is untrusted: any failure is a bad frame
            raise self._classify(body, exc) from None
        if env.version != SCHEMA_VERSION:
            raise WireError(REASON_UNKNOWN_VERSION, f"version {env.version}")
        return topic, env

    @staticmethod
    def _classify(body: bytes, exc: Exception) -> WireError:
        """Why a body did not decode: a version we don't know, a type we don't know, or
        just malformed."""
        try:
            version = msgspec.msgpack.decode(body, type=_Probe).version
        except Exception:
            return WireError(REASON_MALFORMED, str(exc)[:200])
        if version != SCHEMA_VERSION:
            return WireError(REASON_UNKNOWN_VERSION, f"version {version}")
        try:
            raw = msgspec.msgpack.decode(body)
            tag = raw[7]["type"]
        except Exception:
            return WireError(REASON_MALFORMED, str(exc)[:200])
        if isinstance(tag, str) and tag not in MESSAGE_TYPES:
            return WireError(REASON_UNKNOWN_TYPE, tag[:64])
        return WireError(REASON_MALFORMED, str(exc)[:200])


_default_encoder = FrameEncoder()
_default_decoder = FrameDecoder()


def encode(topic: str, env: Envelope) -> bytes:
    """Encode with a shared default FrameEncoder (64 KiB limit)."""
    return _default_encoder.encode(topic, env)


def decode(frame: bytes) -> tuple[str, Envelope]:
    """Decode with a shared default FrameDecoder (64 KiB limit). Raises only WireError."""
    return _default_decoder.decode(frame)


# --------------------------------------------------------------------------- sequencing

GapKind = Literal["gap", "duplicate", "restart", "stale_epoch"]


@dataclass(frozen=True, slots=True)
class GapInfo:
    """Something other than the next expected message on a stream.

    - ``gap``: ``missing`` messages were lost (``expected`` .. ``received - 1``); the
      message itself is valid and newer, so deliver it, then ask for a snapshot.
    - ``duplicate``: seq at or below the last seen; drop the message.
    - ``restart``: a new epoch (publisher restarted); baseline reset, not a gap.
    - ``stale_epoch``: a message from an older epoch; drop it.
    """

    kind: GapKind
    publisher: str
    topic: str
    epoch: int
    expected: int
    received: int
    missing: int = 0

    @property
    def deliver(self) -> bool:
        """Whether the message that caused this should still be processed."""
        return self.kind in ("gap", "restart")


class SeqTracker:
    """Tracks the last seq per (publisher, topic) and epoch. Pure: feed it envelopes.

    The first message seen on a stream sets the baseline (a late joiner starts from a
    snapshot, not from seq 1)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], tuple[int, int]] = {}  # -> (epoch, seq)
        self.gaps = 0
        self.missing = 0
        self.duplicates = 0
        self.restarts = 0

    def observe(self, topic: str, env: Envelope) -> GapInfo | None:
        """Record ``env`` on ``topic``; None if it is the next expected message."""
        key = (env.publisher, topic)
        seen = self._last.get(key)
        seq = env.seq
        if seen is None:
            self._last[key] = (env.epoch, seq)
            return None
        epoch, last = seen
        if env.epoch == epoch:
            if seq == last + 1:
                self._last[key] = (epoch, seq)
                return None
            if seq > last + 1:
                self._last[key] = (epoch, seq)
                self.gaps += 1
                self.missing += seq - last - 1
                return GapInfo("gap", env.publisher, topic, epoch, last + 1, seq, seq - last - 1)
            self.duplicates += 1
            return GapInfo("duplicate", env.publisher, topic, epoch, last + 1, seq)
        if env.epoch > epoch:
            self._last[key] = (env.epoch, seq)
            self.restarts += 1
            return GapInfo("restart", env.publisher, topic, env.epoch, 1, seq)
        self.duplicates += 1
        return GapInfo("stale_epoch", env.publisher, topic, env.epoch, last + 1, seq)

    def resync(self, publisher: str, topic: str, epoch: int, seq: int) -> None:
        """Set the baseline after applying a snapshot taken at ``seq``."""
        self._last[(publisher, topic)] = (epoch, seq)

    def last_seq(self, publisher: str, topic: str) -> tuple[int, int] | None:
        """(epoch, last seq) seen on a stream, or None."""
        return self._last.get((publisher, topic))

    def stats(self) -> dict[str, int]:
        """Counters: gaps, missing, duplicates, restarts, streams."""
        return {
            "gaps": self.gaps,
            "missing": self.missing,
            "duplicates": self.duplicates,
            "restarts": self.restarts,
            "streams": len(self._last),
        }


# --------------------------------------------------------------------------- intake

GapHandler = Callable[[GapInfo], None]


class FrameIntake:
    """The receiving side's pipeline for one frame, shared by every transport: decode,
    swallow probes, track sequence, drop and count what cannot be used. Never raises on
    a bad frame; ``dropped`` counts by reason."""

    LOG_FIRST = 10  # log the first N drops of each reason, then every 1000th

    def __init__(
        self,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        tracker: SeqTracker | None = None,
        on_gap: GapHandler | None = None,
        track: bool = True,
    ) -> None:
        self.decoder = FrameDecoder(max_frame_bytes)
        self.tracker = tracker if tracker is not None else SeqTracker()
        self.on_gap = on_gap
        self.track = track
        self.dropped: dict[str, int] = {}
        self.probes_seen: set[str] = set()

    def accept(self, frame: bytes) -> tuple[str, Envelope] | None:
        """The decoded message, or None if it was dropped (or was a probe)."""
        try:
            topic, env = self.decoder.decode(frame)
        except WireError as err:
            self.drop(err.reason_code, frame, err.detail)
            return None
        if topic.startswith(PROBE_PREFIX):
            self.probes_seen.add(topic)
            return None
        if self.track:
            info = self.tracker.observe(topic, env)
            if info is not None:
                if not info.deliver:
                    self.drop(REASON_DUPLICATE, frame, f"{info.kind} seq {info.received}")
                    return None
                if self.on_gap is not None:
                    self.on_gap(info)
        return topic, env

    def drop(self, reason: str, frame: bytes, detail: str = "") -> None:
        """Count (and, throttled, log with a hash) a frame that is not delivered."""
        count = self.dropped.get(reason, 0) + 1
        self.dropped[reason] = count
        if count <= self.LOG_FIRST or count % 1000 == 0:
            log.warning(
                "bus dropped frame reason=%s count=%d len=%d sha256=%s %s",
                reason, count, len(frame), frame_hash(frame), detail,
            )  # fmt: skip
