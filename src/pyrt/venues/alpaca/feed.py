"""Alpaca's market-data wire format, decoded: the msgpack frames of the data stream and
the JSON bars of the historical REST API, into the bus payloads (``QuoteMsg``, ``TradeMsg``,
``BarMsg``) or ``MalformedFeedMessage``.

It lives in the Alpaca venue package because the keys (``T``, ``S``, ``bp``, ...) and the
timestamp encodings are Alpaca's: the market-data service receives frames and publishes
payloads, and its rules (staleness, bar history, gap planning) never see a wire key.
Pure and synchronous: no sockets, no clock, no files.

- ``normalize_quote`` / ``normalize_trade`` / ``normalize_bar`` / ``normalize``: one stream
  message (a dict, ``T`` q/t/b) into its payload; None for every other message type.
- ``decode_data_frame``: the fast path for a whole received frame of quotes, trades and
  bars (decoded and validated by msgspec in C, same results as ``normalize``); None for any
  other frame, which then takes ``unpack_frame`` and ``normalize`` message by message.
- ``normalize_rest_bar``: one bar of the historical-bars REST answer (gap fill).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

import msgpack
import msgspec
from msgspec import Meta
from msgspec.msgpack import Ext

from pyrt.bus.schema import BarMsg, QuoteMsg, TradeMsg
from pyrt.domain.clock import datetime_to_ns
from pyrt.domain.errors import BadInput

MAX_NUMBER = 1e18
"""Largest price or size accepted (anything bigger, infinite or NaN is malformed)."""
_NUMBER = frozenset({int, float})


class MalformedFeedMessage(BadInput, ValueError):
    """A feed message that cannot be normalised (missing field, wrong type, bad value)."""


# --------------------------------------------------------------------------- normalisation


def event_ns(t: Any) -> int:
    """Event time in ns from a msgpack Timestamp (what Alpaca sends), an int of ns (what
    ``msgpack.unpackb(..., timestamp=2)`` yields) or an aware datetime."""
    kind = type(t)
    if kind is int:
        return t
    if kind is msgpack.Timestamp:
        return t.to_unix_nano()
    if kind is datetime:
        return datetime_to_ns(t)
    raise MalformedFeedMessage(f"timestamp of type {kind.__name__}")


_GOOD_SYMBOLS: set[str] = set()  # symbols already checked (bounded: see _good_symbol)


def _good_symbol(sym: Any) -> bool:
    """1 to 32 printable ASCII characters without spaces."""
    if type(sym) is not str:
        return False
    if sym in _GOOD_SYMBOLS:
        return True
    ok = 0 < len(sym) <= 32 and sym.isascii() and sym.isprintable() and " " not in sym
    if ok and len(_GOOD_SYMBOLS) < 100_000:
        _GOOD_SYMBOLS.add(sym)
    return ok


def _symbol(msg: Mapping[str, Any]) -> str:
    sym = msg["S"]
    if not _good_symbol(sym):
        raise MalformedFeedMessage(f"bad symbol {sym!r:.40}")
    return sym


def _numbers(kind: str, *values: Any) -> None:
    for v in values:
        if type(v) not in _NUMBER or not 0 <= v <= MAX_NUMBER:
            raise MalformedFeedMessage(f"{kind}: bad number {v!r:.40}")


def normalize_quote(msg: Mapping[str, Any]) -> QuoteMsg:
    """A quote (``T: "q"``, keys ``S bp bs ap as t``) as a QuoteMsg."""
    try:
        sym = msg["S"]
        bp, bs, ap, asz, t = msg["bp"], msg["bs"], msg["ap"], msg["as"], msg["t"]
    except (KeyError, TypeError) as exc:
        raise MalformedFeedMessage(f"quote: missing {exc}") from None
    # The common case in one expression; the helpers say what exactly is wrong.
    if not (
        type(sym) is str and (sym in _GOOD_SYMBOLS or _good_symbol(sym)) and type(bp) in _NUMBER and type(ap) in _NUMBER
        and type(bs) in _NUMBER and type(asz) in _NUMBER
        and 0 <= bp <= MAX_NUMBER and 0 <= ap <= MAX_NUMBER and 0 <= bs <= MAX_NUMBER and 0 <= asz <= MAX_NUMBER
    ):  # fmt: skip
        _symbol(msg)
        _numbers("quote", bp, bs, ap, asz)
    ts = t if type(t) is int else event_ns(t)
    return QuoteMsg(sym, float(bp), float(bs), float(ap), float(asz), ts)


def normalize_trade(msg: Mapping[str, Any]) -> TradeMsg:
    """A trade (``T: "t"``, keys ``S p s t``, optional id ``i``) as a TradeMsg."""
    try:
        sym = _symbol(msg)
        price, size, t = msg["p"], msg["s"], msg["t"]
    except (KeyError, TypeError) as exc:
        raise MalformedFeedMessage(f"trade: missing {exc}") from None
    _numbers("trade", price, size)
    trade_id = msg.get("i", 0)
    if type(trade_id) is not int:
        raise MalformedFeedMessage(f"trade: bad id {trade_id!r:.40}")
    return TradeMsg(sym, float(price), float(size), event_ns(t), trade_id)


def normalize_bar(msg: Mapping[str, Any]) -> BarMsg:
    """A minute bar (``T: "b"``, keys ``S o h l c v t``, optional ``n vw``) as a BarMsg."""
    try:
        sym = _symbol(msg)
        o, h, low, c, v, t = msg["o"], msg["h"], msg["l"], msg["c"], msg["v"], msg["t"]
    except (KeyError, TypeError) as exc:
        raise MalformedFeedMessage(f"bar: missing {exc}") from None
    count, vwap = msg.get("n", 0), msg.get("vw", 0.0)
    _numbers("bar", o, h, low, c, v, vwap)
    if type(count) is not int or count < 0:
        raise MalformedFeedMessage(f"bar: bad trade count {count!r:.40}")
    return BarMsg(sym, float(o), float(h), float(low), float(c), float(v), event_ns(t), count, float(vwap))


_NANOS = re.compile(r"(\.\d{6})\d+")  # fromisoformat takes at most microseconds


def normalize_rest_bar(symbol: str, raw: Any) -> BarMsg:
    """A bar of Alpaca's historical-bars REST answer (``t`` an RFC 3339 time, ``o h l c v``,
    optional ``n vw``) as a BarMsg."""
    if not isinstance(raw, Mapping):
        raise MalformedFeedMessage(f"rest bar: not an object: {raw!r:.60}")
    t = raw.get("t")
    if not isinstance(t, str):
        raise MalformedFeedMessage(f"rest bar: bad time {t!r:.40}")
    try:
        when = datetime.fromisoformat(_NANOS.sub(r"\1", t.replace("Z", "+00:00")))
    except ValueError:
        raise MalformedFeedMessage(f"rest bar: bad time {t!r:.40}") from None
    if when.tzinfo is None:
        raise MalformedFeedMessage(f"rest bar: time without a zone {t!r:.40}")
    return normalize_bar({**raw, "S": symbol, "t": when})


_NORMALIZERS: dict[str, Callable[[dict[str, Any]], QuoteMsg | TradeMsg | BarMsg]] = {
    "q": normalize_quote,
    "t": normalize_trade,
    "b": normalize_bar,
}


def normalize(msg: Any) -> QuoteMsg | TradeMsg | BarMsg | None:
    """Any stream message: a payload for q/t/b, None for every other type (control
    messages, statuses, ...); MalformedFeedMessage if it is not a message at all."""
    if type(msg) is not dict:
        raise MalformedFeedMessage(f"message of type {type(msg).__name__}")
    kind = msg.get("T")
    if type(kind) is not str:
        raise MalformedFeedMessage(f"message type {kind!r:.40}")
    fn = _NORMALIZERS.get(kind)
    return fn(msg) if fn is not None else None


def unpack_frame(frame: bytes) -> Any:
    """A received frame as plain Python (timestamps as int ns); raises on non-msgpack."""
    return msgpack.unpackb(frame, timestamp=2)


# The fast path: wire structs msgspec decodes and checks in C (unknown keys are skipped).
_Number = Annotated[float, Meta(ge=0, le=MAX_NUMBER)]  # finite and not negative
_Symbol = Annotated[str, Meta(min_length=1, max_length=32)]
_Count = Annotated[int, Meta(ge=0)]


class _WireQuote(msgspec.Struct, tag="q", tag_field="T", gc=False):
    S: _Symbol
    bp: _Number
    bs: _Number
    ap: _Number
    as_: _Number = msgspec.field(name="as")
    t: Ext


class _WireTrade(msgspec.Struct, tag="t", tag_field="T", gc=False):
    S: _Symbol
    p: _Number
    s: _Number
    t: Ext
    i: int = 0


class _WireBar(msgspec.Struct, tag="b", tag_field="T", gc=False):
    S: _Symbol
    o: _Number
    h: _Number
    l: _Number  # noqa: E741 - Alpaca's key
    c: _Number
    v: _Number
    t: Ext
    n: _Count = 0
    vw: _Number = 0.0


_data_frame = msgspec.msgpack.Decoder(list[_WireQuote | _WireTrade | _WireBar])
_from_bytes = int.from_bytes


def _ext_ns(ext: Ext) -> int:
    """ns of a msgpack timestamp extension (type -1, 4, 8 or 12 bytes)."""
    data = ext.data
    if ext.code != -1:
        raise MalformedFeedMessage(f"extension type {ext.code} is not a timestamp")
    if len(data) == 8:  # type: ignore[arg-type]  # msgspec types Ext.data as Buffer: bytes here
        value = _from_bytes(data, "big")
        nanos = value >> 34
        if nanos >= 1_000_000_000:
            raise MalformedFeedMessage("timestamp nanoseconds out of range")
        return (value & 0x3FFFFFFFF) * 1_000_000_000 + nanos
    try:
        return msgpack.Timestamp.from_bytes(bytes(data)).to_unix_nano()
    except ValueError as exc:
        raise MalformedFeedMessage(f"timestamp: {exc}") from None


def decode_data_frame(frame: Any) -> list[QuoteMsg | TradeMsg | BarMsg] | None:
    """A frame holding only well-formed quotes, trades and bars, normalised; None for any
    other frame (control messages, anything malformed, not msgpack at all)."""
    try:
        wire = _data_frame.decode(frame)
    except (msgspec.DecodeError, TypeError, UnicodeDecodeError):  # ValidationError is a DecodeError;
        return None  # a str that is not UTF-8 raises UnicodeDecodeError instead
    out: list[QuoteMsg | TradeMsg | BarMsg] = []
    append, good, from_bytes = out.append, _GOOD_SYMBOLS, _from_bytes
    try:
        for w in wire:
            if not (w.S in good or _good_symbol(w.S)):
                return None
            t = w.t
            data = t.data
            if t.code == -1 and len(data) == 8:  # type: ignore[arg-type]  # bytes; the usual form, inlined: 30 bits ns, 34 bits s
                value = from_bytes(data, "big")
                nanos = value >> 34
                if nanos >= 1_000_000_000:
                    return None
                ns = (value & 0x3FFFFFFFF) * 1_000_000_000 + nanos
            else:
                ns = _ext_ns(t)
            kind = type(w)
            if kind is _WireQuote:
                append(QuoteMsg(w.S, w.bp, w.bs, w.ap, w.as_, ns))  # type: ignore[union-attr]
            elif kind is _WireTrade:
                append(TradeMsg(w.S, w.p, w.s, ns, w.i))  # type: ignore[union-attr]
            else:
                append(BarMsg(w.S, w.o, w.h, w.l, w.c, w.v, ns, w.n, w.vw))  # type: ignore[union-attr]
    except MalformedFeedMessage:
        return None
    return out
