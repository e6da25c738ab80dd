"""The signal bridge over real ZeroMQ when the risk manager does not answer in time: the
intent is not taken as denied (the risk manager may have approved it and the engine sent
the order; a strategy told "denied" would send it again). It stays pending and the same
intent, with the same id, is asked again until an answer comes.

The risk manager and the execution engine are stand-in reply servers on the deployment's
endpoints (holding its bus key): this one ignores the first request of every intent and
answers the second."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from pyrt.bus import schema as wire
from pyrt.bus.zmq import ReplyServer, RequestClient, ZmqPublisher
from pyrt.config import load_config
from pyrt.domain.intents import RiskDecision
from pyrt.domain.market import Quote
from pyrt.ops.status import read_ready_info
from tests.support.bus import bus_key
from tests.support.deploy import make_deployment, wait_for


class SlowRisk:
    """Ignores the first request of each intent; approves the second."""

    def __init__(self, cfg: Any) -> None:
        self.asked: dict[str, list[Any]] = defaultdict(list)
        self.stop = threading.Event()
        key = bus_key(cfg)
        self.risk = ReplyServer(cfg.system.risk.intent_endpoint, server_id="risk_manager", security=key)
        self.exec = ReplyServer(cfg.system.execution.order_endpoint, server_id="execution_engine", security=key)
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            for identity, env in self.exec.poll(10):
                if isinstance(env.payload, wire.SnapshotRequest):
                    self.exec.reply(identity, wire.Snapshot(env.payload.kind), env.correlation_id)
            for identity, env in self.risk.poll(10):
                if not isinstance(env.payload, wire.OrderIntentMsg):
                    continue
                intent = env.payload.intent
                self.asked[intent.intent_id].append(intent)
                if len(self.asked[intent.intent_id]) >= 2:
                    decision = RiskDecision(intent_id=intent.intent_id, approved=True, reason_code="OK", ts_ns=0)
                    self.risk.reply(identity, wire.RiskDecisionMsg(decision), env.correlation_id)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.risk.close()
        self.exec.close()


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
    from pyrt.services.signals import service as signals

    risk = SlowRisk(cfg)
    risk.thread.start()
    md = ZmqPublisher(cfg.system.market_data.zmq_publish_address, publisher_id="market_data", security=bus_key(cfg))
    stop = threading.Event()
    bridge = threading.Thread(target=signals.run, args=(config_dir, stop), daemon=True)
    bridge.start()
    control = RequestClient(cfg.system.signals.control_endpoint, timeout_ms=3000, security=bus_key(cfg))
    try:
        wait_for(lambda: read_ready_info(cfg, "signal_bridge"), 20, "signal bridge ready")
        deadline = time.monotonic() + 20
        while not risk.asked and time.monotonic() < deadline:  # until the bridge has subscribed
            md.publish_quote(Quote("AAPL", 99.99, 100, 100.01, 100, time.time_ns()))
            time.sleep(0.05)
        assert risk.asked, "no intent reached the stand-in risk manager"

        def status() -> dict[str, Any]:
            result = control.request(wire.ControlCommand("status")).payload
            return dict(result.data)

        final = wait_for(
            lambda: (s := status())["intents_unanswered"] == 0 and s["sent_intents"] == len(risk.asked) and s,
            20,
            "every intent answered on its second asking",
        )
        assert final["sent_intents"] >= 1
        for intent_id, asked in risk.asked.items():
            assert len(asked) == 2, intent_id  # asked once more, not dropped, not a new intent
            assert asked[0] == asked[1]
    finally:
        stop.set()
        bridge.join(15)
        control.close()
        md.close()
        risk.close()
    assert not bridge.is_alive()
