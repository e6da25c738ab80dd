"""signal-bridge process: market data in, strategies run, signals published and order
intents sent to the risk manager (request/reply with a timeout, never fire-and-forget).

Safe mode (PYRT_SAFE_MODE=1, `pyrt up --safe-mode`): signals are computed, logged and
counted but no intent is sent until trading is enabled (a ControlCommand
"set_trading_enabled" on the control endpoint, driven by POST /api/v1/trading/enable)."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Literal

from pyrt.bus import schema as wire
from pyrt.bus.bar_cache import MalformedBarCache, cache_file, decode_bars
from pyrt.bus.poller import Poller
from pyrt.bus.zmq import ReplyServer, RequestClient, RequestTimeout, ZmqPublisher, ZmqSubscriber
from pyrt.domain.clock import WallClock, iso_utc
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Quote, Trade
from pyrt.observability import stages
from pyrt.services.runtime import Every, ServiceRuntime, run_service
from pyrt.services.signals.core import IntentDropped, SignalCore, StrategyDisabled, StrategyError
from pyrt.services.signals.model_host import MODEL_ACTIONS, ModelHost
from pyrt.services.signals.strategies.onnx_model import OnnxModelStrategy
from pyrt.services.signals.strategies.registry import build_strategies, strategies_dir, strategy_specs
from pyrt.services.signals.strategy import Signal, SignalDirection, Strategy

log = logging.getLogger("pyrt.signal_bridge")

_WIRE_DIRECTION: dict[SignalDirection, Literal["long", "short", "flat"]] = {
    SignalDirection.LONG: "long",
    SignalDirection.SHORT: "short",
    SignalDirection.FLAT: "flat",
}

SAFE_MODE_ENV = "PYRT_SAFE_MODE"
OVERDUE_S = 60.0  # an answered intent pending this long is checked against the engine's open orders
OVERDUE_CHECK_S = 15.0


class SignalBridge:
    def __init__(self, rt: ServiceRuntime) -> None:
        self.rt = rt
        cfg = rt.cfg
        self.clock = WallClock()
        self.metrics = rt.metrics
        if rt.metrics.signal_bridge is None:
            raise RuntimeError("signal bridge started with another service's metrics (service name mismatch)")
        self.bridge_metrics = rt.metrics.signal_bridge
        safe = os.environ.get(SAFE_MODE_ENV, "") in ("1", "true", "yes")
        strategies = build_strategies(strategy_specs(cfg), strategies_dir(cfg))
        self.core = SignalCore(
            strategies,
            self.clock,
            trading_enabled=not safe,
            intent_epoch=None,
            max_bar_age_ns=int(cfg.system.signals.max_bar_age_s * 1e9),
        )
        if safe:
            log.warning("SAFE MODE: signals are computed but no order is sent until trading is enabled")
        self.md = ZmqSubscriber(cfg.system.market_data.zmq_publish_address, [wire.MD_PREFIX], on_gap=rt.gap_handler())
        self._resync = False
        self.reports = ZmqSubscriber(
            cfg.system.execution.report_publish_address,
            [wire.EXEC_REPORT_PREFIX],
            on_gap=rt.gap_handler(lambda info: setattr(self, "_resync", True)),
        )
        self.pub = ZmqPublisher(cfg.system.signals.publish_address, publisher_id="signal_bridge")
        self.risk = RequestClient(
            cfg.system.risk.intent_endpoint, timeout_ms=cfg.system.signals.risk_timeout_ms, client_id="signal_bridge"
        )
        self.exec = RequestClient(cfg.system.execution.order_endpoint, timeout_ms=3000, client_id="signal_bridge_q")
        self.control_server = ReplyServer(cfg.system.signals.control_endpoint, server_id="signal_bridge")
        self.stale: set[str] = set()
        self._batch_ns = 0
        self._heartbeat_due = Every(1.0)
        self._overdue_due = Every(OVERDUE_CHECK_S)
        self._load_positions()
        self._warm_up_from_bar_cache(cfg)
        self.models = ModelHost(
            strategies, self._risk_control, self._audit_model, self.bridge_metrics, start_idle=self._start_idle
        )
        self.models.load_configured()

    def _engine_snapshot(self, kind: str, reason: str, unanswered: str) -> list[Any] | None:
        """The execution engine's `kind` snapshot items, or None (logged: `unanswered`) when
        it does not answer (it may not be up yet)."""
        try:
            env = self.exec.request(wire.SnapshotRequest(kind, reason=reason))
        except RequestTimeout:
            log.warning("no %s snapshot from the execution engine: %s", kind, unanswered)
            return None
        snap = env.payload
        return list(snap.items) if isinstance(snap, wire.Snapshot) else None

    def _load_positions(self) -> None:
        """Start from the execution engine's positions (it may not be up yet: then they
        arrive with the first reports)."""
        items = self._engine_snapshot("positions", "signal_bridge start", "assuming flat until reports arrive")
        if items is not None:
            for item in items:
                if isinstance(item, wire.PositionUpdate) and item.symbol in self.core.owners:
                    self.core.set_position(self.core.owners[item.symbol], item.symbol, item.qty)
            log.info("positions loaded from the execution engine: %d", len(items))
        self._load_shared_positions()

    def _load_shared_positions(self) -> None:
        """A symbol several strategies trade: each one's position is the net of its own
        orders' fills, as the engine's journal attributes them."""
        items = self._engine_snapshot("strategy_positions", "signal_bridge start", "shared symbols start flat")
        names = set(self.core.strategy_names)
        for item in items or ():
            if (
                isinstance(item, wire.PositionUpdate)
                and item.symbol not in self.core.owners
                and item.strategy in names
                and item.symbol in self.core.symbols_of(item.strategy)
            ):
                self.core.set_position(item.strategy, item.symbol, item.qty)

    def _warm_up_from_bar_cache(self, cfg: Any) -> None:
        """Bar strategies start warm: the bars market data keeps in its cache (the last
        `market_data.bars_to_keep` per symbol, across restarts) run through them first, in
        time order, and every intent they yield is dropped. A bar the bus brings later that
        is not newer is not run again (`SignalCore.on_bar`)."""
        symbols = self.core.bar_symbols
        cache_dir = Path(cfg.system.market_data.cache_dir)
        bars: list[wire.BarMsg] = []
        for symbol in symbols:
            path = cache_file(cache_dir, symbol)
            try:
                bars += decode_bars(symbol, path.read_bytes())
            except FileNotFoundError:
                continue
            except (OSError, MalformedBarCache) as exc:
                self.metrics.common.error("bar_cache")
                log.warning("bar cache unreadable, %s starts cold: %s (%s)", symbol, path, exc)
        if not bars:
            if symbols:
                log.info("no cached bars in %s: the bar strategies warm up on live bars", cache_dir)
            return
        bars.sort(key=lambda b: (b.ts_ns, b.symbol))
        for bar in bars:
            self.core.warm_up(bar.to_domain())
        self._drain_core_events(quiet_drops=True)
        log.info(
            "warm-up: %d cached bars of %s (%s to %s) run through the bar strategies, their intents dropped",
            len(bars),
            ", ".join(sorted({b.symbol for b in bars})),
            iso_utc(bars[0].ts_ns),
            iso_utc(bars[-1].ts_ns),
        )

    # ------------------------------------------------------------------ data in
    def on_market_data(self) -> None:
        core = self.core
        common = self.metrics.common
        self._batch_ns = time.time_ns()  # when this batch was taken (stage trace)
        for _topic, env in self.md.recv_batch(0):
            p = env.payload
            t0 = time.perf_counter()
            if isinstance(p, wire.QuoteMsg):
                if p.symbol in self.stale:
                    continue
                outputs = core.on_quote(Quote(p.symbol, p.bid_price, p.bid_size, p.ask_price, p.ask_size, p.ts_ns))
            elif isinstance(p, wire.TradeMsg):
                outputs = core.on_trade(Trade(p.symbol, p.price, p.size, p.ts_ns))
            elif isinstance(p, wire.BarMsg):
                outputs = core.on_bar(p.to_domain())
            elif isinstance(p, wire.SymbolStatus):
                self._on_status(p)
                continue
            else:
                continue
            if outputs:
                self._emit(outputs, env.ts_init)
            common.messages_processed.inc()
            common.processing_latency.observe(time.perf_counter() - t0)
        self._drain_core_events()
        self.models.check_health()

    def _on_status(self, status: wire.SymbolStatus) -> None:
        if status.stale and status.symbol not in self.stale:
            self.stale.add(status.symbol)
            log.warning("market data stale symbol=%s: strategies paused for it (%s)", status.symbol, status.reason)
        elif not status.stale and status.symbol in self.stale:
            self.stale.discard(status.symbol)
            log.info("market data fresh again symbol=%s", status.symbol)

    def _emit(self, outputs: Any, tick_ns: int) -> None:
        for out in outputs:
            if isinstance(out, Signal):
                self.bridge_metrics.signals_generated.labels(strategy=out.strategy).inc()
                self.pub.publish(
                    wire.signal(out.strategy, out.symbol),
                    wire.Signal(
                        out.strategy,
                        out.symbol,
                        _WIRE_DIRECTION[SignalDirection(out.direction)],
                        float(out.strength),
                        out.ts_ns,
                        dict(out.features),
                    ),
                )
                log.info(
                    "signal strategy=%s symbol=%s direction=%s strength=%.2f",
                    out.strategy,
                    out.symbol,
                    getattr(out.direction, "value", out.direction),
                    out.strength,
                )
            elif isinstance(out, OrderIntent):
                self._send_intent(out, tick_ns)

    def _send_intent(self, intent: OrderIntent, tick_ns: int) -> None:
        stages.mark("signal_in", intent.intent_id, self._batch_ns)
        stages.mark("signal_out", intent.intent_id)
        self._ask_risk(intent, tick_ns)

    def _ask_risk(self, intent: OrderIntent, tick_ns: int) -> None:
        try:
            env = self.risk.request(wire.OrderIntentMsg(intent), correlation_id=intent.intent_id, ts_event=tick_ns)
        except RequestTimeout:
            # never a denial: the risk manager may have approved it and the engine sent the
            # order; a strategy told "denied" would send it again and double the position
            self.core.on_risk_unanswered(intent.intent_id)
            self.bridge_metrics.risk_timeouts.inc()
            self.bridge_metrics.intents_unanswered.set(self.core.unanswered)
            log.error(
                "risk manager did not answer intent %s (%s %s %s) in time: outcome unknown, kept pending "
                "and asked again with the same intent id (answered once, never sent twice)",
                intent.intent_id,
                intent.side.value,
                intent.qty,
                intent.symbol,
            )
            return
        payload = env.payload
        decision = payload.decision if isinstance(payload, wire.RiskDecisionMsg) else None
        if decision is None:
            self.core.on_risk_decision(intent.intent_id, False, "BAD_REPLY")
            return
        self.core.on_risk_decision(intent.intent_id, decision.approved, decision.reason_code)
        self.bridge_metrics.intents_unanswered.set(self.core.unanswered)
        if decision.approved:
            log.info(
                "intent approved intent=%s %s %s %s", intent.intent_id, intent.side.value, intent.qty, intent.symbol
            )
        else:
            self.bridge_metrics.intents_denied.labels(reason=decision.reason_code).inc()
            log.info("intent denied intent=%s reason=%s", intent.intent_id, decision.reason_code)

    def settle_overdue(self) -> None:
        """Intents pending for long: end those whose order the engine no longer holds open
        (their final report was lost), and take the engine's positions again."""
        items = self._engine_snapshot("orders", "signal_bridge overdue intents", "overdue intents stay pending")
        if items is None:
            return
        open_intents = {o.intent_id for o in items if isinstance(o, wire.ExecutionReport) and o.intent_id}
        ended = self.core.settle_overdue(open_intents, OVERDUE_S)
        if ended:
            log.warning(
                "%d intent(s) ended without their final report reaching the bridge (the engine holds no open "
                "order for them): %s; positions taken from the engine again",
                len(ended),
                ", ".join(ended),
            )
            self._load_positions()

    def reask_risk(self) -> None:
        """Ask again about the intents the risk manager left unanswered (when they are due)."""
        for intent in self.core.reask_due():
            log.warning("asking the risk manager again about unanswered intent %s", intent.intent_id)
            self._ask_risk(intent, self.clock.now_ns())

    def on_reports(self) -> None:
        for _topic, env in self.reports.recv_batch(0):
            r = env.payload
            if isinstance(r, wire.ExecutionReport) and r.strategy:
                self.core.on_report(
                    r.strategy, r.symbol, r.status, r.position_qty, r.intent_id or None, r.side.value, r.filled_qty
                )

    def _drain_core_events(self, quiet_drops: bool = False) -> None:
        for ev in self.core.drain_events():
            if isinstance(ev, StrategyError):
                self.metrics.common.error("strategy")
                log.error(
                    "strategy error strategy=%s symbol=%s hook=%s %s: %s (consecutive %d)",
                    ev.strategy,
                    ev.symbol,
                    ev.hook,
                    ev.error_type,
                    ev.message,
                    ev.consecutive,
                )
            elif isinstance(ev, StrategyDisabled):
                log.error("strategy disabled strategy=%s reason=%s", ev.strategy, ev.reason)
            elif isinstance(ev, IntentDropped) and not quiet_drops:
                log.info("intent dropped strategy=%s symbol=%s reason=%s", ev.strategy, ev.symbol, ev.reason)

    # ------------------------------------------------------------------ control
    def on_control(self) -> None:
        for identity, env in self.control_server.poll(0):
            cmd = env.payload
            if not isinstance(cmd, wire.ControlCommand):
                continue
            before = None if cmd.action == "status" else self.status()
            if cmd.action == "set_trading_enabled":
                enabled = cmd.args.get("enabled", "true") == "true"
                self.core.set_trading_enabled(enabled)
                log.warning(
                    "automatic trading %s by %s: %s",
                    "ENABLED" if enabled else "DISABLED (safe mode)",
                    cmd.actor or "operator",
                    cmd.reason,
                )
                result = wire.ControlResult(True, f"trading {'enabled' if enabled else 'disabled'}", self.status())
            elif cmd.action == "status":
                result = wire.ControlResult(True, data=self.status())
            elif cmd.action in MODEL_ACTIONS:
                result = self.models.control(cmd)
            else:
                result = wire.ControlResult(False, f"unknown action {cmd.action!r}")
            self.rt.audit_command(cmd, result, before, result.data or None)
            self.control_server.reply(identity, result, env.correlation_id)

    def status(self) -> dict[str, Any]:
        c = self.core
        return {
            "trading_enabled": c.trading_enabled,
            "signals": c.signals,
            "sent_intents": c.sent_intents,
            "suppressed_intents": c.suppressed_intents,
            "disabled_strategies": list(c.disabled_strategies),
            "stale_symbols": sorted(self.stale),
            "intents_pending": len(c.pending_intents()),
            "intents_unanswered": c.unanswered,
            "repeated_bars": c.repeated_bars,
            **self.models.status(),
        }

    # ------------------------------------------------------------------ loop
    def serve(self) -> None:
        poller = Poller()
        for sock in (self.md, self.reports, self.control_server):
            poller.register(sock)
        stop = self.rt.stop_event
        while not stop.is_set():
            ready = poller.poll(50)
            if self.reports in ready:
                self.on_reports()
            if self.md in ready:
                self.on_market_data()
            if self.control_server in ready:
                self.on_control()
            if self.core.unanswered:
                self.reask_risk()
            if self._overdue_due.due() and self.core.overdue_intents(OVERDUE_S):
                self.settle_overdue()
            if self._resync:
                self._resync = False
                self._load_positions()  # a gap in the reports: take the engine's positions
            if self._heartbeat_due.due():
                self.rt.export_drops(self.md, self.reports, self.control_server)
                self.pub.publish(
                    wire.heartbeat("signal_bridge"),
                    wire.Heartbeat(
                        "signal_bridge", "ok" if self.core.trading_enabled else "safe_mode", self.clock.now_ns()
                    ),
                )
            if (new_cfg := self.rt.try_reload()) is not None:
                self.models.on_config(new_cfg)  # a changed signals.model_path: gate and swap

    def _start_idle(self, name: str, model_path: str) -> Strategy | None:
        """Build and start `name`, a model strategy of the running config that was idle at
        start (it had no model path), with the model at `model_path`; None when `name` is no
        such strategy (unknown, disabled in the config, another kind, or running already)."""
        cfg = self.rt.cfg
        entry = next((s for s in cfg.system.signals.strategies if s.name == name), None)
        if entry is None or not entry.enabled or name in self.core.strategy_names:
            return None
        spec = next(sp for sp in strategy_specs(cfg) if sp["name"] == name)
        if spec["kind"] != OnnxModelStrategy.kind:
            return None
        spec = {**spec, "enabled": True, "params": {**spec["params"], "model_path": model_path}}
        [strategy] = build_strategies([spec], strategies_dir(cfg))
        self.core.add_strategy(strategy)
        return strategy

    def _risk_control(self, cmd: wire.ControlCommand) -> Any:
        try:
            return self.risk.request(cmd).payload
        except RequestTimeout:
            return None

    def _audit_model(self, action: str, detail: dict[str, Any]) -> None:
        cmd = wire.ControlCommand(
            action, {k: str(v) for k, v in detail.items()}, str(detail.get("reason", "")), "signal_bridge"
        )
        self.rt.audit_command(cmd, wire.ControlResult(True, action))

    def ready_info(self) -> dict[str, Any]:
        return {"trading_enabled": self.core.trading_enabled, "strategies": list(self.core.strategy_names)}

    def close(self) -> None:
        for sock in (self.md, self.reports, self.pub, self.risk, self.exec, self.control_server):
            sock.close()


def run(config_dir: Path, stop_event: threading.Event | None = None) -> int:
    return run_service("signal_bridge", config_dir, SignalBridge, stop_event)


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1] if len(sys.argv) > 1 else "config")))
