"""A bar strategy in the signal bridge starts warm from market data's bar cache: the cached
bars run through it at start (their intents dropped), so the first live bar can trade, and a
cached bar the bus brings again is not run twice. Without the cache the strategy would need
`slow` live bars (20 minutes) before its first decision."""

from __future__ import annotations

import time
from pathlib import Path

from pyrt.bus import schema as wire
from pyrt.bus.bar_cache import cache_file, encode_bars
from pyrt.bus.zmq import ZmqPublisher
from pyrt.config import load_config
from pyrt.domain.market import MINUTE_BAR_NS
from tests.support.bus import bus_key
from tests.support.deploy import make_deployment, wait_for

from .conftest import bridge_status, running_bridge

REF = {"name": "ref", "kind": "ema_cross_long_only", "symbols": ["AAPL"],
       "params": {"fast": 3, "slow": 20, "trade_size": 10}}  # fmt: skip


def bar(open_ns: int, i: int) -> wire.BarMsg:
    px = 100.0 + i  # rising: fast EMA above slow once both are ready
    return wire.BarMsg("AAPL", px, px + 0.5, px - 0.5, px + 0.2, 1000.0, open_ns)


def test_a_bar_strategy_starts_warm_from_the_bar_cache(tmp_path: Path) -> None:
    config_dir = make_deployment(tmp_path / "root", system={"signals": {"strategies": [REF]}})
    cfg = load_config(config_dir)
    now_minute = time.time_ns() // MINUTE_BAR_NS * MINUTE_BAR_NS
    cached = [bar(now_minute - (31 - i) * MINUTE_BAR_NS, i) for i in range(30)]  # the last one ended a minute ago
    path = cache_file(cfg.system.market_data.cache_dir, "AAPL")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_bars(cached))
    md = ZmqPublisher(cfg.system.market_data.zmq_publish_address, publisher_id="market_data", security=bus_key(cfg))
    try:
        with running_bridge(config_dir) as (risk, control):
            assert not risk.asked  # the cached bars wanted to buy: dropped, nothing sent
            live = bar(now_minute - MINUTE_BAR_NS, 30)  # the minute that just ended
            deadline = time.monotonic() + 20
            while not risk.asked and time.monotonic() < deadline:  # until the bridge has subscribed
                md.publish(wire.md_bar("AAPL"), cached[-1], cached[-1].ts_ns)  # a repeat: never run
                md.publish(wire.md_bar("AAPL"), live, live.ts_ns)
                time.sleep(0.1)
            [intents] = risk.asked.values()  # one decision, on the first live bar
            assert (intents[0].side.value, intents[0].qty, intents[0].symbol) == ("buy", 10, "AAPL")
            wait_for(lambda: bridge_status(control)["repeated_bars"] >= 1, 10, "the repeated bar counted")
    finally:
        md.close()
