"""The signal bridge over real ZeroMQ when the risk manager does not answer in time: the
intent is not taken as denied (the risk manager may have approved it and the engine sent
the order; a strategy told "denied" would send it again). It stays pending and the same
intent, with the same id, is asked again until an answer comes. The stand-in risk manager
ignores the first asking of every intent and approves the second."""

from __future__ import annotations

import time
from pathlib import Path

from pyrt.bus.zmq import ZmqPublisher
from pyrt.config import load_config
from pyrt.domain.intents import OrderIntent, RiskDecision
from pyrt.domain.market import Quote
from tests.support.bus import bus_key
from tests.support.deploy import make_deployment, wait_for

from .conftest import approve, bridge_status, running_bridge


def second_time(intent: OrderIntent, n: int) -> RiskDecision | None:
    return approve(intent, n) if n >= 2 else None


def test_an_unanswered_intent_is_asked_again_and_never_denied(tmp_path: Path) -> None:
    strategies = [{"name": "one", "kind": "benchmark_every_n", "symbols": ["AAPL"], "params": {"every_n": 1}}]
    config_dir = make_deployment(
        tmp_path / "root",
        system={
            "signals": {"strategies": strategies, "risk_timeout_ms": 400},
            "risk": {"execution_timeout_ms": 300},
        },
    )
    cfg = load_config(config_dir)
    md = ZmqPublisher(cfg.system.market_data.zmq_publish_address, publisher_id="market_data", security=bus_key(cfg))
    try:
        with running_bridge(config_dir, second_time) as (risk, control):
            deadline = time.monotonic() + 20
            while not risk.asked and time.monotonic() < deadline:  # until the bridge has subscribed
                md.publish_quote(Quote("AAPL", 99.99, 100, 100.01, 100, time.time_ns()))
                time.sleep(0.05)
            assert risk.asked, "no intent reached the stand-in risk manager"
            final = wait_for(
                lambda: (
                    (s := bridge_status(control))["intents_unanswered"] == 0
                    and s["sent_intents"] == len(risk.asked)
                    and s
                ),
                20,
                "every intent answered on its second asking",
            )
            assert final["sent_intents"] >= 1
            for intent_id, asked in risk.asked.items():
                assert len(asked) == 2, intent_id  # asked once more, not dropped, not a new intent
                assert asked[0] == asked[1]
    finally:
        md.close()
