"""The risk manager asked again about an intent whose order already ended (the signal bridge
had no answer and asks again; meanwhile the risk manager restarted and forgot it): it
approves, the engine answers "duplicate, filled", and nothing of it stays pending in the risk
book (a phantom open order would count against the limits for ever). An order the engine
accepts for the first time stays pending until its reports end it.

Real parts: the risk manager as its own process, a stand-in engine on the order endpoint
answering with the ack under test, a stand-in quote feed."""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal
from pathlib import Path

from pyrt.bus import schema as wire
from pyrt.bus.security import for_config
from pyrt.bus.zmq import ReplyServer, RequestClient
from pyrt.config import AppConfig, load_config
from pyrt.domain.enums import OrderSide
from pyrt.domain.intents import OrderIntent
from pyrt.ops.status import read_ready_info
from tests.integration.api.order_path import QuoteFeed, ServiceProcess
from tests.support.deploy import make_deployment, wait_for


class AckingEngine:
    """Answers every intent with an OrderAck: a duplicate of a filled order while
    `duplicate_filled`, else a first acceptance."""

    def __init__(self, cfg: AppConfig) -> None:
        self.server = ReplyServer(cfg.system.execution.order_endpoint, server_id="engine", security=for_config(cfg))
        self.duplicate_filled = True
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            for identity, env in self.server.poll(50):
                if isinstance(env.payload, wire.OrderIntentMsg):
                    i = env.payload.intent
                    dup = self.duplicate_filled
                    ack = wire.OrderAck(
                        intent_id=i.intent_id,
                        client_order_id=f"c-{i.intent_id}",
                        accepted=True,
                        reason_code="DUPLICATE" if dup else "OK",
                        duplicate=dup,
                        state="filled" if dup else "",
                    )
                    self.server.reply(identity, ack, env.correlation_id)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.server.close()


def test_a_repeated_intent_whose_order_ended_leaves_nothing_pending(tmp_path: Path) -> None:
    config_dir = make_deployment(
        tmp_path / "root", sim_url="http://127.0.0.1:9", system={"signals": {"strategies": []}}
    )
    cfg = load_config(config_dir)
    engine = AckingEngine(cfg)
    feed = QuoteFeed(cfg.system.market_data.zmq_publish_address, cfg)
    risk = ServiceProcess("risk_manager", config_dir, cfg.system.paths.logs_dir)
    ids = itertools.count()
    try:
        wait_for(lambda: read_ready_info(cfg, "risk_manager") or risk.proc.poll() is not None, 30, "risk ready", 0.05)
        with RequestClient(cfg.system.risk.intent_endpoint, timeout_ms=5000, security=for_config(cfg)) as c:

            def ask() -> wire.RiskDecisionMsg | None:
                intent = OrderIntent(
                    intent_id=f"i{next(ids)}", strategy="s", symbol="AAPL", side=OrderSide.BUY, qty=Decimal(1)
                )
                msg = c.request(wire.OrderIntentMsg(intent), correlation_id=intent.intent_id).payload
                return None if msg.decision.reason_code == "NO_MARKET_DATA" else msg  # until its first quote

            def open_intents() -> int:
                return int(c.request(wire.ControlCommand("status")).payload.data["open_intents"])

            assert wait_for(ask, 20, "the risk manager has a quote", 0.1).decision.approved
            assert open_intents() == 0  # the engine said its order ended already
            engine.duplicate_filled = False
            assert ask().decision.approved  # type: ignore[union-attr]
            assert open_intents() == 1  # a first acceptance stays pending until its reports
    finally:
        risk.stop()
        feed.close()
        engine.close()
