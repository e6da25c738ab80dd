"""The market-data service against the sim broker: quotes on the bus, staleness,
reconnects, reload, malformed input, the bar cache."""

from __future__ import annotations

import json
import time
from pathlib import Path

import msgpack
import pytest

from pyrt.bus.schema import BarMsg, Heartbeat, QuoteMsg, SymbolStatus, md_bar, md_quote, md_status
from pyrt.bus.zmq import ZmqSubscriber
from tests.support.deploy import make_deployment, wait_for

from .conftest import FAST, ServiceThread, Sim, wait_msg

ERRORS_MALFORMED = 'trading_errors_total{kind="malformed_feed",service="market_data"}'


def test_an_injected_quote_reaches_the_bus_with_its_prices(md: ServiceThread, sim: Sim, sub: ZmqSubscriber):
    sim.admin("POST", "/admin/market", {"paused": True})
    sent_ns = time.time_ns()
    sim.quote("MSFT", 321.5, 321.75, 700, 300)
    _topic, env = wait_msg(sub, lambda t, e: t == md_quote("MSFT") and e.payload.bid_price == 321.5)
    q = env.payload
    assert isinstance(q, QuoteMsg)
    assert (q.symbol, q.bid_price, q.ask_price, q.bid_size, q.ask_size) == ("MSFT", 321.5, 321.75, 700.0, 300.0)
    assert env.publisher == "market_data" and env.ts_event == q.ts_ns
    assert sent_ns <= q.ts_ns <= env.ts_init <= time.time_ns()  # ts_init: when we received it

    text = md.raw_metrics()
    assert "market_data_websocket_connected 1" in text  # the guide's health check
    m = md.metrics()
    assert m["market_data_symbols"] == 3
    assert m['market_data_messages_received_total{type="quote"}'] >= 1
    assert m['trading_messages_processed_total{service="market_data"}'] >= 1
    assert m["market_data_latency_seconds_count"] >= 1 and m["trading_processing_latency_seconds_count"] >= 1
    wait_msg(sub, lambda t, e: isinstance(e.payload, Heartbeat) and e.payload.service == "market_data", 3)


def test_a_paused_market_goes_stale_and_fresh_again(md: ServiceThread, sim: Sim, sub: ZmqSubscriber):
    wait_for(lambda: not md.svc.staleness.is_stale("AAPL"), 5, "AAPL fresh")
    sim.admin("POST", "/admin/market", {"paused": True})
    _t, env = wait_msg(sub, lambda t, e: t == md_status("AAPL") and e.payload.stale, 5, "stale status")
    assert env.payload.reason.startswith("no quote for")
    assert "market data stale symbol=AAPL" in md.log_text()
    with ZmqSubscriber(md.svc.publisher.last_endpoint, ["md.status."]) as late:  # a late joiner learns all
        seen: set[str] = set()
        wait_msg(late, lambda t, e: seen.add(e.payload.symbol) or seen == {"AAPL", "MSFT", "GOOGL"}, 5)
    sim.admin("POST", "/admin/market", {"paused": False})
    wait_msg(sub, lambda t, e: t == md_status("AAPL") and not e.payload.stale, 5, "fresh status")


def test_a_dropped_connection_reconnects_and_quotes_flow_again(
    md: ServiceThread, sim: Sim, sub: ZmqSubscriber, monkeypatch: pytest.MonkeyPatch
):
    gauge = md.svc.metrics.websocket_connected
    values: list[float] = []
    original = gauge.set
    monkeypatch.setattr(gauge, "set", lambda v: (values.append(v), original(v)))
    assert sim.admin("POST", "/admin/disconnect", {"stream": "data"})["closed"] == 1
    wait_for(lambda: 0 in values and 1 in values[values.index(0) :], 5, "gauge 0 then 1")
    assert md.metrics()['market_data_websocket_reconnects_total{reason="closed"}'] >= 1
    assert "market_data_websocket_connected 1" in md.raw_metrics()
    log = md.log_text()
    assert "websocket disconnected reason=closed" in log and log.count("websocket connected") >= 2
    sim.admin("POST", "/admin/market", {"paused": True})
    sim.quote("AAPL", 77.25, 77.5)
    wait_msg(sub, lambda t, e: t == md_quote("AAPL") and e.payload.bid_price == 77.25, 5, "quote after reconnect")


def test_a_mute_socket_is_detected_and_replaced(tmp_path: Path, sim: Sim, config_dir: Path):
    md = ServiceThread(config_dir, idle_timeout_s=0.4).start()
    try:
        sim.admin("POST", "/admin/faults", {"data_stream": {"stall_seconds": 1.5}})
        wait_for(lambda: md.metrics().get('market_data_websocket_reconnects_total{reason="data_timeout"}', 0) >= 1,
                 5, "idle reconnect")  # fmt: skip
        assert "websocket idle" in md.log_text()
        wait_for(lambda: md.svc.connected and not md.svc.staleness.is_stale("AAPL"), 10, "data again")
    finally:
        assert md.stop() == 0


