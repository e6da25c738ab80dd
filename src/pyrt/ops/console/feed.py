"""The console's live state, kept by the control process for the web page.

Two sources, one state:
- the bus (a thread subscribed, with the deployment's key, to what the services publish):
  fills and order reports, positions, P&L, risk decisions (the denied intents with their
  reason codes), the risk state, integrity alerts and every service's heartbeat. A fill
  bumps the state at once, so the page shows it as soon as the engine has published it;
- a refresh every `refresh_s` through the control facade (the same reads as the CLI and
  REST): processes, breaker, trading state, positions, open orders, audit, limits, the
  account's equity (a point of the day's curve every 5 s), and each service's metrics (bus
  gaps and drops, errors).

`version` grows with every change; the page's event stream (pyrt.ops.console.web) sends the
state whenever it has grown. While no page watches (no stream, no state read for
IDLE_AFTER_S) the refresh slows to IDLE_REFRESH_S: an unwatched console costs the broker's
rate limit next to nothing. Nothing here acts: actions go through the facade's routes."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from pyrt.bus import schema as wire
from pyrt.config.system import TRADING_SERVICES
from pyrt.domain.clock import iso_utc
from pyrt.ops.console import views

log = logging.getLogger("pyrt.console")

MAX_FILLS = 100
MAX_DENIALS = 50
MAX_ALERTS = 50
MAX_EQUITY_POINTS = 2_000
EQUITY_EVERY_NS = 5 * 10**9
METRICS_EVERY_S = 2.0
IDLE_AFTER_S = 10.0
IDLE_REFRESH_S = 15.0
COUNTERS = ("bus_seq_gaps_total", "bus_messages_dropped_total", "trading_errors_total")


def sum_counters(text: str) -> dict[str, float]:
    """Each of COUNTERS summed over its labels, from a Prometheus text exposition."""
    from pyrt.ops.gateway import parse_exposition

    out = dict.fromkeys(COUNTERS, 0.0)
    for family in parse_exposition(text):
        for s in family.samples:
            if s.name in out:
                try:
                    out[s.name] += float(s.value)
                except ValueError:
                    continue
    return out


class ConsoleFeed:
    def __init__(
        self,
        cfg: Any,
        facade: Any,
        targets: Callable[[], Sequence[Any]] | None = None,
        refresh_s: float = 1.0,
    ) -> None:
        self.cfg = cfg
        self.facade = facade
        self.targets = targets
        self.refresh_s = refresh_s
        self.version = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._parts: dict[str, Any] = {"venue": views.venue_view(cfg.venue), "model": self._model()}
        self._fills: deque[dict[str, Any]] = deque(maxlen=MAX_FILLS)
        self._denials: deque[dict[str, Any]] = deque(maxlen=MAX_DENIALS)
        self._alerts: deque[dict[str, Any]] = deque(maxlen=MAX_ALERTS)
        self._equity: deque[tuple[str, str]] = deque(maxlen=MAX_EQUITY_POINTS)
        self._equity_day = ""
        self._last_equity_ns = 0
        self._heartbeats: dict[str, tuple[int, str]] = {}
        self._metrics: dict[str, dict[str, float]] = {}
        self._metrics_at = 0.0
        self._pnl: dict[str, str] = {}
        self._watched_at = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ConsoleFeed:
        """Load what happened before this process started, then follow the bus and refresh."""
        self.load_history()
        for name, target in (("console-bus", self._follow_bus), ("console-refresh", self._refresh_loop)):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def load_history(self) -> None:
        """The recent fills from the journal, the risk manager's recent denials and breaker
        trips (this process starts with none: the panels would be empty after its restart)."""
        try:
            for f in self.facade.journal_fills()[-MAX_FILLS:]:
                self._fills.append(f.row())
        except Exception as exc:  # noqa: BLE001 - an unreadable journal must not stop the console
            log.warning("console: could not read recent fills from the journal: %s", exc)
        self._load_denials()

    def _load_denials(self) -> None:
        """The risk manager's recent denials and breaker trips (it keeps them)."""
        res = self._safe(lambda: self.facade.command("risk_manager", "recent", timeout_ms=1000), None)
        data = (getattr(res, "data", None) or {}) if getattr(res, "ok", False) else {}
        for d in data.get("denials", []):
            self._denials.append(
                {
                    "time": views.iso_ns(int(d["ts_ns"])),
                    "intent_id": d["intent_id"],
                    "strategy": d["strategy"],
                    "order": " ".join(x for x in (d["side"], d["qty"], d["symbol"]) if x),
                    "reason_code": d["reason_code"],
                    "message": d["message"],
                }
            )
        for a in data.get("alerts", []):
            detail = f"{a['mode']}: {a['reason']}"
            self._alerts.append(
                {"time": views.iso_ns(int(a["ts_ns"])), "kind": a["kind"], "symbol": "", "detail": detail}
            )

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop the threads. A refresh may be waiting on a service that is gone (its request
        times out later): the threads are daemons, so the process never waits longer than
        `timeout_s` in all for them (a stopping control process must stop within its grace)."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._stop.is_set()

    # ------------------------------------------------------------------ the state
    def touch(self) -> None:
        """A page watches: refresh at full rate (at once if the feed was idle)."""
        if self.idle:
            self._wake.set()
        self._watched_at = time.monotonic()

    @property
    def idle(self) -> bool:
        return time.monotonic() - self._watched_at > IDLE_AFTER_S

    def state(self) -> dict[str, Any]:
        """The whole console state (a copy), with its version."""
        self.touch()
        if not self.running and "trading" not in self._parts:
            self.refresh()  # not started (an API built without a running feed): read once
        with self._lock:
            return {
                **self._parts,
                "version": self.version,
                "fills": list(self._fills)[::-1],
                "denials": list(self._denials)[::-1],
                "alerts": list(self._alerts)[::-1],
                "equity_curve": list(self._equity),
                "services": views.services_view(
                    self._parts.get("processes", {}),
                    self._heartbeats,
                    self._metrics,
                    time.time_ns(),
                    TRADING_SERVICES,
                ),
            }

    def _bump(self) -> None:
        self.version += 1

    def _model(self) -> dict[str, Any] | None:
        """The model in service: the strategies of kind onnx_model and their model file."""
        default = self.cfg.system.signals.model_path
        found = [
            {"strategy": s.name, "model_path": str(s.params.get("model_path") or default or "")}
            for s in self.cfg.system.signals.strategies
            if s.kind == "onnx_model"
        ]
        return {"strategies": found} if found else None

    # ------------------------------------------------------------------ refresh
    def _refresh_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - keep refreshing; the page shows the last state
                log.warning("console refresh failed: %s: %s", type(exc).__name__, exc)
            self._wake.wait(IDLE_REFRESH_S if self.idle else self.refresh_s)
            self._wake.clear()

    def refresh(self) -> None:
        """Read everything the facade offers once and publish it as a new version."""
        f = self.facade
        status = f.status()
        positions = self._safe(f.positions, [])
        orders = self._safe(lambda: f.orders("open", 200), [])
        audit = self._safe(lambda: f.audit.entries(30), [])
        risk = status.get("risk", {})
        breaker = dict(risk.get("breaker", {})) if isinstance(risk.get("breaker"), dict) else {}
        at_ns = breaker.get("activated_at_ns")
        breaker["activated_at"] = iso_utc(int(at_ns)) if at_ns and breaker.get("active") else None
        account = status.get("account", {})
        if self.targets is not None and time.monotonic() - self._metrics_at >= METRICS_EVERY_S:
            self._scrape()
        loss_limit = self.cfg.risk.loss_limits.max_daily_loss
        daily = views.dec(breaker.get("daily_pnl", risk.get("daily_pnl")))
        parts = {
            "at": iso_utc(time.time_ns()),
            "processes": status.get("services", {}),
            "trading": {
                "state": status.get("trading_state"),
                "automatic": status.get("automatic_trading"),
                "safe_mode": status.get("automatic_trading") is False,
                "execution": status.get("execution", {}),
                "reduce_only_strategies": risk.get("reduce_only_strategies", {}),
            },
            "breaker": breaker,
            "account": account,
            "positions": views.positions_view(positions),
            "orders": views.orders_view(orders),
            "pnl": {
                "daily": views.money(daily),
                "realized": self._pnl.get("realized"),
                "unrealized": self._pnl.get("unrealized"),
                "daily_loss_limit": str(loss_limit),
                "loss_used_pct": round(float(max(-daily, views.ZERO) / loss_limit * 100), 1),
            },
            "limits": views.limits_view(self.cfg.risk, {**risk, "breaker": breaker}, positions),
            "audit": audit[::-1],
        }
        equity = account.get("equity") if isinstance(account, dict) else None
        with self._lock:
            self._parts.update(parts)
            if equity:
                self._equity_point(time.time_ns(), str(equity))
            self._bump()

    def _safe(self, fn: Callable[[], Any], default: Any) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - one failed read leaves that panel empty, not the page
            log.debug("console read failed: %s", exc)
            return default

    def _scrape(self) -> None:
        from pyrt.ops.gateway import scrape

        assert self.targets is not None
        found = {}
        for t in self.targets():
            text = scrape(t.url, 1.0)
            if text is not None:
                found[t.service] = sum_counters(text)
        self._metrics = found
        self._metrics_at = time.monotonic()

    def _equity_point(self, ts_ns: int, equity: str) -> None:
        """One point of the day's equity curve (at most one per EQUITY_EVERY_NS); a new
        UTC day starts a new curve."""
        day = iso_utc(ts_ns)[:10]
        if day != self._equity_day:
            self._equity.clear()
            self._equity_day = day
        if ts_ns - self._last_equity_ns >= EQUITY_EVERY_NS:
            self._equity.append((iso_utc(ts_ns), equity))
            self._last_equity_ns = ts_ns

    # ------------------------------------------------------------------ the bus
    def _follow_bus(self) -> None:
        from pyrt.bus import security as bus_security
        from pyrt.bus.poller import Poller
        from pyrt.bus.zmq import ZmqSubscriber

        sysc = self.cfg.system
        security = bus_security.for_config(self.cfg)
        subs = [
            ZmqSubscriber(
                sysc.execution.report_publish_address,
                [wire.EXEC_PREFIX, wire.HEARTBEAT_PREFIX],
                security=security,
            ),
            ZmqSubscriber(sysc.risk.publish_address, [wire.RISK_PREFIX, wire.HEARTBEAT_PREFIX], security=security),
            ZmqSubscriber(sysc.market_data.zmq_publish_address, [wire.HEARTBEAT_PREFIX], security=security),
            ZmqSubscriber(sysc.signals.publish_address, [wire.HEARTBEAT_PREFIX], security=security),
        ]
        poller = Poller()
        for s in subs:
            poller.register(s)
        try:
            while not self._stop.is_set():
                ready = poller.poll(200)
                for s in subs:
                    if s in ready:
                        for _topic, env in s.recv_batch(0):
                            self.on_message(env.payload, env.ts_event)
        finally:
            for s in subs:
                s.close()

    def on_message(self, p: Any, ts_ns: int) -> None:
        """One message of the bus into the state (a fill, a denial and an alert bump it at
        once; positions and risk state wake the refresh)."""
        with self._lock:
            if isinstance(p, wire.Heartbeat):
                self._heartbeats[p.service] = (time.time_ns(), p.status)
                return
            if isinstance(p, wire.ExecutionReport):
                if p.fill_qty is None or p.fill_price is None:
                    self._poke()
                    return
                self._fills.append(
                    {
                        "time": views.iso_ns(ts_ns),
                        "symbol": p.symbol,
                        "side": str(getattr(p.side, "value", p.side)),
                        "qty": str(p.fill_qty),
                        "price": str(p.fill_price),
                        "strategy": p.strategy,
                        "client_order_id": p.client_order_id,
                        "execution_id": "",
                    }
                )
            elif isinstance(p, wire.RiskDecisionMsg):
                d = p.decision
                if d.approved:
                    return
                self._denials.append(
                    {
                        "time": views.iso_ns(d.ts_ns or ts_ns),
                        "intent_id": d.intent_id,
                        "strategy": p.strategy,
                        "order": " ".join(x for x in (p.side, str(p.qty or ""), p.symbol) if x),
                        "reason_code": d.reason_code,
                        "message": d.message,
                    }
                )
            elif isinstance(p, wire.IntegrityAlert):
                self._alerts.append(
                    {"time": views.iso_ns(ts_ns), "kind": p.kind, "symbol": p.symbol, "detail": p.detail}
                )
            elif isinstance(p, wire.RiskState):
                was_active = bool(self._parts.get("breaker", {}).get("active"))
                if p.circuit_breaker_active and not was_active:
                    self._alerts.append(
                        {"time": views.iso_ns(ts_ns), "kind": "circuit_breaker", "symbol": "", "detail": p.reason}
                    )
                    self._parts["breaker"] = {**self._parts.get("breaker", {}), "active": True}
                self._poke()
                return
            elif isinstance(p, wire.PnLUpdate):
                self._pnl = {"realized": str(p.realized), "unrealized": str(p.unrealized)}
                return
            elif isinstance(p, wire.PositionUpdate):
                self._poke()
                return
            else:
                return
            self._bump()
        self._poke()

    def _poke(self) -> None:
        """Refresh now, if a page watches (an idle feed keeps its slow pace)."""
        if not self.idle:
            self._wake.set()
