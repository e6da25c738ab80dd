"""Fuzz the bus decoder: every frame a subscriber receives goes through
`FrameIntake.accept` (FrameDecoder: topic, separator, msgspec Envelope with its tagged
payload union). Inputs are valid frames of every payload type, then the same frames with
msgpack-level field edits (type swaps, unknown tags, wrong versions, dropped keys), byte
edits, truncations, bad topics, probes, oversized frames and random bytes.

Pass: `accept` never raises; it returns a message, or None with `dropped` counting the
frame (or the frame was a probe); an accepted envelope re-encodes and decodes to the same
bytes (nothing a decoder lets through is unusable downstream)."""

from __future__ import annotations

import random
from typing import Any

import msgspec
from hypothesis import strategies as st

from pyrt.bus import schema as s
from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent, RiskDecision
from tests.fuzz.harness import fuzz
from tests.fuzz.mutate import mutate_bytes, mutate_value, nasty

text = st.text(max_size=10)
sym = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ.", min_size=1, max_size=6)
num = st.floats(allow_nan=False, allow_infinity=False, width=64)
i64 = st.integers(-(2**63), 2**63 - 1)
dec = st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12)

intents = st.builds(
    OrderIntent, intent_id=text, strategy=text, symbol=sym, side=st.sampled_from(OrderSide),
    qty=dec, order_type=st.sampled_from(OrderType), time_in_force=st.sampled_from(TimeInForce),
    limit_price=st.none() | dec, stop_price=st.none() | dec, ts_ns=i64, reason=text,
)  # fmt: skip

items = st.one_of(
    st.builds(s.QuoteMsg, sym, num, num, num, num, i64),
    st.builds(s.TradeMsg, sym, num, num, i64, i64),
    st.builds(s.BarMsg, sym, num, num, num, num, num, i64, i64, num),
    st.builds(s.SymbolStatus, sym, st.booleans(), text),
    st.builds(s.Signal, text, sym, st.sampled_from(["long", "short", "flat"]), num, i64,
              st.dictionaries(text, num, max_size=3)),
    st.builds(s.OrderIntentMsg, intents),
    st.builds(s.RiskDecisionMsg, st.builds(RiskDecision, intent_id=text, approved=st.booleans(),
                                           reason_code=text, message=text, ts_ns=i64)),
    st.builds(s.ExecutionReport, client_order_id=text, broker_order_id=text, symbol=sym,
              side=st.sampled_from(OrderSide), event=text, status=text, qty=dec, filled_qty=dec,
              fill_qty=st.none() | dec, fill_price=st.none() | dec, position_qty=st.none() | dec),
    st.builds(s.PositionUpdate, sym, dec, dec, dec, dec, dec),
    st.builds(s.PnLUpdate, dec, dec, dec, dec),
    st.builds(s.RiskState, st.sampled_from(["ACTIVE", "REDUCING", "HALTED"]), text, st.booleans(), dec),
    st.builds(s.Heartbeat, text, text, i64),
    st.builds(s.OrderAck, intent_id=text, client_order_id=text, accepted=st.booleans(), reason_code=text),
    st.builds(s.IntegrityAlert, text, sym, text),
    st.builds(s.ControlCommand, text, st.dictionaries(text, text, max_size=3), text, text),
    st.builds(s.ControlResult, st.booleans(), text,
              st.dictionaries(text, i64 | text | st.none() | num, max_size=3)),
)  # fmt: skip
payloads = (
    items
    | st.builds(s.SnapshotRequest, text, text, text)
    | st.builds(s.Snapshot, text, st.lists(items, max_size=3), text, i64, st.dictionaries(text, i64, max_size=3))
)
topics = st.sampled_from(["md.quote.AAPL", "md.trade.MSFT", "exec.report.momo", "risk.state", "hb.risk",
                          "req.signals", "rep.signals", "exec.pnl", "sig.momo.SPY"])  # fmt: skip
envelopes = st.builds(s.Envelope, st.just(s.SCHEMA_VERSION), text, i64, st.integers(1, 2**40), i64, i64, text, payloads)
frames = st.lists(st.tuples(topics, envelopes), min_size=1, max_size=4)

