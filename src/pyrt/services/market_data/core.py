"""The market-data rules, pure and synchronous (no sockets, no wall clock, no files):

- ``normalize_quote`` / ``normalize_trade`` / ``normalize_bar`` / ``normalize``: Alpaca's raw
  msgpack stream dicts (``T`` q/t/b) into the bus payloads, or ``MalformedFeedMessage``.
- ``decode_data_frame``: the fast path for a whole received frame of quotes, trades and
  bars (decoded and validated by msgspec in C, same results as ``normalize``); None for any
  other frame, which then takes ``unpack_frame`` and ``normalize`` message by message.
- ``BackoffPolicy``: reconnect delays (first retry immediate, then exponential with jitter).
- ``StalenessTracker``: which symbols had no quote for too long, as status transitions.
- ``BarHistory``: the last N bars per symbol and their JSON form for the cache files.
- ``should_log``: throttle for repetitive warnings.

Times are UTC nanoseconds passed in by the caller.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Union

import msgpack
import msgspec
from msgspec import Meta
from msgspec.msgpack import Ext

from pyrt.bus.schema import BarMsg, QuoteMsg, SymbolStatus, TradeMsg
from pyrt.domain.clock import datetime_to_ns
from pyrt.domain.market import MINUTE_BAR_NS

MAX_NUMBER = 1e18
"""Largest price or size accepted (anything bigger, infinite or NaN is malformed)."""
_NUMBER = frozenset({int, float})
NO_QUOTE_YET = "no quote yet"


class MalformedFeedMessage(ValueError):
    """A feed message that cannot be normalised (missing field, wrong type, bad value)."""


# --------------------------------------------------------------------------- normalisation


def event_ns(t: Any) -> int:
    """Event time in ns from a msgpack Timestamp (what Alpaca sends), an int of ns (what
    ``msgpack.unpackb(..., timestamp=2)`` yields) or an aware datetime."""
    kind = type(t)
    if kind is int:
        return t  # type: ignore[no-any-return]
    if kind is msgpack.Timestamp:
        return t.to_unix_nano()  # type: ignore[no-any-return]
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
    return sym  # type: ignore[no-any-return]


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


def gaps_to_fill(newest: Mapping[str, int], now_ns: int) -> dict[str, int]:
    """The symbols (with their newest kept bar's time) that can have missed a bar: the next
    bar after one starting at t ends at t + 2 min, so before then nothing can be missing and
    a short reconnect costs no request (the data API has a rate limit too)."""
    return {s: t for s, t in newest.items() if now_ns >= t + 2 * MINUTE_BAR_NS}


def bars_to_fill(newest_ns: int, fetched: Iterable[BarMsg]) -> list[BarMsg]:
    """The fetched bars strictly newer than the newest one already seen, oldest first, one
    per time: a gap fill never repeats or reorders what subscribers already got."""
    by_time = {b.ts_ns: b for b in fetched if b.ts_ns > newest_ns}
    return [by_time[t] for t in sorted(by_time)]


_NORMALIZERS = {"q": normalize_quote, "t": normalize_trade, "b": normalize_bar}


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


_data_frame = msgspec.msgpack.Decoder(list[Union[_WireQuote, _WireTrade, _WireBar]])
_from_bytes = int.from_bytes


def _ext_ns(ext: Ext) -> int:
    """ns of a msgpack timestamp extension (type -1, 4, 8 or 12 bytes)."""
    data = ext.data
    if ext.code != -1:
        raise MalformedFeedMessage(f"extension type {ext.code} is not a timestamp")
    if len(data) == 8:
        value = _from_bytes(data, "big")
        nanos = value >> 34
        if nanos >= 1_000_000_000:
            raise MalformedFeedMessage("timestamp nanoseconds out of range")
        return (value & 0x3FFFFFFFF) * 1_000_000_000 + nanos
    try:
        return msgpack.Timestamp.from_bytes(bytes(data)).to_unix_nano()  # type: ignore[no-any-return]
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
            if t.code == -1 and len(data) == 8:  # the usual form, inlined: 30 bits ns, 34 bits s
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


def should_log(count: int, first: int = 5, every: int = 1000) -> bool:
    """Throttle: True for the first ``first`` occurrences, then once per ``every``."""
    return count <= first or count % every == 0


# --------------------------------------------------------------------------- reconnect


@dataclass(frozen=True)
class BackoffPolicy:
    """Reconnect delays: attempt 0 is immediate; attempt n >= 1 waits
    ``min(initial_delay_s * 2**(n-1), max_delay_s)`` scaled by a factor in
    ``[1 - jitter, 1 + jitter]``."""

    initial_delay_s: float = 0.5
    max_delay_s: float = 30.0
    jitter: float = 0.2

    @classmethod
    def from_config(cls, cfg: Any) -> BackoffPolicy:
        """From ``market_data.reconnect`` (anything with the three fields)."""
        return cls(float(cfg.initial_delay_s), float(cfg.max_delay_s), float(cfg.jitter))

    def base_delay(self, attempt: int) -> float:
        """The delay before jitter."""
        if attempt <= 0:
            return 0.0
        return min(self.initial_delay_s * 2.0 ** min(attempt - 1, 64), self.max_delay_s)

    def delay(self, attempt: int, rand: float) -> float:
        """The delay of ``attempt`` with ``rand`` a uniform draw from [0, 1)."""
        return self.base_delay(attempt) * (1.0 + self.jitter * (2.0 * rand - 1.0))


# --------------------------------------------------------------------------- staleness


class StalenessTracker:
    """Per symbol: stale when no quote arrived for ``stale_after_s`` (receipt time). A
    symbol starts stale ("no quote yet") and turns fresh on its first quote. Methods return
    the ``SymbolStatus`` transitions to publish."""

    def __init__(self, symbols: Iterable[str], stale_after_s: float, now_ns: int) -> None:
        self.stale_after_s = stale_after_s
        self._last: dict[str, int] = {}
        self._stale: dict[str, str] = {}  # symbol -> reason
        self.set_symbols(symbols, now_ns)

    @property
    def symbols(self) -> list[str]:
        return list(self._last)

    def is_stale(self, symbol: str) -> bool:
        return symbol in self._stale

    def seen(self, symbol: str, now_ns: int) -> SymbolStatus | None:
        """A quote of ``symbol`` arrived; returns the fresh transition if it was stale."""
        if symbol in self._last:
            self._last[symbol] = now_ns
            if symbol in self._stale:
                del self._stale[symbol]
                return SymbolStatus(symbol, False, "")
        return None

    def check(self, now_ns: int) -> list[SymbolStatus]:
        """Symbols that just went stale."""
        limit = int(self.stale_after_s * 1e9)
        out = []
        for symbol, last in self._last.items():
            if symbol not in self._stale and now_ns - last >= limit:
                reason = f"no quote for {(now_ns - last) / 1e9:.1f}s"
                self._stale[symbol] = reason
                out.append(SymbolStatus(symbol, True, reason))
        return out

    def mark_all_stale(self, reason: str) -> list[SymbolStatus]:
        """Every fresh symbol turns stale now (e.g. the feed disconnected)."""
        out = []
        for symbol in self._last:
            if symbol not in self._stale:
                self._stale[symbol] = reason
                out.append(SymbolStatus(symbol, True, reason))
        return out

    def set_symbols(self, symbols: Iterable[str], now_ns: int) -> list[SymbolStatus]:
        """Track exactly ``symbols``; new ones start stale. Returns their statuses."""
        wanted = list(dict.fromkeys(symbols))
        for gone in set(self._last) - set(wanted):
            del self._last[gone]
            self._stale.pop(gone, None)
        out = []
        for symbol in wanted:
            if symbol not in self._last:
                self._last[symbol] = now_ns
                self._stale[symbol] = NO_QUOTE_YET
                out.append(SymbolStatus(symbol, True, NO_QUOTE_YET))
        return out

    def statuses(self) -> list[SymbolStatus]:
        """The current status of every symbol."""
        return [SymbolStatus(s, s in self._stale, self._stale.get(s, "")) for s in self._last]


# --------------------------------------------------------------------------- bar history

_bars_encoder = msgspec.json.Encoder()
_bars_decoder = msgspec.json.Decoder(list[BarMsg])


class BarHistory:
    """The most recent ``bars_to_keep`` bars per symbol, oldest first. A bar with the time
    of the newest one replaces it (an updated bar); an older one is ignored. ``dirty``
    holds the symbols changed since the last ``take_dirty``."""

    def __init__(self, bars_to_keep: int) -> None:
        self.bars_to_keep = bars_to_keep
        self._bars: dict[str, deque[BarMsg]] = {}
        self.dirty: set[str] = set()

    def add(self, bar: BarMsg) -> bool:
        """Keep ``bar``; False if it was older than the newest kept one."""
        bars = self._bars.get(bar.symbol)
        if bars is None:
            bars = self._bars[bar.symbol] = deque(maxlen=self.bars_to_keep)
        if bars and bar.ts_ns <= bars[-1].ts_ns:
            if bar.ts_ns < bars[-1].ts_ns:
                return False
            bars.pop()
        bars.append(bar)
        self.dirty.add(bar.symbol)
        return True

    def bars(self, symbol: str) -> list[BarMsg]:
        return list(self._bars.get(symbol, ()))

    def newest_ns(self, symbol: str) -> int | None:
        """The time of the newest kept bar of ``symbol``, or None."""
        bars = self._bars.get(symbol)
        return bars[-1].ts_ns if bars else None

    def symbols(self) -> list[str]:
        return list(self._bars)

    def resize(self, bars_to_keep: int) -> None:
        """Change how many bars are kept (the newest stay)."""
        if bars_to_keep != self.bars_to_keep:
            self.bars_to_keep = bars_to_keep
            self._bars = {s: deque(b, maxlen=bars_to_keep) for s, b in self._bars.items()}
            self.dirty.update(self._bars)

    def take_dirty(self) -> set[str]:
        """The symbols changed since the last call (and forget them)."""
        dirty, self.dirty = self.dirty, set()
        return dirty

    def encode(self, symbol: str) -> bytes:
        """The cache file content of ``symbol``: a JSON list of bars."""
        return _bars_encoder.encode(self.bars(symbol))

    def load(self, symbol: str, data: bytes) -> int:
        """Replace ``symbol``'s bars by a cache file's content (only bars of that symbol,
        in time order, the newest ``bars_to_keep``). Returns how many were kept; raises
        MalformedFeedMessage for content that is not a list of bars."""
        try:
            loaded = _bars_decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise MalformedFeedMessage(f"bar cache of {symbol}: {exc}") from None
        bars = sorted((b for b in loaded if b.symbol == symbol), key=lambda b: b.ts_ns)
        self._bars[symbol] = deque(bars, maxlen=self.bars_to_keep)
        return len(self._bars[symbol])
