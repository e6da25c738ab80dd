"""The zmq transport over real tcp loopback on ephemeral ports."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from pyrt.bus import schema as s
from pyrt.bus.zmq import (
    EPHEMERAL,
    ReplyServer,
    RequestClient,
    ZmqPublisher,
    ZmqSubscriber,
    bind_ephemeral,
    wait_connected,
)
from pyrt.domain.clock import ManualClock

pytestmark = pytest.mark.timeout(30)


def quote(symbol: str, ts: int = 1) -> s.QuoteMsg:
    return s.QuoteMsg(symbol, 10.0, 1.0, 10.5, 2.0, ts)


def collect(sub: ZmqSubscriber, count: int, timeout_s: float = 5.0) -> list[tuple[str, s.Envelope]]:
    """Receive until ``count`` messages arrived or the deadline passed."""
    got: list[tuple[str, s.Envelope]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < count and time.monotonic() < deadline:
        got += sub.recv_batch(20)
    return got


@contextmanager
def pubsub(prefixes: list[str], **sub_kw: Any) -> Iterator[tuple[ZmqPublisher, ZmqSubscriber]]:
    with ZmqPublisher(EPHEMERAL, publisher_id="md") as pub:
        with ZmqSubscriber(pub.last_endpoint, prefixes, **sub_kw) as sub:
            wait_connected(pub, sub)
            yield pub, sub


def test_pubsub_delivers_in_order_and_filters_by_prefix() -> None:
    with pubsub([s.MD_QUOTE_PREFIX]) as (pub, sub):
        assert pub.last_endpoint.startswith("tcp://127.0.0.1:")
        for i in range(500):
            pub.publish_quote(quote("AAPL" if i % 2 else "MSFT", i))
            pub.publish(s.risk_state(), s.RiskState("ACTIVE", "", False, Decimal(0)))
        got = collect(sub, 500)
    assert len(got) == 500
    assert {t for t, _ in got} == {"md.quote.AAPL", "md.quote.MSFT"}
    assert [e.seq for t, e in got if t == "md.quote.AAPL"] == list(range(1, 251))
    assert [e.payload.ts_ns for _, e in got] == list(range(500))  # type: ignore[union-attr]
    assert sub.dropped == {} and sub.tracker.gaps == 0


def test_conflating_subscriber_keeps_only_the_newest_frame_per_topic() -> None:
    with pubsub([s.MD_QUOTE_PREFIX], conflate=True) as (pub, sub):
        for i in range(300):
            pub.publish_quote(quote("AAPL" if i % 3 else "MSFT", i))
        last_sent = pub.publish_quote(quote("AAPL", 999))
        deadline = time.monotonic() + 5
        latest: dict[str, int] = {}
        while latest.get("md.quote.AAPL") != 999 and time.monotonic() < deadline:
            for topic, env in sub.recv_batch(20):
                latest[topic] = env.payload.ts_ns  # type: ignore[union-attr]
    assert latest == {"md.quote.AAPL": 999, "md.quote.MSFT": 297}
    assert last_sent.seq == 201
    assert sub.superseded > 0 and sub.tracker.gaps == 0 and sub.dropped == {}


def test_gaps_duplicates_and_restarts_are_counted() -> None:
    gaps: list[s.GapInfo] = []
    topic = s.md_quote("AAPL")
    with pubsub([s.MD_PREFIX], on_gap=gaps.append) as (pub, sub):
        first = s.EnvelopeFactory("feed", epoch=1)
        frames = [s.encode(topic, first.make(topic, quote("AAPL"))) for _ in range(5)]
        for frame in (frames[0], frames[1], frames[4], frames[4]):  # lose 3 and 4, repeat 5
            pub.publish_raw(frame)
        restarted = s.EnvelopeFactory("feed", epoch=2)
        pub.publish_raw(s.encode(topic, restarted.make(topic, quote("AAPL"))))
        got = collect(sub, 4)
        assert [(e.epoch, e.seq) for _, e in got] == [(1, 1), (1, 2), (1, 5), (2, 1)]
        assert [(g.kind, g.missing) for g in gaps] == [("gap", 2), ("restart", 0)]
        assert sub.tracker.stats()["missing"] == 2
        assert sub.dropped == {"duplicate": 1}


def test_bad_frames_are_dropped_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    good = s.EnvelopeFactory("feed", epoch=1)
    topic = s.md_quote("AAPL")
    template = s.EnvelopeFactory("other", epoch=1).make(topic, quote("X"))
    body = msgspec.msgpack.decode(s.encode(topic, template).partition(b"\0")[2])
    unknown_version = b"md.q\x00" + msgspec.msgpack.encode([9, *body[1:]])
    unknown_type = b"md.q\x00" + msgspec.msgpack.encode([*body[:7], {"type": "nope"}])
    garbage = [b"md.no separator", b"md.q\x00\xc1\xc1", b"md." + b"x" * 5000]
    bad = [*garbage, unknown_version, unknown_type]
    with caplog.at_level(logging.WARNING, logger="pyrt.bus"):
        with pubsub([s.MD_PREFIX], max_frame_bytes=4096) as (pub, sub):
            for frame in bad:
                pub.publish_raw(s.encode(topic, good.make(topic, quote("AAPL"))))
                pub.publish_raw(frame)
            pub.publish_raw(s.encode(topic, good.make(topic, quote("AAPL"))))
            got = collect(sub, 6)
    assert [e.seq for _, e in got] == [1, 2, 3, 4, 5, 6]
    assert sub.dropped == {
        "no_separator": 1, "malformed": 1, "oversized": 1, "unknown_version": 1, "unknown_type": 1,
    }  # fmt: skip
    assert s.frame_hash(bad[1]) in caplog.text


def test_subscriber_survives_random_garbage() -> None:
    rng = random.Random(7)
    sent_quotes = 0
    with pubsub([""]) as (pub, sub):
        for _ in range(300):
            pub.publish_raw(rng.randbytes(rng.randrange(0, 200)))
            if rng.random() < 0.1:
                pub.publish_quote(quote("AAPL"))
                sent_quotes += 1
        pub.publish(s.md_status("END"), s.SymbolStatus("END", False))  # same socket: arrives last
        got: list[tuple[str, s.Envelope]] = []
        deadline = time.monotonic() + 5
        while not any(t == "md.status.END" for t, _ in got) and time.monotonic() < deadline:
            got += sub.recv_batch(20)
    quotes = [e.seq for t, e in got if t == "md.quote.AAPL"]
    assert sent_quotes > 0 and quotes == list(range(1, sent_quotes + 1))
    assert sum(sub.dropped.values()) == 300


@contextmanager
def serving(server: ReplyServer, handler: Callable[[s.Envelope], Any]) -> Iterator[None]:
    """Run ``server.serve(handler)`` in a thread until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            server.serve(handler, 10)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def echo(env: s.Envelope) -> s.Heartbeat:
    return s.Heartbeat("risk", f"echo {env.correlation_id}", env.ts_init)