def test_reload_subscribes_new_symbols_and_drops_removed_ones(md: ServiceThread, sim: Sim, sub: ZmqSubscriber,
                                                              config_dir: Path):  # fmt: skip
    path = config_dir / "system.json"
    cfg = json.loads(path.read_text())
    cfg["market_data"]["symbols"] = ["AAPL", "GOOGL", "NVDA"]
    path.write_text(json.dumps(cfg))
    assert md.rt is not None
    md.rt.reload_event.set()
    wait_for(lambda: sim.subscribed_quotes() == {"AAPL", "GOOGL", "NVDA"}, 5, "sim subscription updated")
    wait_msg(sub, lambda t, e: e.payload == SymbolStatus("MSFT", True, "unsubscribed"), 5)
    sim.admin("POST", "/admin/market", {"paused": True})
    sim.quote("NVDA", 450.0, 450.5)
    wait_msg(sub, lambda t, e: t == md_quote("NVDA") and e.payload.bid_price == 450.0, 5, "NVDA quote")
    assert md.metrics()["market_data_symbols"] == 3 and md.svc.symbols == {"AAPL", "GOOGL", "NVDA"}

    path.write_text("{ not json")  # an invalid config keeps the running one
    md.rt.reload_event.set()
    wait_for(lambda: md.metrics().get('config_reload_total{status="failed"}') == 1, 5, "reload rejected")
    assert md.svc.symbols == {"AAPL", "GOOGL", "NVDA"}


def test_malformed_feed_input_is_counted_and_survived(md: ServiceThread, sub: ZmqSubscriber):
    ts = msgpack.Timestamp.from_unix_nano(time.time_ns())
    good = {"T": "q", "S": "AAPL", "bp": 11.0, "bs": 1, "ap": 11.5, "as": 1, "t": ts}
    frames = [
        b"\xc1 not msgpack",
        msgpack.packb([{"T": "q", "S": "AAPL", "bp": "eleven", "as": 1, "t": ts}, good]),
        msgpack.packb([{"T": "t", "S": "AAPL", "p": 1.0}, 42, "x"]),
    ]
    for frame in frames:
        md.on_loop(md.svc.on_frame, frame, time.time_ns())
    wait_msg(sub, lambda t, e: t == md_quote("AAPL") and e.payload.bid_price == 11.0, 5, "the good quote")
    assert md.metrics()[ERRORS_MALFORMED] == 5
    assert "malformed feed" in md.log_text()
    assert md.svc.connected


def test_bars_are_published_cached_on_stop_and_loaded_at_start(sim: Sim, config_dir: Path):
    md = ServiceThread(config_dir).start()
    cache = md.svc.cache_dir / "AAPL.json"
    with ZmqSubscriber(md.svc.publisher.last_endpoint, ["md.", "hb."]) as sub:
        wait_msg(sub, lambda t, e: True)
        bar = {"T": "b", "S": "AAPL", "o": 10.0, "h": 12.0, "l": 9.5, "c": 11.0, "v": 1000, "n": 12, "vw": 10.8,
               "t": msgpack.Timestamp.from_unix_nano(1_700_000_040_000_000_000)}  # fmt: skip
        md.on_loop(md.svc.on_frame, msgpack.packb([bar]), time.time_ns())
        _t, env = wait_msg(sub, lambda t, e: t == md_bar("AAPL"), 5, "bar")
    expected = BarMsg("AAPL", 10.0, 12.0, 9.5, 11.0, 1000.0, 1_700_000_040_000_000_000, 12, 10.8)
    assert env.payload == expected
    assert md.stop() == 0
    assert expected in [BarMsg(**{k: v for k, v in b.items() if k != "type"}) for b in json.loads(cache.read_text())]
    again = ServiceThread(config_dir).start()
    try:
        assert again.svc.bars.bars("AAPL")[-1] == expected
    finally:
        assert again.stop() == 0


def test_bars_missed_while_away_are_filled_in_order_after_a_reconnect(sim: Sim, tmp_path: Path):
    """AMD is subscribed but the sim streams no quotes for it, so its only bars are the one
    seeded here and the gap fill: the REST answer must arrive in order, newest bars_to_keep
    of them, strictly after the seeded bar, each once."""
    system = json.loads(json.dumps(FAST))
    system["market_data"]["symbols"] = [*FAST["market_data"]["symbols"], "AMD"]
    system["market_data"]["bars_to_keep"] = 40
    md = ServiceThread(make_deployment(tmp_path / "gap", sim_url=sim.url, system=system)).start()
    try:
        with ZmqSubscriber(md.svc.publisher.last_endpoint, [md_bar("AMD"), "hb."]) as sub:
            wait_msg(sub, lambda t, e: isinstance(e.payload, Heartbeat), 5, "heartbeat")  # the subscriber hears
            wait_for(lambda: md.svc.connected, 5, "connected")
            seeded_ns = time.time_ns() - 30 * 86_400 * 10**9  # a month ago: far more than 40 session minutes
            seeded_ns -= seeded_ns % 60_000_000_000
            bar = {"T": "b", "S": "AMD", "o": 10.0, "h": 12.0, "l": 9.5, "c": 11.0, "v": 1000, "n": 12, "vw": 10.8,
                   "t": msgpack.Timestamp.from_unix_nano(seeded_ns)}  # fmt: skip
            md.on_loop(md.svc.on_frame, msgpack.packb([bar]), time.time_ns())
            wait_msg(sub, lambda t, e: e.payload.ts_ns == seeded_ns, 5, "seeded bar")
            assert sim.admin("POST", "/admin/disconnect", {"stream": "data"})["closed"] == 1
            got: list[BarMsg] = []
            wait_for(  # a reconnect (with its backoff) and a REST fetch: slow on a loaded machine
                lambda: got.extend(e.payload for t, e in sub.recv_batch(20) if t == md_bar("AMD")) or len(got) >= 40,
                45,
                "40 bars",
            )
        times = [b.ts_ns for b in got]
        assert len(got) == 40 and times == sorted(set(times)) and times[0] > seeded_ns
        assert all(b.symbol == "AMD" and b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in got)
        assert md.svc.bars.bars("AMD")[-40:] == got  # kept as well, for the cache
        assert md.metrics()["market_data_bars_gap_filled_total"] == 40
        assert "bar gap filled after connect symbol=AMD bars=40" in md.log_text()
    finally:
        assert md.stop() == 0
