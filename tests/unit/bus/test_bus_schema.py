"""The wire contract: topics, round trips of every payload type, and WireError reasons."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrt.bus import schema as s
from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide, OrderType
from pyrt.domain.intents import OrderIntent, RiskDecision
from pyrt.domain.market import Bar, Quote, Trade

QUOTE = s.QuoteMsg("AAPL", 189.12, 100.0, 189.14, 200.0, 1_700_000_000_000_000_000)
INTENT = OrderIntent(
    intent_id="i-1",
    strategy="momo",
    symbol="AAPL",
    side=OrderSide.BUY,
    qty=Decimal(10),
    order_type=OrderType.LIMIT,
    limit_price=Decimal("189.10"),
    ts_ns=5,
    reason="signal",
)
REPORT = s.ExecutionReport(
    client_order_id="momo-i-1",
    broker_order_id="b-9",
    intent_id="i-1",
    strategy="momo",
    symbol="AAPL",
    side=OrderSide.BUY,
    event="partial_fill",
    status="partially_filled",
    qty=Decimal(10),
    filled_qty=Decimal(4),
    fill_qty=Decimal(4),
    fill_price=Decimal("189.10"),
    avg_price=Decimal("189.10"),
    position_qty=Decimal(4),
)
POSITION = s.PositionUpdate("AAPL", Decimal(-4), Decimal("189.1"), Decimal("-756.4"), Decimal("0.2"), Decimal("1.5"))

PAYLOADS = [
    QUOTE,
    s.TradeMsg("AAPL", 189.13, 50.0, 7, trade_id=42),
    s.BarMsg("AAPL", 1.0, 2.0, 0.5, 1.5, 1000.0, 9, trade_count=12, vwap=1.2),
    s.SymbolStatus("AAPL", True, "no quote for 5 s"),
    s.Signal("momo", "AAPL", "long", 0.7, 11, {"z": 1.5, "rsi": 61.0}),
    s.OrderIntentMsg(INTENT),
    s.RiskDecisionMsg(RiskDecision(intent_id="i-1", approved=False, reason_code="MAX_ORDER_VALUE")),
    REPORT,
    POSITION,
    s.PnLUpdate(Decimal("1.5"), Decimal("0.2"), Decimal("100001.7"), Decimal("99245.3")),
    s.RiskState("HALTED", "daily loss", True, Decimal("-2500.00")),
    s.Heartbeat("risk-manager", "ok", 13),
    s.SnapshotRequest("positions", s.EXEC_POSITION_PREFIX, "gap"),
    s.Snapshot("positions", [POSITION, REPORT], "execution-engine", 77, {"exec.position.AAPL": 9}),
]


def make(payload: object, topic: str = "t.x", ts_event: int | None = None, correlation_id: str = "") -> s.Envelope:
    factory = s.EnvelopeFactory("pub-1", ManualClock(), epoch=77)
    return factory.make(topic, payload, ts_event, correlation_id)


def test_topics_are_built_by_functions() -> None:
    assert s.md_quote("AAPL") == "md.quote.AAPL"
    assert s.md_trade("BRK.B") == "md.trade.BRK.B"
    assert s.md_bar("AAPL") == "md.bar.AAPL"
    assert s.md_status("AAPL") == "md.status.AAPL"
    assert s.signal("momo", "AAPL") == "sig.momo.AAPL"
    assert s.exec_report("momo") == "exec.report.momo"
    assert s.exec_position("AAPL") == "exec.position.AAPL"
    assert s.exec_pnl() == "exec.pnl"
    assert s.risk_decision() == "risk.decision"
    assert s.risk_state() == "risk.state"
    assert s.heartbeat("risk-manager") == "hb.risk-manager"
    for topic in (s.md_quote("X"), s.md_trade("X"), s.md_bar("X"), s.md_status("X")):
        assert topic.startswith(s.MD_PREFIX)
    assert s.exec_pnl().startswith(s.EXEC_PREFIX) and s.risk_state().startswith(s.RISK_PREFIX)
    assert s.exact("md.quote.A") == "md.quote.A\x00"


@pytest.mark.parametrize("bad", ["", "A B", "A\x00", "A\n"])
def test_topic_segments_are_validated(bad: str) -> None:
    with pytest.raises(ValueError):
        s.md_quote(bad)


@pytest.mark.parametrize("payload", PAYLOADS, ids=s.msg_type)
def test_every_payload_round_trips(payload: object) -> None:
    env = make(payload, correlation_id="c-1", ts_event=3)
    topic, back = s.decode(s.encode("t.x", env))
    assert topic == "t.x"
    assert back == env
    assert type(back.payload) is type(payload)
    assert back.msg_type == s.msg_type(payload) in s.MESSAGE_TYPES


def test_envelope_is_stamped() -> None:
    clock = ManualClock(1_000)
    factory = s.EnvelopeFactory("md", clock, epoch=500)
    first = factory.make("md.quote.A", QUOTE, ts_event=900)
    clock.advance(1e-6)
    second = factory.make("md.quote.A", QUOTE, correlation_id="c")
    other = factory.make("md.quote.B", QUOTE)
    assert (first.version, first.publisher, first.epoch) == (s.SCHEMA_VERSION, "md", 500)
    assert (first.seq, first.ts_event, first.ts_init) == (1, 900, 1_000)
    assert (second.seq, second.ts_event, second.ts_init, second.correlation_id) == (
        2, 2_000, 2_000, "c",
    )  # fmt: skip
    assert other.seq == 1  # seq is per topic
    assert factory.last_seqs() == {"md.quote.A": 2, "md.quote.B": 1}
    assert s.EnvelopeFactory("md", clock).epoch == clock.now_ns()


@pytest.mark.parametrize(
    ("domain", "wire"),
    [
        (Quote("AAPL", 1.0, 2.0, 3.0, 4.0, 5), s.QuoteMsg),
        (Trade("AAPL", 1.5, 2.0, 5, 9), s.TradeMsg),
        (Bar("AAPL", 1.0, 2.0, 0.5, 1.5, 10.0, 5, 3, 1.1), s.BarMsg),
    ],
)
def test_market_data_converters(domain: object, wire: type) -> None:
    msg = wire.from_domain(domain)
    assert msg.to_domain() == domain
    assert wire.__struct_fields__ == type(domain).__struct_fields__  # type: ignore[attr-defined]


def test_quote_fast_path_matches_general_encoding() -> None:
    enc = s.FrameEncoder()
    env = make(QUOTE, s.md_quote("AAPL"))
    assert enc.encode_quote(env) == enc.encode(s.md_quote("AAPL"), env)
    assert enc.encode_quote(env) == enc.encode_quote(env)  # cached prefix


def reason(frame: bytes, decoder: s.FrameDecoder | None = None) -> str:
    with pytest.raises(s.WireError) as info:
        (decoder or s.FrameDecoder()).decode(frame)
    return info.value.reason_code


def body(env: s.Envelope) -> bytes:
    return s.encode("t.x", env).partition(b"\x00")[2]


def test_wire_errors_have_reason_codes() -> None:
    good = s.encode("t.x", make(QUOTE))
    assert reason(b"no separator here") == s.REASON_NO_SEPARATOR
    assert reason(good, s.FrameDecoder(max_frame_bytes=len(good) - 1)) == s.REASON_OVERSIZED
    assert reason(b"t.x\x00\xc1") == s.REASON_MALFORMED
    assert reason(b"t.x\x00" + msgspec.msgpack.encode({"a": 1})) == s.REASON_MALFORMED
    assert reason(b"\xff\xfe\x00" + body(make(QUOTE))) == s.REASON_MALFORMED
    assert reason(b"\x00" + body(make(QUOTE))) == s.REASON_MALFORMED

    as_list = msgspec.msgpack.decode(body(make(QUOTE)))
    v2_same_layout = msgspec.msgpack.encode([2, *as_list[1:]])
    v2_new_layout = msgspec.msgpack.encode([2, "x", {"whatever": True}])
    assert reason(b"t.x\x00" + v2_same_layout) == s.REASON_UNKNOWN_VERSION
    assert reason(b"t.x\x00" + v2_new_layout) == s.REASON_UNKNOWN_VERSION

    as_list[7] = {"type": "teleport", "where": "moon"}
    assert reason(b"t.x\x00" + msgspec.msgpack.encode(as_list)) == s.REASON_UNKNOWN_TYPE

    as_list[7] = {"type": "quote", "symbol": "AAPL"}  # missing fields
    assert reason(b"t.x\x00" + msgspec.msgpack.encode(as_list)) == s.REASON_MALFORMED


def test_non_finite_money_is_malformed() -> None:
    as_list = msgspec.msgpack.decode(body(make(POSITION)))
    as_list[7]["qty"] = "NaN"
    assert reason(b"t.x\x00" + msgspec.msgpack.encode(as_list)) == s.REASON_MALFORMED


def test_encoder_refuses_oversized_and_bad_topics() -> None:
    enc = s.FrameEncoder(max_frame_bytes=256)
    big = make(s.Signal("m", "A", "flat", 0.0, 1, {f"f{i}": 1.0 for i in range(100)}))
    with pytest.raises(s.WireError) as info:
        enc.encode("t.x", big)
    assert info.value.reason_code == s.REASON_OVERSIZED
    with pytest.raises(ValueError):
        enc.encode("a\x00b", make(QUOTE))


VALID = s.encode(s.md_quote("AAPL"), make(QUOTE, s.md_quote("AAPL")))


def decode_only_wire_errors(frame: bytes) -> None:
    try:
        topic, env = s.decode(frame)
    except s.WireError as err:
        assert err.reason_code in {
            s.REASON_NO_SEPARATOR, s.REASON_OVERSIZED, s.REASON_MALFORMED,
            s.REASON_UNKNOWN_VERSION, s.REASON_UNKNOWN_TYPE,
        }  # fmt: skip
    else:
        assert isinstance(env, s.Envelope) and isinstance(topic, str)


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_STRUCTURED = settings(FUZZ, max_examples=100)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(frame: bytes) -> None:
    decode_only_wire_errors(frame)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_body_after_topic(data: bytes) -> None:
    decode_only_wire_errors(b"md.quote.AAPL\x00" + data)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6))
def test_fuzz_mutated_valid_frames(edits: list[tuple[int, int]]) -> None:
    frame = bytearray(VALID)
    for index, value in edits:
        frame[index] = value
    decode_only_wire_errors(bytes(frame))


INT64 = st.integers(-(2**63), 2**63 - 1)
SHORT_TEXT = st.text(max_size=8)
JSONISH = st.recursive(
    st.none() | st.booleans() | INT64 | st.floats() | SHORT_TEXT,
    lambda kids: st.lists(kids, max_size=9) | st.dictionaries(SHORT_TEXT, kids, max_size=5),
    max_leaves=20,
)
SCALAR = st.none() | INT64 | SHORT_TEXT
FIELD_VALUE = SCALAR | st.lists(SCALAR, max_size=3) | st.dictionaries(SHORT_TEXT, SCALAR, max_size=3)
FIELD_NAME = st.sampled_from(["symbol", "qty", "items", "intent", "side", "features", "x"])
PAYLOAD_LIKE = st.builds(
    lambda tag, fields: {**fields, "type": tag},
    st.sampled_from(sorted(s.MESSAGE_TYPES)) | SHORT_TEXT,
    st.dictionaries(FIELD_NAME, FIELD_VALUE),
)
ENVELOPE_LIKE = st.tuples(st.sampled_from([1, 2, -1, "1"]), st.lists(SCALAR, min_size=6, max_size=7), PAYLOAD_LIKE)


@FUZZ_STRUCTURED
@given(JSONISH)
def test_fuzz_structured_msgpack_bodies(obj: object) -> None:
    decode_only_wire_errors(b"t.x\x00" + msgspec.msgpack.encode(obj))


@FUZZ_STRUCTURED
@given(ENVELOPE_LIKE)
def test_fuzz_envelope_shaped_bodies(parts: tuple[object, list[object], dict[str, object]]) -> None:
    version, middle, payload = parts
    decode_only_wire_errors(b"t.x\x00" + msgspec.msgpack.encode([version, *middle, payload]))