def test_request_reply_round_trip() -> None:
    with ReplyServer(EPHEMERAL, server_id="risk") as server:
        with RequestClient(server.last_endpoint, 2000, client_id="sig") as client:
            with serving(server, echo):
                replies = [client.request(s.Heartbeat("sig", "ok", i), f"c{i}") for i in range(20)]
    assert [r.correlation_id for r in replies] == [f"c{i}" for i in range(20)]
    for i, reply in enumerate(replies):
        assert reply.publisher == "risk"
        assert isinstance(reply.payload, s.Heartbeat) and reply.payload.status == f"echo c{i}"


def test_timeout_then_late_reply_is_discarded() -> None:
    with ReplyServer(EPHEMERAL) as server, RequestClient(server.last_endpoint, 300) as client:
        started = time.monotonic()
        with pytest.raises(s.RequestTimeout) as info:
            client.request(s.Heartbeat("sig", "ok", 0), "c1")
        assert 0.29 <= time.monotonic() - started < 3.0
        assert info.value.correlation_id == "c1"
        [(identity, env)] = server.poll(2000)
        assert env.correlation_id == "c1"
        assert server.reply(identity, echo(env), env.correlation_id)  # too late
        with serving(server, echo):
            reply = client.request(s.Heartbeat("sig", "ok", 1), "c2", timeout_ms=3000)
        assert reply.correlation_id == "c2"
        assert client.dropped == {"late_reply": 1}


def test_server_drops_malformed_and_stale_requests_and_keeps_serving() -> None:
    now = 1_700_000_000_000_000_000
    with ReplyServer(EPHEMERAL, clock=ManualClock(now), max_request_age_ms=1000) as server:
        endpoint = server.last_endpoint
        with RequestClient(endpoint, 3000, clock=ManualClock(now)) as client:
            stale = RequestClient(endpoint, 300, clock=ManualClock(now - 5 * 10**9))
            with stale, serving(server, echo):
                client.send_raw(b"garbage")
                client.send_raw(b"req.x\x00\x93\x01")
                with pytest.raises(s.RequestTimeout):
                    stale.request(s.Heartbeat("old", "ok", 0), "old")
                fresh = client.request(s.Heartbeat("sig", "ok", 0), "fresh")
                assert fresh.correlation_id == "fresh"
                deadline = time.monotonic() + 5
                while "stale" not in server.dropped and time.monotonic() < deadline:
                    time.sleep(0.005)  # polling a condition with a deadline
    assert server.dropped == {"no_separator": 1, "malformed": 1, "stale": 1}


def test_request_without_a_server_times_out() -> None:
    with RequestClient(bind_ephemeral_endpoint(), 100) as client, pytest.raises(s.RequestTimeout):
        client.request(s.Heartbeat("sig", "ok", 0))


def bind_ephemeral_endpoint() -> str:
    endpoint = bind_ephemeral("router")
    assert endpoint.startswith("tcp://127.0.0.1:")
    return endpoint


def test_wait_connected_gives_up_at_its_deadline() -> None:
    with ZmqPublisher(EPHEMERAL) as pub, ZmqSubscriber(bind_ephemeral_endpoint(), [""]) as sub:
        with pytest.raises(TimeoutError):
            wait_connected(pub, sub, timeout_s=0.2)


def test_reply_to_a_client_that_left_is_counted_not_raised() -> None:
    with ReplyServer(EPHEMERAL) as server:
        with RequestClient(server.last_endpoint, 200) as client, pytest.raises(s.RequestTimeout):
            client.request(s.Heartbeat("sig", "ok", 0), "gone")
        [(identity, env)] = server.poll(2000)
        deadline = time.monotonic() + 5
        while server.reply(identity, echo(env), env.correlation_id):
            assert time.monotonic() < deadline, "ROUTER never noticed the client left"
            time.sleep(0.01)  # polling a condition with a deadline
        assert server.dropped == {"unroutable": 1}
