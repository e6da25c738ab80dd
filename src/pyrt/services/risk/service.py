"""risk-manager process: every order intent passes here before it can reach the broker.

Order path: signal-bridge --(DEALER/ROUTER request)--> risk core check --approved-->
execution engine (request, waits for its journalled accept) --> the answer goes back to
the signal bridge. Denials are events with a reason code, logged ("risk limit violation")
and counted by reason. Market data and execution reports feed the core; the risk state
(trading state, breaker, positions seen, daily P&L) is saved to disk and survives restarts.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import msgspec

from pyrt.bus import schema as wire
from pyrt.bus.poller import Poller
from pyrt.bus.zmq import ReplyServer, RequestClient, RequestTimeout, ZmqPublisher, ZmqSubscriber
from pyrt.domain.calendar import AlwaysOpen, NyseSession, SessionCalendar
from pyrt.domain.clock import WallClock
from pyrt.domain.enums import TradingState
from pyrt.domain.ids import client_order_id
from pyrt.domain.intents import OrderIntent, RiskDecision
from pyrt.domain.market import Quote
from pyrt.domain.orders import is_terminal_status
from pyrt.observability import stages
from pyrt.observability.metrics import required
from pyrt.persistence.files import write_atomic
from pyrt.services.risk.core import EXECUTION_TIMEOUT, RiskCore
from pyrt.services.risk.events import BREAKER_EVENTS, BreakerDeactivated, BreakerTripped, describe
from pyrt.services.runtime import READ_ONLY_ACTIONS, Every, ServiceRuntime, run_service

log = logging.getLogger("pyrt.risk_manager")

MD_DRAIN_S = 0.002  # how often the marks are refreshed between intents


def _session_calendar(cfg: Any) -> SessionCalendar:
    """When the market is open: stale market data only trips the breaker in session. The
    embedded synthetic market is open around the clock unless its session calendar is on."""
    if cfg.venue.embedded_sim and not cfg.system.sim_broker.session_calendar:
        return AlwaysOpen()
    return NyseSession()


class RiskManager:
    def __init__(self, rt: ServiceRuntime) -> None:
        self.rt = rt
        cfg = rt.cfg
        self.clock = WallClock()
        self.metrics = rt.metrics
        self.risk_metrics = required(rt.metrics.risk, "risk")
        self.core = RiskCore(cfg.risk, self.clock)
        self.state_path = cfg.system.risk.state_path
        self._restore()
        self.server = ReplyServer(cfg.system.risk.intent_endpoint, server_id="risk_manager")
        # shorter than the signal bridge's wait on us (config checks risk_timeout_ms > this)
        self.exec = RequestClient(
            cfg.system.execution.order_endpoint,
            timeout_ms=cfg.system.risk.execution_timeout_ms,
            client_id="risk_manager",
        )
        self.pub = ZmqPublisher(cfg.system.risk.publish_address, publisher_id="risk_manager")
        # marks only: the newest quote per symbol, drained every MD_DRAIN_S and before each
        # intent (so the collar sees the freshest quote) instead of waking for every quote
        self.md = ZmqSubscriber(cfg.system.market_data.zmq_publish_address, [wire.MD_QUOTE_PREFIX], conflate=True)
        self._md_due = Every(MD_DRAIN_S)
        self._resync = False
        self._engine_restart = False
        self.reports = ZmqSubscriber(
            cfg.system.execution.report_publish_address,
            [wire.EXEC_PREFIX],
            # a gap, or a restarted engine (the reports it sent before a kill may be lost):
            # positions from the engine's snapshot
            on_gap=rt.gap_handler(lambda info: setattr(self, "_resync", True), on_restart=self._engine_restarted),
        )
        self.session = _session_calendar(cfg)
        self._dirty = True
        self._last_save = 0.0
        self._tick_due = Every(1.0)
        self._publish_limits()

    # ------------------------------------------------------------------ state
    def _restore(self) -> None:
        try:
            data = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            log.info("no saved risk state at %s: starting fresh", self.state_path)
            return
        except ValueError as exc:
            log.error("saved risk state %s unreadable (%s): starting HALTED", self.state_path, exc)
            self.core.set_trading_state("HALTED", f"saved risk state unreadable: {exc}")
            return
        try:
            self.core.restore(data)
        except (KeyError, ValueError, TypeError) as exc:
            log.error("saved risk state %s invalid (%s): starting HALTED", self.state_path, exc)
            self.core.set_trading_state("HALTED", f"saved risk state invalid: {exc}")
            return
        log.info(
            "risk state restored: trading_state=%s circuit_breaker_active=%s",
            self.core.trading_state.value,
            self.core.breaker.active,
        )

    def save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.state_path, json.dumps(self.core.snapshot(), default=str), durable=True)
        self._dirty = False
        self._last_save = time.monotonic()

    # ------------------------------------------------------------------ order path
    def handle_request(self, identity: bytes, env: wire.Envelope) -> None:
        payload = env.payload
        if isinstance(payload, wire.OrderIntentMsg):
            self.on_market_data()  # the newest quotes first: the collar and valuation use them
            stages.mark("risk_in", payload.intent.intent_id)
            self.server.reply(identity, self.decide(payload.intent, env.ts_event), env.correlation_id)
        elif isinstance(payload, wire.ControlCommand):
            self.server.reply(identity, self.control(payload), env.correlation_id)
        else:
            log.warning("unexpected request type %s dropped", env.msg_type)
            self.metrics.common.error("unexpected_request")

    def check(self, intent: OrderIntent, ts_event: int) -> RiskDecision:
        return self.decide(intent, ts_event).decision

    def decide(self, intent: OrderIntent, ts_event: int) -> wire.RiskDecisionMsg:
        """Check `intent`, forward it when approved, and answer (also on ``risk.decision``)."""
        t0 = time.perf_counter()
        decision = self.core.check(intent)
        m = self.risk_metrics
        m.checks_performed.inc()
        msg = wire.RiskDecisionMsg(decision)
        if decision.approved:
            msg = self._forward(intent, decision, ts_event)
            decision = msg.decision
        if msg.outcome == wire.OUTCOME_UNKNOWN:
            log.error(
                "order outcome unknown: intent=%s strategy=%s %s %s %s client_order_id=%s: %s",
                intent.intent_id,
                intent.strategy,
                intent.side.value,
                intent.qty,
                intent.symbol,
                msg.client_order_id,
                decision.message,
            )
        elif not decision.approved:
            m.checks_failed.labels(reason=decision.reason_code).inc()
            log.warning(
                "risk limit violation: intent=%s strategy=%s %s %s %s denied reason=%s %s",
                intent.intent_id,
                intent.strategy,
                intent.side.value,
                intent.qty,
                intent.symbol,
                decision.reason_code,
                decision.message,
            )
        self._dirty = True
        self.metrics.common.messages_processed.inc()
        self.metrics.common.processing_latency.observe(time.perf_counter() - t0)
        msg = msgspec.structs.replace(
            msg, strategy=intent.strategy, symbol=intent.symbol, side=intent.side.value, qty=intent.qty
        )
        self.pub.publish(wire.risk_decision(), msg, correlation_id=intent.intent_id)
        self._drain_events()
        return msg

    def _forward(self, intent: OrderIntent, decision: RiskDecision, ts_event: int) -> wire.RiskDecisionMsg:
        """Hand an approved intent to the execution engine and wait for its journalled accept."""
        stages.mark("risk_out", intent.intent_id)
        try:
            env = self.exec.request(wire.OrderIntentMsg(intent), correlation_id=intent.intent_id, ts_event=ts_event)
        except RequestTimeout:
            # the engine may have journalled and sent it (review D5): approved by risk, outcome
            # unknown, kept pending here until a report says otherwise; never a denial (a
            # caller who took it for one would send it again and double the position)
            self.core.on_error("execution_timeout")
            return wire.RiskDecisionMsg(
                RiskDecision(
                    intent_id=intent.intent_id,
                    approved=True,
                    reason_code=EXECUTION_TIMEOUT,
                    message="approved, but the execution engine did not answer in time: the order may have "
                    "been sent; its outcome will arrive as a report (do not resend)",
                    ts_ns=self.clock.now_ns(),
                ),
                outcome=wire.OUTCOME_UNKNOWN,
                client_order_id=client_order_id(intent.strategy, intent.intent_id),
            )
        ack = env.payload
        if isinstance(ack, wire.OrderAck) and ack.accepted:
            if ack.duplicate and ack.state and is_terminal_status(ack.state):
                # asked again (the signal bridge had no answer) after the order already ended:
                # nothing of it stays open, so nothing stays pending here either
                self.core.on_order_closed(intent.intent_id)
            return wire.RiskDecisionMsg(decision)
        code = getattr(ack, "reason_code", "EXECUTION_REFUSED")
        self.core.on_order_closed(intent.intent_id)
        return wire.RiskDecisionMsg(
            RiskDecision(
                intent_id=intent.intent_id,
                approved=False,
                reason_code=f"EXECUTION_{code}",
                message=getattr(ack, "message", ""),
                ts_ns=self.clock.now_ns(),
            )
        )

    def control(self, cmd: wire.ControlCommand) -> wire.ControlResult:
        """Apply an operator command received over the bus and audit it (reads are not)."""
        before = None if cmd.action in READ_ONLY_ACTIONS else self.status()
        result = self._apply_control(cmd)
        self.rt.audit_command(cmd, result, before, result.data or None)
        return result

    def _apply_control(self, cmd: wire.ControlCommand) -> wire.ControlResult:
        core = self.core
        if cmd.action == "status":
            return wire.ControlResult(True, data=self.status())
        if cmd.action == "recent":  # what the operator console shows after its own restart
            return wire.ControlResult(True, data={"denials": core.recent_denials(), "alerts": core.recent_alerts()})
        if cmd.action == "set_trading_state":
            result = core.set_trading_state(cmd.args.get("state", ""), cmd.reason)
        elif cmd.action == "breaker_activate":
            mode = TradingState(cmd.args.get("mode", "HALTED"))
            result = core.breaker.activate(cmd.reason or "manual", mode)
        elif cmd.action == "breaker_deactivate":
            result = core.breaker.deactivate(cmd.reason, force=cmd.args.get("force") == "true")
        elif cmd.action == "strategy_reduce_only":
            on = cmd.args.get("on", "true") == "true"
            result = core.set_strategy_reduce_only(cmd.args.get("strategy", ""), on, cmd.reason)
            if result.ok:
                log.warning("%s by %s: %s", result.message, cmd.actor or "operator", cmd.reason)
        else:
            return wire.ControlResult(False, f"unknown action {cmd.action!r}")
        self._drain_events()
        self.save()
        self._publish_state()
        return wire.ControlResult(result.ok, result.message, self.status())

    def status(self) -> dict[str, Any]:
        g = self.core.gauges()
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in g.items()} | {
            "breaker": {k: str(v) if isinstance(v, Decimal) else v for k, v in self.core.breaker.status().items()},
            "reduce_only_strategies": dict(self.core.reduce_only_strategies),
        }

    # ------------------------------------------------------------------ inputs
    def on_market_data(self) -> None:
        for _topic, env in self.md.recv_batch(0):
            q = env.payload
            if isinstance(q, wire.QuoteMsg):
                self.core.on_quote(Quote(q.symbol, q.bid_price, q.bid_size, q.ask_price, q.ask_size, env.ts_init))

    def on_reports(self) -> None:
        core = self.core
        for _topic, env in self.reports.recv_batch(0):
            p = env.payload
            if isinstance(p, wire.ExecutionReport):
                core.on_execution_report(p.event, p.status, p.symbol, p.side, p.fill_qty, p.fill_price, p.intent_id)
                self._dirty = True
            elif isinstance(p, wire.PositionUpdate):
                core.on_position(p.symbol, p.qty, p.avg_entry_price)
                self._dirty = True
            elif isinstance(p, wire.PnLUpdate):
                core.on_pnl(p.realized, p.unrealized, p.equity)
            elif isinstance(p, wire.IntegrityAlert):
                log.error(
                    "integrity alert from execution: %s %s %s",
                    p.kind,
                    p.symbol,
                    p.detail,
                    extra={"error_kind": "IntegrityViolation"},
                )
                core.on_integrity_violation(p.kind, f"{p.symbol}: {p.detail}")
                self._dirty = True
        self._drain_events()

    def _drain_events(self) -> None:
        for ev in self.core.drain_events():
            if isinstance(ev, BreakerTripped):
                if ev.manual:  # an operator's action that succeeded: not an error
                    log.warning("circuit breaker activated: %s", describe(ev))
                else:
                    log.error(
                        "circuit breaker tripped: %s", describe(ev), extra={"error_kind": "CircuitBreakerTripped"}
                    )
                self.risk_metrics.circuit_breaker_activations.labels(trigger=ev.trigger.value).inc()
            elif isinstance(ev, BreakerDeactivated):
                log.warning("%s: %s", ev.name, describe(ev))  # an operator lifted it, with a reason
            elif isinstance(ev, BREAKER_EVENTS):
                log.error("%s: %s", ev.name, describe(ev), extra={"error_kind": "CircuitBreakerEscalated"})
            else:
                log.info("risk event %s: %s", ev.name, describe(ev))
            self._dirty = True
            self._publish_state()

    def _publish_state(self) -> None:
        core = self.core
        self.risk_metrics.circuit_breaker_active.set(int(core.breaker.active))
        state: Literal["ACTIVE", "REDUCING", "HALTED"] = core.trading_state.value
        if core.breaker.active:  # the breaker's mode; anything unexpected reads as the safest
            state = "REDUCING" if core.breaker.status().get("mode") == "REDUCING" else "HALTED"
        self.pub.publish(
            wire.risk_state(),
            wire.RiskState(
                state,
                core.trading_state_reason or str(core.breaker.status().get("reason", "")),
                core.breaker.active,
                core.breaker.daily_pnl,
            ),
        )

    def _publish_limits(self) -> None:
        self.risk_metrics.circuit_breaker_active.set(int(self.core.breaker.active))
        self._publish_positions()

    def _symbols(self) -> list[str]:
        return sorted(set(self.rt.cfg.system.market_data.symbols) | self.core.book.symbols())

    def _publish_positions(self) -> None:
        """trading_position_size{symbol} as the risk book has it, for every symbol that has a
        limit (risk_max_position_size{symbol}): the same labels, so their ratio is a series."""
        limit = float(self.core.limits.position_limits.max_shares)
        for symbol in self._symbols():
            self.risk_metrics.position_size.labels(symbol=symbol).set(float(self.core.book.position_qty(symbol)))
            self.risk_metrics.max_position_size.labels(symbol=symbol).set(limit)

    # ------------------------------------------------------------------ loop
    def _engine_restarted(self, info: Any) -> None:
        self._resync = self._engine_restart = True

    def resync_positions(self) -> None:
        """After a gap in the execution reports: positions from the engine's snapshot. After
        a restart of the engine also the intents it has finished: those not among its
        unfinished orders are released (the engine replayed its journal and the forward of
        an intent is synchronous, so none is on its way; a report lost with the killed engine
        would otherwise hold them for ever)."""
        restart, self._resync, self._engine_restart = self._engine_restart, False, False
        try:
            orders = (
                self.exec.request(wire.SnapshotRequest("orders", reason="risk_manager resync")) if restart else None
            )
            env = self.exec.request(wire.SnapshotRequest("positions", reason="risk_manager resync"))
        except RequestTimeout:
            log.warning("no position snapshot from the execution engine after a gap; will retry")
            self._resync, self._engine_restart = True, restart
            return
        if orders is not None and isinstance(orders.payload, wire.Snapshot):
            unfinished = {item.intent_id for item in orders.payload.items if isinstance(item, wire.ExecutionReport)}
            done = [i for i in self.core.book.pending if i not in unfinished]
            for intent_id in done:
                self.core.on_order_closed(intent_id)
            if done:
                log.info(
                    "released %d intents the restarted execution engine has finished: %s", len(done), ", ".join(done)
                )
        if isinstance(env.payload, wire.Snapshot):
            for item in env.payload.items:
                if isinstance(item, wire.PositionUpdate):
                    self.core.on_position(item.symbol, item.qty, item.avg_entry_price)
            log.info("positions resynchronised from the execution engine (%d)", len(env.payload.items))
            self._dirty = True

    def tick(self) -> None:
        now = time.monotonic()
        if self._resync:
            self.resync_positions()
        if self._tick_due.due():
            self.rt.export_drops(self.md, self.reports, self.server)
            self.core.on_tick(session_open=self.session.is_open(self.clock.now_ns()))
            self._drain_events()
            self._publish_state()
            self._publish_positions()
            self.pub.publish(wire.heartbeat("risk_manager"), wire.Heartbeat("risk_manager", "ok", self.clock.now_ns()))
        if self._dirty and now - self._last_save >= 1.0:
            self.save()
        new = self.rt.try_reload()
        if new is not None:
            self.core.set_limits(new.risk)  # validated by the config loader, or not applied
            self._publish_limits()
            log.info("risk limits reloaded (circuit breaker state unchanged: active=%s)", self.core.breaker.active)

    def serve(self) -> None:
        poller = Poller()
        for sock in (self.server, self.reports):
            poller.register(sock)
        stop = self.rt.stop_event
        while not stop.is_set():
            ready = poller.poll(self._md_due.wait_ms(50))
            if self.server in ready:  # the order path first: it is what waits on us
                for identity, env in self.server.poll(0):
                    self.handle_request(identity, env)
            if self._md_due.due():
                self.on_market_data()
            if self.reports in ready:
                self.on_reports()
            self.tick()

    def ready_info(self) -> dict[str, Any]:
        return {"trading_state": self.core.trading_state.value, "circuit_breaker_active": self.core.breaker.active}

    def close(self) -> None:
        self.save()
        for sock in (self.server, self.exec, self.pub, self.md, self.reports):
            sock.close()


def run(config_dir: Path, stop_event: threading.Event | None = None) -> int:
    return run_service("risk_manager", config_dir, RiskManager, stop_event)


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1] if len(sys.argv) > 1 else "config")))
