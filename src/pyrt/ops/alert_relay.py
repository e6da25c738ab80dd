"""Turns what the services publish into notifications: the circuit breaker tripping (risk
state), the execution engine's integrity alerts (position mismatch, overfill, an order we
never sent) and the dead-man watchdog. Runs in the control process, on its own thread;
the notifier never blocks it (send_async). Its subscribers hold the deployment's bus key
(the services' PUB sockets admit no one else)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from pyrt.bus import schema as wire
from pyrt.bus import security as bus_security
from pyrt.bus.poller import Poller
from pyrt.bus.zmq import ZmqSubscriber
from pyrt.ops.notify import Alert

log = logging.getLogger("pyrt.control")

_INTEGRITY_TITLES = {
    "position_mismatch": "Broker position disagrees with ours: trading halted",
    "external_order": "Order at the broker that py_rt never sent: trading halted",
    "overfill": "Order overfilled: symbol halted",
    "watchdog": "Watchdog: risk manager silent, new orders stopped",
    "watchdog_cancel": "Watchdog: risk manager and market data silent, open orders cancelled",
}


def alert_for(payload: Any, breaker_was_active: bool) -> Alert | None:
    """The alert a bus message calls for (pure), or None."""
    if isinstance(payload, wire.RiskState):
        if payload.circuit_breaker_active and not breaker_was_active:
            return Alert(
                kind="circuit_breaker",
                severity="critical",
                title="Circuit breaker tripped",
                detail=payload.reason,
                fields={"trading_state": payload.trading_state, "daily_pnl": str(payload.daily_pnl)},
            )
        return None
    if isinstance(payload, wire.IntegrityAlert):
        title = _INTEGRITY_TITLES.get(payload.kind, f"Integrity alert: {payload.kind}")
        return Alert(
            kind=payload.kind,
            severity="critical",
            title=title,
            detail=payload.detail,
            fields={"symbol": payload.symbol} if payload.symbol else {},
        )
    return None


class AlertRelay:
    def __init__(self, cfg: Any, notifier: Any) -> None:
        self.notifier = notifier
        self._risk = cfg.system.risk.publish_address
        self._exec = cfg.system.execution.report_publish_address
        self._security = bus_security.for_config(cfg)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-relay", daemon=True)
        self.breaker_active: bool | None = None  # unknown until the first risk state
        self.sent = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        risk = ZmqSubscriber(self._risk, [wire.risk_state()], security=self._security)
        execution = ZmqSubscriber(self._exec, [wire.exec_alert()], security=self._security)
        poller = Poller()
        poller.register(risk)
        poller.register(execution)
        try:
            while not self._stop.is_set():
                ready = poller.poll(200)
                for sub in (risk, execution):
                    if sub in ready:
                        for _topic, env in sub.recv_batch(0):
                            self.handle(env.payload)
        finally:
            risk.close()
            execution.close()

    def handle(self, payload: Any) -> None:
        was = bool(self.breaker_active) if self.breaker_active is not None else payload_breaker(payload)
        alert = alert_for(payload, was)
        if isinstance(payload, wire.RiskState):
            self.breaker_active = payload.circuit_breaker_active
        if alert is not None:
            log.error("alert: %s: %s", alert.title, alert.detail)
            self.notifier.send_async(alert)
            self.sent += 1


def payload_breaker(payload: Any) -> bool:
    """On the first risk state seen, an already active breaker is not news (it was
    notified when it tripped, or before this process started)."""
    return bool(getattr(payload, "circuit_breaker_active", False))
