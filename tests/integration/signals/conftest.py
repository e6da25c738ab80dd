"""The signal bridge in a thread over real ZeroMQ, with the risk manager and the execution
engine as stand-in reply servers on the deployment's endpoints (holding its bus key)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyrt.bus import schema as wire
from pyrt.bus.zmq import ReplyServer, RequestClient
from pyrt.config import load_config
from pyrt.domain.intents import OrderIntent, RiskDecision
from pyrt.ops.status import read_ready_info
from tests.support.bus import bus_key
from tests.support.deploy import wait_for

# how the stand-in risk manager answers the n-th asking (1, 2, ...) of an intent; None: silence
Answer = Callable[[OrderIntent, int], RiskDecision | None]


def approve(intent: OrderIntent, n: int) -> RiskDecision:
    return RiskDecision(intent_id=intent.intent_id, approved=True, reason_code="OK", ts_ns=0)


class StandIns:
    """Answers the bridge's snapshot requests (empty), its risk control commands (ok, kept
    in `commands`) and its intents (by `answer`; every asking kept in `asked`)."""

    def __init__(self, cfg: Any, answer: Answer = approve) -> None:
        self.answer = answer
        self.asked: dict[str, list[OrderIntent]] = defaultdict(list)
        self.commands: list[wire.ControlCommand] = []
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
                p = env.payload
                if isinstance(p, wire.ControlCommand):
                    self.commands.append(p)
                    self.risk.reply(identity, wire.ControlResult(True, p.action), env.correlation_id)
                elif isinstance(p, wire.OrderIntentMsg):
                    self.asked[p.intent.intent_id].append(p.intent)
                    decision = self.answer(p.intent, len(self.asked[p.intent.intent_id]))
                    if decision is not None:
                        self.risk.reply(identity, wire.RiskDecisionMsg(decision), env.correlation_id)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.risk.close()
        self.exec.close()


@contextmanager
def running_bridge(config_dir: Path, answer: Answer = approve) -> Iterator[tuple[StandIns, RequestClient]]:
    """The stand-ins and the bridge running; yields them and a client of its control endpoint."""
    from pyrt.services.signals import service as signals

    cfg = load_config(config_dir)
    stand = StandIns(cfg, answer)
    stand.thread.start()
    stop = threading.Event()
    bridge = threading.Thread(target=signals.run, args=(config_dir, stop), daemon=True)
    bridge.start()
    control = RequestClient(cfg.system.signals.control_endpoint, timeout_ms=10_000, security=bus_key(cfg))
    try:
        wait_for(lambda: read_ready_info(cfg, "signal_bridge"), 30, "signal bridge ready")
        yield stand, control
    finally:
        stop.set()
        bridge.join(15)
        control.close()
        stand.close()
    assert not bridge.is_alive(), "the signal bridge did not stop"


def bridge_status(control: RequestClient) -> dict[str, Any]:
    return dict(control.request(wire.ControlCommand("status")).payload.data)
