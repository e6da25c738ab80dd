"""Fuzz the market-data feed decoding (`pyrt.venues.alpaca.feed`) as
`MarketDataService.on_frame` does it: the fast path `decode_data_frame` (msgspec, in C), and for any frame it refuses the slow path
(`unpack_frame`, any exception = a bad frame, dropped and counted; then `normalize` per
message, `MalformedFeedMessage` = a malformed message, dropped and counted; control
messages handled). The service's own object needs a runtime, a publisher and a websocket
client; its `_slow_path` is these same calls with counters, so this test makes them
directly. Frames are Alpaca's msgpack arrays of quotes, trades, bars and control messages,
then the same with fields retyped or set to hurtful values, timestamps of every width and
out of range, byte edits and random bytes.

Pass: nothing but those two counted errors escapes; a frame the fast path accepts gives
the same payloads through the slow path (its documented promise; only a frame the slow
path cannot unpack at all because a field the fast path skips unread is not UTF-8 is
exempt); every payload has a good symbol and finite non-negative numbers and can be
published on the bus (its envelope encodes)."""

from __future__ import annotations

import math
import random
from typing import Any

import msgpack
import msgspec
from hypothesis import strategies as st
from msgspec.msgpack import Ext

from pyrt.bus import schema as bus
from pyrt.venues.alpaca.feed import MalformedFeedMessage, decode_data_frame, normalize, unpack_frame
from tests.fuzz.harness import fuzz
from tests.fuzz.mutate import mutate_bytes, mutate_value, nasty

symbols = st.sampled_from(["AAPL", "MSFT", "SPY", "BRK.B", "X"])
price = st.floats(0, 1e6, allow_nan=False) | st.integers(0, 10**6)
stamp = st.builds(msgpack.Timestamp, st.integers(0, 2**34 - 1), st.integers(0, 999_999_999))
quotes = st.fixed_dictionaries({"T": st.just("q"), "S": symbols, "bp": price, "bs": price, "ap": price, "as": price,
                                "t": stamp, "bx": st.just("V"), "c": st.just(["R"]), "z": st.just("C")})  # fmt: skip
trades = st.fixed_dictionaries({"T": st.just("t"), "S": symbols, "p": price, "s": price, "t": stamp},
                               optional={"i": st.integers(0, 2**63 - 1), "x": st.just("V")})  # fmt: skip
bars = st.fixed_dictionaries({"T": st.just("b"), "S": symbols, "o": price, "h": price, "l": price, "c": price,
                              "v": price, "t": stamp}, optional={"n": st.integers(0, 10**6), "vw": price})  # fmt: skip
controls = st.sampled_from([
    {"T": "success", "msg": "authenticated"}, {"T": "error", "code": 406, "msg": "connection limit exceeded"},
    {"T": "subscription", "quotes": ["AAPL"], "trades": [], "bars": ["SPY"]}, {"T": "s", "S": "AAPL", "sc": "H"},
])  # fmt: skip
frames = st.lists(st.lists(quotes | trades | bars, min_size=1, max_size=4) | st.lists(controls, min_size=1, max_size=2),
                  min_size=1, max_size=3)  # fmt: skip

ODD_STAMPS = [
    Ext(-1, b"\x00\x00\x00\x01"), Ext(-1, b"\xff" * 8), Ext(-1, b"\x7f" + b"\xff" * 11), Ext(-1, b"\xff" * 12),
    Ext(-1, b"\x3b\x9a\xca\x00" + b"\x00" * 8), Ext(-1, b"\x80" + b"\x00" * 11), Ext(-1, b"1"), Ext(-1, b""),
    Ext(5, b"\x00" * 8), msgpack.Timestamp(2**33, 0), 1_700_000_000_000_000_000, -1, 2**64 - 1, 1.5, "2026",
]  # fmt: skip
"""Timestamps of every width (4, 8, 12 bytes), out of range, of a wrong length or type."""


def _ext(value: Any) -> Any:
    if isinstance(value, msgpack.Timestamp):
        return Ext(-1, value.to_bytes())
    raise TypeError(f"cannot pack {type(value).__name__}")


def _pack(value: Any) -> bytes:
    """msgpack as Alpaca sends it (timestamps as extension type -1)."""
    return msgspec.msgpack.encode(value, enc_hook=_ext)


def expand(recipe: list[list[dict[str, Any]]], rng: random.Random, n: int) -> Any:
    for _ in range(n):
        msgs = rng.choice(recipe)
        op = rng.randrange(12)
        if op < 2:
            yield _pack(msgs)
            continue
        if op < 7:
            value: Any = mutate_value(msgs, rng)
        elif op == 7:
            value = [dict(m, t=rng.choice(ODD_STAMPS)) for m in msgs]
        elif op == 8:
            value = [dict(m, **{rng.choice(list(m)): nasty(rng)}) for m in msgs]
        elif op == 9:
            value = rng.choice([msgs[0], {"T": rng.choice(["q", "t", "b", 1, None])}, [[m] for m in msgs], nasty(rng)])
        elif op == 10:
            yield mutate_bytes(_pack(msgs), rng)
            continue
        else:
            yield rng.randbytes(rng.randint(0, 64))
            continue
        try:
            yield _pack(value)
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError):  # e.g. an int past 64 bits
            yield _pack(msgs)


FACTORY = bus.EnvelopeFactory("market_data_fuzz", epoch=1)
ENCODER = bus.FrameEncoder()
TOPIC = {bus.QuoteMsg: bus.md_quote, bus.TradeMsg: bus.md_trade, bus.BarMsg: bus.md_bar}


def _usable(payload: Any) -> None:
    numbers = [getattr(payload, f) for f in ("bid_price", "bid_size", "ask_price", "ask_size", "price", "size",
                                             "open", "high", "low", "close", "volume", "vwap") if hasattr(payload, f)]  # fmt: skip
    assert all(isinstance(x, float) and math.isfinite(x) and x >= 0 for x in numbers), payload
    topic = TOPIC[type(payload)](payload.symbol)
    ENCODER.encode(topic, FACTORY.make(topic, payload, payload.ts_ns))


def check(frame: bytes) -> bool:
    fast = decode_data_frame(frame)
    if fast is not None:
        try:
            msgs = unpack_frame(frame)
        except UnicodeDecodeError:  # in a key the fast path skips unread: it may accept more
            msgs = None
        slow = fast if msgs is None else [normalize(m) for m in msgs]
        assert slow == fast, f"fast path {fast!r:.300} != slow path {slow!r:.300}"
        for payload in fast:
            _usable(payload)
        return True
    try:
        msgs = unpack_frame(frame)
    except Exception:  # noqa: BLE001 - what _slow_path does: the frame is dropped and counted
        return False
    clean = True
    for msg in msgs if type(msgs) is list else [msgs]:
        try:
            payload = normalize(msg)
        except MalformedFeedMessage:
            clean = False
            continue
        if payload is not None:
            _usable(payload)
    return clean


def test_fuzz_market_data_frames() -> None:
    fuzz("market data frame (feed decode)", frames, expand, check)


def test_frame_with_a_string_that_is_not_utf8_takes_the_counted_path() -> None:
    """Regression found by this fuzz: msgspec raises UnicodeDecodeError (not DecodeError)
    for a msgpack str that is not UTF-8, and decode_data_frame let it out of on_frame (the
    stream then reconnected instead of counting one bad frame)."""
    frame = b"\x91\x82\xa1T\xa7succ\xca\xe5*U\x10ess\xa3msg\xadauthenticated"
    assert decode_data_frame(frame) is None
    assert check(frame) is False
