"""The in-memory bus behaves like the zmq one: prefixes, tracking, drops, request/reply."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from pyrt.bus import schema as s
from pyrt.bus.inproc import InprocBus
from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide
from pyrt.domain.intents import OrderIntent, RiskDecision
from pyrt.domain.market import Quote


def quote(symbol: str, ts: int = 1) -> s.QuoteMsg:
    return s.QuoteMsg(symbol, 1.0, 1.0, 2.0, 1.0, ts)


def test_prefix_and_exact_subscriptions() -> None:
    bus = InprocBus()
    pub = bus.publisher("md", clock=ManualClock())
    all_md = bus.subscriber([s.MD_PREFIX])
    only_a = bus.subscriber([s.exact(s.md_quote("A"))])
    prefix_a = bus.subscriber([s.md_quote("A")])
    pub.publish(s.md_quote("A"), quote("A"))
    pub.publish(s.md_quote("AAPL"), quote("AAPL"))
    pub.publish(s.risk_state(), s.RiskState("ACTIVE", "", False, Decimal(0)))
    assert [t for t, _ in all_md.recv_batch()] == ["md.quote.A", "md.quote.AAPL"]
    assert [t for t, _ in only_a.recv_batch()] == ["md.quote.A"]
    assert [t for t, _ in prefix_a.recv_batch()] == ["md.quote.A", "md.quote.AAPL"]
    assert all_md.recv_batch() == []


def test_quote_fast_path_and_domain_quotes() -> None:
    bus = InprocBus()
    sub = bus.subscriber([s.MD_QUOTE_PREFIX])
    pub = bus.publisher("md")
    env = pub.publish_quote(Quote("MSFT", 1.0, 2.0, 3.0, 4.0, 99))
    topic, got = sub.recv_batch()[0]
    assert topic == "md.quote.MSFT" and got == env and got.ts_event == 99
    assert isinstance(got.payload, s.QuoteMsg)
    assert got.payload.to_domain() == Quote("MSFT", 1.0, 2.0, 3.0, 4.0, 99)


def test_drain_dispatches_chains_of_handlers() -> None:
    bus = InprocBus()
    md = bus.publisher("md")
    sig = bus.publisher("signals")
    seen: list[str] = []

    def on_quote(topic: str, env: s.Envelope) -> None:
        assert isinstance(env.payload, s.QuoteMsg)
        sym = env.payload.symbol
        sig.publish(s.signal("momo", sym), s.Signal("momo", sym, "long", 1.0, 0))

    bus.subscriber([s.MD_PREFIX], on_quote)
    bus.subscriber([s.SIGNAL_PREFIX], lambda topic, env: seen.append(topic))
    for sym in ("A", "B"):
        md.publish_quote(quote(sym))
    assert bus.drain() == 4
    assert seen == ["sig.momo.A", "sig.momo.B"]


def test_garbage_is_dropped_and_counted_while_valid_frames_flow() -> None:
    bus = InprocBus(max_frame_bytes=1024)
    sub = bus.subscriber([""])
    pub = bus.publisher("md")
    pub.publish_quote(quote("A"))
    for bad in (b"md.x\x00\x01\x02", b"junk", b"md." + b"x" * 2000):
        pub.publish_raw(bad)
    pub.publish_quote(quote("A"))
    assert [e.seq for _, e in sub.recv_batch()] == [1, 2]
    assert sub.dropped == {"malformed": 1, "no_separator": 1, "oversized": 1}


def test_high_water_mark_loss_shows_up_as_a_gap() -> None:
    bus = InprocBus()
    gaps: list[s.GapInfo] = []
    sub = bus.subscriber([s.MD_PREFIX], on_gap=gaps.append, rcvhwm=3)
    pub = bus.publisher("md")
    for _ in range(5):
        pub.publish_quote(quote("A"))  # seq 4 and 5 fall on the floor
    assert len(sub.recv_batch()) == 3
    pub.publish_quote(quote("A"))
    assert [e.seq for _, e in sub.recv_batch()] == [6]
    assert [(g.kind, g.expected, g.missing) for g in gaps] == [("gap", 4, 2)]


def test_publisher_restart_is_detected() -> None:
    bus = InprocBus()
    gaps: list[s.GapInfo] = []
    sub = bus.subscriber([""], on_gap=gaps.append)
    bus.publisher("md", epoch=1).publish_quote(quote("A"))
    bus.publisher("md", epoch=2).publish_quote(quote("A"))
    assert len(sub.recv_batch()) == 2
    assert [g.kind for g in gaps] == ["restart"] and sub.tracker.gaps == 0


INTENT = OrderIntent(intent_id="i1", strategy="m", symbol="A", side=OrderSide.BUY, qty=Decimal(1))


def test_request_reply() -> None:
    bus = InprocBus()

    def decide(env: s.Envelope) -> s.RiskDecisionMsg | None:
        assert isinstance(env.payload, s.OrderIntentMsg)
        intent = env.payload.intent
        if intent.intent_id == "lost":
            return None
        decision = RiskDecision(intent_id=intent.intent_id, approved=True, reason_code="OK")
        return s.RiskDecisionMsg(decision)

    with bus.reply_server("risk", decide) as server, bus.request_client("risk", 50) as client:
        reply = client.request(s.OrderIntentMsg(INTENT), correlation_id="c1")
        assert reply.correlation_id == "c1"
        assert isinstance(reply.payload, s.RiskDecisionMsg) and reply.payload.decision.approved
        assert client.request(s.OrderIntentMsg(INTENT)).correlation_id  # generated id
        lost = s.OrderIntentMsg(msgspec.structs.replace(INTENT, intent_id="lost"))
        with pytest.raises(s.RequestTimeout) as info:
            client.request(lost, correlation_id="c3")
        assert info.value.correlation_id == "c3" and info.value.timeout_ms == 50
        assert server.handled == 3
    with bus.request_client("risk") as client, pytest.raises(s.RequestTimeout):
        client.request(s.Heartbeat("x", "ok", 0))  # server closed: nobody answers


def test_close_unregisters_and_refuses_use() -> None:
    bus = InprocBus()
    pub = bus.publisher("md")
    with bus.subscriber([""]) as sub:
        pass
    pub.publish_quote(quote("A"))
    with pytest.raises(RuntimeError):
        sub.recv_batch()
    pub.close()
    with pytest.raises(RuntimeError):
        pub.publish_quote(quote("A"))
    with pytest.raises(RuntimeError):
        bus.subscriber([""]).poll()  # no handler
