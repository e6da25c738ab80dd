"""CURVE on the bus (review S1): a peer without the system key never gets a message
through, on the order path (ROUTER/DEALER) and on the broadcast sockets (PUB/SUB), and
every refused handshake is counted; a peer with the key works as before."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import zmq

from pyrt.bus import schema as s
from pyrt.bus import security
from pyrt.bus.zmq import EPHEMERAL, ReplyServer, RequestClient, ZmqPublisher, ZmqSubscriber, wait_connected
from tests.support.deploy import wait_for

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def bus_key(tmp_path: Path) -> security.BusSecurity:
    return security.for_keys_dir(tmp_path / "data" / security.KEYS_DIRNAME)


@contextmanager
def echo_server(sec: security.BusSecurity) -> Iterator[tuple[str, list[s.Envelope]]]:
    """A secured ReplyServer answering every request with its payload; yields its endpoint
    and the requests it received."""
    server = ReplyServer(EPHEMERAL, server_id="engine", security=sec)
    received: list[s.Envelope] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            for identity, env in server.poll(20):
                received.append(env)
                server.reply(identity, env.payload, env.correlation_id)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.last_endpoint, received
    finally:
        stop.set()
        thread.join(5)
        server.close()


def refused(reason: str) -> int:
    return security.refusals[(security.SERVER, reason)]


def test_order_path_refuses_a_client_without_the_key_and_serves_one_with_it(bus_key: security.BusSecurity) -> None:
    order = s.Heartbeat("attacker", "an order 59% over the limit", 0)
    with echo_server(bus_key) as (endpoint, received):
        before = refused("protocol")
        with RequestClient(endpoint, timeout_ms=500, security=None) as plain:  # no CURVE at all
            with pytest.raises(s.RequestTimeout):
                plain.request(order)
            wait_for(lambda: refused("protocol") > before, 10, "plain client counted as refused")
        assert received == []

        with RequestClient(endpoint, timeout_ms=5000, security=bus_key) as client:
            reply = client.request(s.Heartbeat("risk", "ok", 0))
        assert reply.payload == s.Heartbeat("risk", "ok", 0)
        assert [env.payload for env in received] == [s.Heartbeat("risk", "ok", 0)]


def test_a_curve_client_with_its_own_key_pair_is_refused_by_the_zap_handler(bus_key: security.BusSecurity) -> None:
    """An attacker who read the public key (bus.key) and speaks CURVE with a key pair of
    its own: the handshake reaches the ZAP handler, which does not know its key."""
    public, secret = zmq.curve_keypair()
    with echo_server(bus_key) as (endpoint, received):
        before = refused("unknown_key")
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.curve_serverkey = bus_key.public
        sock.curve_publickey, sock.curve_secretkey = public, secret
        sock.connect(endpoint)
        try:
            frame = s.FrameEncoder().encode("req.x", s.EnvelopeFactory("x").make("req.x", s.Heartbeat("x", "y", 0)))
            try:  # queued, never delivered: the handshake fails (once it has, there is no
                # peer left to queue for and a blocking send would wait for ever)
                sock.send(frame, zmq.NOBLOCK)
            except zmq.Again:
                pass
            wait_for(lambda: refused("unknown_key") > before, 10, "ZAP refusal counted")
            assert not sock.poll(300, zmq.POLLIN)
        finally:
            sock.close(0)
        assert received == []


def test_broadcast_reaches_only_subscribers_with_the_key(bus_key: security.BusSecurity) -> None:
    with ZmqPublisher(EPHEMERAL, publisher_id="execution_engine", security=bus_key) as pub:
        before = refused("protocol")
        with (
            ZmqSubscriber(pub.last_endpoint, [""], security=None) as eavesdropper,
            ZmqSubscriber(pub.last_endpoint, [""], security=bus_key) as risk,
        ):
            wait_connected(pub, risk)
            wait_for(lambda: refused("protocol") > before, 10, "plain subscriber counted as refused")
            pub.publish(s.risk_state(), s.RiskState("ACTIVE", "", False, Decimal(0)))
            got = []
            wait_for(lambda: got.extend(risk.recv_batch(50)) or got, 5, "report to the keyed subscriber")
            assert [topic for topic, _ in got] == [s.risk_state()]
            assert eavesdropper.recv_batch(300) == []


def test_listeners_hear_every_refusal(bus_key: security.BusSecurity) -> None:
    heard: list[tuple[str, str, str]] = []
    listener = lambda side, reason, endpoint: heard.append((side, reason, endpoint))  # noqa: E731
    security.add_refusal_listener(listener)
    try:
        with echo_server(bus_key) as (endpoint, _), RequestClient(endpoint, timeout_ms=200, security=None) as plain:
            with pytest.raises(s.RequestTimeout):
                plain.request(s.Heartbeat("x", "y", 0))
            wait_for(lambda: (security.SERVER, "protocol", endpoint) in heard, 10, "listener called")
    finally:
        security.remove_refusal_listener(listener)


def test_process_default_secures_sockets_created_without_a_security_argument(bus_key: security.BusSecurity) -> None:
    security.activate(bus_key)
    try:
        with ReplyServer(EPHEMERAL) as server, RequestClient(server.last_endpoint) as client:
            assert server.security is bus_key and client.security is bus_key
            assert server.socket.curve_server
    finally:
        security.deactivate(bus_key)
    with ReplyServer(EPHEMERAL) as plain:
        assert plain.security is None