ENCODER = s.FrameEncoder(max_frame_bytes=1 << 30)
WIRE_TAGS = [*s.MESSAGE_TYPES, "nope", "", "QUOTE"]


def _structural(body: bytes, rng: random.Random) -> bytes:
    """Decode the envelope generically, edit fields, re-encode as msgpack."""
    raw = msgspec.msgpack.decode(body)
    op = rng.randrange(6)
    if op == 0 and isinstance(raw, list) and len(raw) == 8 and isinstance(raw[7], dict):
        raw[7]["type"] = rng.choice(WIRE_TAGS)  # another (or no) payload type for these fields
    elif op == 1 and isinstance(raw, list) and raw:
        raw[0] = rng.choice([0, 2, -1, 2**64 - 1, "1", None, 1.0])  # version
    elif op == 2 and isinstance(raw, list):
        raw = raw[: rng.randrange(len(raw) + 1)] if rng.random() < 0.5 else [*raw, nasty(rng)]
    else:
        raw = mutate_value(raw, rng)
    try:
        return msgspec.msgpack.encode(raw)
    except (TypeError, OverflowError, ValueError):
        return body


def expand(recipe: list[tuple[str, s.Envelope]], rng: random.Random, n: int) -> Any:
    valid = [ENCODER.encode(topic, env) for topic, env in recipe]
    for _ in range(n):
        frame = rng.choice(valid)
        topic, _, body = frame.partition(s.SEPARATOR)
        op = rng.randrange(20)
        if op < 2:
            yield frame
        elif op < 10:
            yield topic + s.SEPARATOR + _structural(body, rng)
        elif op < 15:
            yield topic + s.SEPARATOR + mutate_bytes(body, rng)
        elif op == 15:
            yield mutate_bytes(frame, rng)  # the topic and separator too
        elif op == 16:
            yield (
                rng.choice([b"", b"\xff\xfe", b"_probe.x", s.PROBE_PREFIX.encode() + b"abc", b" "]) + s.SEPARATOR + body
            )
        elif op == 17:
            yield frame.replace(s.SEPARATOR, b"", 1) if rng.random() < 0.5 else frame[: rng.randrange(len(frame))]
        elif op == 18:
            yield (
                frame + rng.randbytes(s.DEFAULT_MAX_FRAME_BYTES)
                if rng.random() < 0.02
                else rng.randbytes(rng.randint(0, 64))
            )
        else:
            yield topic + s.SEPARATOR + rng.randbytes(rng.randint(0, 40))


class BusCheck:
    """FrameIntake.accept on one frame, with the counter and round-trip checks."""

    def __init__(self) -> None:
        self.intake = s.FrameIntake()
        self.decode = s.FrameDecoder(max_frame_bytes=1 << 30).decode

    def __call__(self, frame: bytes) -> bool:
        intake = self.intake
        intake.tracker = s.SeqTracker()  # each input is news: a repeat is not a dropped duplicate
        before = sum(intake.dropped.values())
        got = intake.accept(frame)
        if got is None:
            if sum(intake.dropped.values()) == before + 1:
                return False
            topic = frame.partition(s.SEPARATOR)[0].decode("utf-8", "replace")
            assert topic.startswith(s.PROBE_PREFIX) and topic in intake.probes_seen, "dropped without counting"
            return True
        topic, env = got
        assert isinstance(env, s.Envelope) and env.version == s.SCHEMA_VERSION
        assert type(env.payload) in s.MESSAGE_TYPES.values()
        again = ENCODER.encode(topic, env)
        topic2, env2 = self.decode(again)
        assert topic2 == topic and ENCODER.encode(topic2, env2) == again, "accepted envelope does not round-trip"
        return True


def test_fuzz_bus_frames() -> None:
    fuzz("bus frame (FrameIntake.accept)", frames, expand, BusCheck())


def test_fuzz_bus_unmutated_frames_are_all_accepted() -> None:
    """The generator's valid frames all decode, so the mutations start from deep inputs."""
    tally = fuzz("bus frame, unmutated (sanity)", frames,
                 lambda recipe, rng, n: (ENCODER.encode(t, e) for t, e in rng.choices(recipe, k=n)), BusCheck(), total=300)  # fmt: skip
    assert tally.accepted == 300
