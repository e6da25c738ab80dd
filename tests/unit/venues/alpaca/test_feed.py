"""Alpaca's feed decoding (pyrt.venues.alpaca.feed): raw msgpack stream messages and REST
bars into bus payloads, the per-message path and the whole-frame fast path, and what counts
as malformed."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrt.bus.schema import BarMsg, QuoteMsg, TradeMsg
from pyrt.venues.alpaca.feed import (
    MalformedFeedMessage,
    decode_data_frame,
    event_ns,
    normalize,
    normalize_bar,
    normalize_quote,
    normalize_rest_bar,
    normalize_trade,
    unpack_frame,
)

NS = 1_700_000_000_123_456_789
TS = msgpack.Timestamp.from_unix_nano(NS)


def quote(**over: Any) -> dict[str, Any]:
    msg = {"T": "q", "S": "AAPL", "bx": "V", "bp": 189.5, "bs": 3, "ax": "V", "ap": 189.52, "as": 2.0,
           "c": ["R"], "z": "C", "t": TS}  # fmt: skip
    msg.update(over)
    return msg


def trade(**over: Any) -> dict[str, Any]:
    msg = {"T": "t", "S": "AAPL", "i": 52983525029461, "x": "V", "p": 189.51, "s": 100, "c": ["@"], "z": "C", "t": TS}
    msg.update(over)
    return msg


def bar(**over: Any) -> dict[str, Any]:
    msg = {"T": "b", "S": "AAPL", "o": 189.0, "h": 190, "l": 188.5, "c": 189.9, "v": 12345, "n": 87, "vw": 189.4,
           "t": TS}  # fmt: skip
    msg.update(over)
    return msg


def test_quote_keeps_prices_sizes_and_the_exact_nanosecond_time():
    q = normalize_quote(quote())
    assert q == QuoteMsg("AAPL", 189.5, 3.0, 189.52, 2.0, NS)
    assert type(q.bid_size) is float  # ints on the wire become floats


def test_timestamp_forms():
    assert event_ns(TS) == NS
    assert event_ns(NS) == NS  # what unpack_frame (timestamp=2) yields
    assert event_ns(datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)) == NS - 789
    with pytest.raises(MalformedFeedMessage):
        event_ns("2023-11-14T22:13:20Z")


def test_trade_and_bar():
    assert normalize_trade(trade()) == TradeMsg("AAPL", 189.51, 100.0, NS, 52983525029461)
    no_id = trade()
    del no_id["i"]
    assert normalize_trade(no_id).trade_id == 0
    assert normalize_bar(bar()) == BarMsg("AAPL", 189.0, 190.0, 188.5, 189.9, 12345.0, NS, 87, 189.4)
    minimal = bar()
    del minimal["n"], minimal["vw"]
    assert normalize_bar(minimal) == BarMsg("AAPL", 189.0, 190.0, 188.5, 189.9, 12345.0, NS, 0, 0.0)


def test_control_and_unsubscribed_types_are_not_market_data():
    for msg in ({"T": "subscription", "quotes": ["AAPL"]}, {"T": "success", "msg": "authenticated"},
                {"T": "error", "code": 407, "msg": "slow client"}, {"T": "s", "S": "AAPL", "sc": "H"}):  # fmt: skip
        assert normalize(msg) is None


def test_dispatch_by_type():
    assert isinstance(normalize(quote()), QuoteMsg)
    assert isinstance(normalize(trade()), TradeMsg)
    assert isinstance(normalize(bar()), BarMsg)


MALFORMED = [
    quote(bp="189.5"), quote(bp=None), quote(ap=True), quote(bs=[1]), quote(bp=-1.0), quote(ap=math.nan),
    {**quote(), "as": math.inf}, quote(bp=1e19), quote(S=""), quote(S=42), quote(S=["AAPL"]), quote(S="AA PL"), quote(S="A\x00"),
    quote(S="Ä"), quote(S="A" * 33), trade(S={"a": 1}), bar(S=None),
    quote(t="2023-11-14T22:13:20Z"), quote(t=1.5), quote(t=None),
    {k: v for k, v in quote().items() if k != "bp"}, {k: v for k, v in quote().items() if k != "t"},
    trade(p="x"), trade(s=None), trade(i="abc"), {k: v for k, v in trade().items() if k != "S"},
    bar(h=math.nan), bar(n=-1), bar(n=1.5), bar(vw="x"), {k: v for k, v in bar().items() if k != "c"},
    ["T", "q"], "q", None, 7, {"S": "AAPL"}, {"T": 1},
]  # fmt: skip


@pytest.mark.parametrize("msg", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_messages_raise_one_exception_type(msg: Any):
    with pytest.raises(MalformedFeedMessage):
        normalize(msg)
    frame = msgpack.packb([msg])
    assert decode_data_frame(frame) is None  # the fast path refuses, the slow path decides


def test_fast_path_equals_the_per_message_path_on_a_mixed_frame():
    msgs = [
        quote(),
        trade(),
        bar(),
        quote(S="MSFT", bp=1, t=msgpack.Timestamp(1_700_000_000, 0)),
        quote(t=msgpack.Timestamp(2**35, 5)),
        quote(t=msgpack.Timestamp(-5, 7)),
    ]  # 4, 8 and 12-byte forms
    frame = msgpack.packb(msgs)
    fast = decode_data_frame(frame)
    assert fast is not None and len(fast) == 6
    assert fast == [normalize(m) for m in unpack_frame(frame)]
    assert fast == [normalize(m) for m in msgpack.unpackb(frame)]  # Timestamp objects too


@pytest.mark.parametrize("frame", [
    msgpack.packb([{"T": "subscription", "quotes": ["AAPL"]}]),
    msgpack.packb([quote(), {"T": "error", "code": 400, "msg": "invalid syntax"}]),
    msgpack.packb([quote(t=msgpack.ExtType(5, b"12345678"))]),
    b"\xc1garbage", "a text frame", b"",
])  # fmt: skip
def test_fast_path_refuses_anything_but_clean_data(frame: Any):
    assert decode_data_frame(frame) is None


def test_empty_frame_is_no_data():
    assert decode_data_frame(msgpack.packb([])) == []


prices = st.floats(min_value=0, max_value=1e9, allow_nan=False)
times = st.integers(min_value=0, max_value=2**62)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("qtb"), prices, prices, prices, times), max_size=20))
def test_fast_and_slow_paths_agree(rows: list[tuple[str, float, float, float, int]]):
    msgs = []
    for kind, a, b, c, ns in rows:
        ts = msgpack.Timestamp.from_unix_nano(ns)
        if kind == "q":
            msgs.append(quote(bp=a, ap=b, bs=c, t=ts))
        elif kind == "t":
            msgs.append(trade(p=a, s=b, t=ts))
        else:
            msgs.append(bar(o=a, h=b, l=c, t=ts))
    frame = msgpack.packb(msgs)
    assert decode_data_frame(frame) == [normalize(m) for m in unpack_frame(frame)]


def test_rest_bars_parse_alpaca_times_and_refuse_bad_ones():
    bar = normalize_rest_bar(
        "AAPL", {"t": "2024-03-05T15:00:00Z", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 100, "n": 3, "vw": 1.2}
    )
    assert (bar.symbol, bar.ts_ns, bar.close, bar.trade_count) == ("AAPL", 1_709_650_800_000_000_000, 1.5, 3)
    nanos = normalize_rest_bar(
        "AAPL", {"t": "2024-03-05T15:00:00.123456789+00:00", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 100}
    )
    assert nanos.ts_ns == 1_709_650_800_123_456_000
    for raw in (
        {"t": "yesterday", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1},
        {"t": "2024-03-05T15:00:00", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1},  # no zone
        {"t": 5, "o": 1, "h": 1, "l": 1, "c": 1, "v": 1},
        {"t": "2024-03-05T15:00:00Z", "o": "x", "h": 1, "l": 1, "c": 1, "v": 1},
        ["not", "a", "bar"],
    ):
        with pytest.raises(MalformedFeedMessage):
            normalize_rest_bar("AAPL", raw)
