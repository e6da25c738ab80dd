"""The control facade: the one implementation of every operator action, under both the
REST control API and the CLI (and so the scripts). It talks to the services over their
request/reply endpoints (ControlCommand / OrderIntentMsg) and reads the broker through the
venue adapter. Every mutating action writes exactly one audit entry.

Reads of positions, orders and the account come from the execution engine's projection
when it is up, else from the broker within a read budget and a short cache (ops.reads,
review S2), so that no number of API reads can take the engine's broker requests."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from pyrt.bus import schema as wire
from pyrt.bus.security import for_config
from pyrt.bus.zmq import RequestClient, RequestTimeout
from pyrt.config.system import TRADING_SERVICES
from pyrt.domain.clock import iso_utc
from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.errors import Refused
from pyrt.domain.ids import client_order_id
from pyrt.domain.intents import OrderIntent
from pyrt.ops.audit import AuditLog, Caller
from pyrt.ops.reads import CachedReads, ReadThrottled
from pyrt.services.execution.budget import RequestBudget
from pyrt.venues.port import BrokerOrder, NotFound, OrderRejectedByVenue, VenueError

log = logging.getLogger("pyrt.control")


class ActionError(Refused):
    """An operator action that cannot be done as asked (HTTP 409/422 in the API)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


NO_ANSWER = "(is it running?)"


def cents(value: Any) -> Any:
    """A money amount as a string rounded to cents ('1234.57'), not a 28-digit decimal; what
    is not a number passes through."""
    from decimal import ROUND_HALF_EVEN, InvalidOperation

    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return value
    if not amount.is_finite():
        return value
    return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def _no_answer(res: wire.ControlResult) -> bool:
    """True when the service did not answer at all (as opposed to refusing)."""
    return res.detail.endswith(NO_ANSWER)


def _refused(res: wire.ControlResult) -> ActionError:
    """A service's refusal (409), or 503 when the service did not answer at all."""
    return ActionError(res.detail, 503 if _no_answer(res) else 409)


def _position_json(p: Any) -> dict[str, Any]:
    return {
        "symbol": p.symbol,
        "qty": str(p.qty),
        "avg_entry_price": str(p.avg_entry_price),
        "market_value": str(p.market_value),
        "unrealized_pl": str(p.unrealized_pl),
        "current_price": str(p.current_price),
    }


def _engine_position_json(p: wire.PositionUpdate) -> dict[str, Any]:
    price = p.market_value / p.qty if p.qty else p.avg_entry_price
    return {
        "symbol": p.symbol,
        "qty": str(p.qty),
        "avg_entry_price": str(p.avg_entry_price),
        "market_value": str(p.market_value),
        "unrealized_pl": str(p.unrealized_pnl),
        "current_price": str(price),
    }


def _engine_order_json(r: wire.ExecutionReport) -> dict[str, Any]:
    """An order of the engine's projection, in the broker's shape. Its status is the
    engine's state ("accepted" where the broker says "new"); `id` is null until acked."""
    return {
        "id": r.broker_order_id or None,
        "client_order_id": r.client_order_id,
        "symbol": r.symbol,
        "side": str(getattr(r.side, "value", r.side)),
        "type": r.order_type or None,
        "time_in_force": r.time_in_force or None,
        "status": r.status,
        "qty": str(r.qty),
        "filled_qty": str(r.filled_qty),
        "filled_avg_price": None if r.avg_price is None else str(r.avg_price),
        "limit_price": None if r.limit_price is None else str(r.limit_price),
        "submitted_at": iso_utc(r.created_ns) if r.created_ns else None,
    }


def _order_json(o: BrokerOrder) -> dict[str, Any]:
    return {
        "id": o.id,
        "client_order_id": o.client_order_id,
        "symbol": o.symbol,
        "side": o.side,
        "type": o.type,
        "time_in_force": o.time_in_force,
        "status": o.status,
        "qty": str(o.qty),
        "filled_qty": str(o.filled_qty),
        "filled_avg_price": None if o.filled_avg_price is None else str(o.filled_avg_price),
        "limit_price": None if o.limit_price is None else str(o.limit_price),
        "submitted_at": o.submitted_at,
    }


class ControlFacade:
    def __init__(self, cfg: Any, venue: Any | None = None, notifier: Any | None = None, timeout_ms: int = 3000) -> None:
        self.cfg = cfg
        self.audit = AuditLog(cfg.system.execution.journal_path)
        self._venue = venue
        self.notifier = notifier
        self.timeout_ms = timeout_ms
        ex = cfg.system.execution
        self.reads = CachedReads(
            RequestBudget(
                ex.request_budget_per_minute, ex.cancel_reserve_per_minute, read_reserve=ex.read_reserve_per_minute
            )
        )

    # ------------------------------------------------------------------ plumbing
    @property
    def venue(self) -> Any:
        if self._venue is None:
            from pyrt.bootstrap import make_venue

            self._venue = make_venue(self.cfg, timeout_s=5.0, on_rate_limit_headers=self.reads.budget.on_headers)
        return self._venue

    def _endpoint(self, service: str) -> str:
        sysc = self.cfg.system
        return {
            "risk_manager": sysc.risk.intent_endpoint,
            "execution_engine": sysc.execution.order_endpoint,
            "signal_bridge": sysc.signals.control_endpoint,
        }[service]

    def _request(self, service: str, payload: Any, timeout_ms: int | None = None) -> Any:
        with RequestClient(
            self._endpoint(service),
            timeout_ms=timeout_ms or self.timeout_ms,
            client_id=f"control-{service}",
            security=for_config(self.cfg),
        ) as client:
            return client.request(payload).payload

    def command(
        self,
        service: str,
        action: str,
        caller: Caller | None = None,
        reason: str = "",
        timeout_ms: int | None = None,
        **args: object,
    ) -> wire.ControlResult:
        """Send one ControlCommand; a service that does not answer yields ok=False."""
        cmd = wire.ControlCommand(
            action, {k: str(v) for k, v in args.items()}, reason, caller.name if caller else "control"
        )
        try:
            result = self._request(service, cmd, timeout_ms)
        except RequestTimeout:
            return wire.ControlResult(False, f"{service} did not answer {NO_ANSWER}")
        if not isinstance(result, wire.ControlResult):
            return wire.ControlResult(False, f"{service} answered {type(result).__name__}")
        return result

    def _answers(self, service: str) -> bool:
        """Whether `service` answers a status request within a second: asked before the
        actions with long timeouts, so that a stopped service costs a second, not ten."""
        return not _no_answer(self.command(service, "status", timeout_ms=1000))

    def _audited(
        self,
        caller: Caller,
        action: str,
        reason: str,
        before: Any,
        run: Callable[[], dict[str, Any]],
        after: Callable[[], Any],
    ) -> dict[str, Any]:
        try:
            result = run()
        except ActionError as exc:
            self.audit.record(caller, action, reason, before, before, {"ok": False, "error": str(exc)})
            raise
        except Exception as exc:  # the action broke half-way (broker, journal ...): the state after is unknown
            self.audit.record(
                caller, action, reason, before, None, {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            )
            raise
        self.reads.forget()  # the next read sees what the action changed
        self.audit.record(caller, action, reason, before, after(), result)
        return result

    # ------------------------------------------------------------------ models
    def models(self) -> dict[str, Any]:
        """The model registry (artefacts in models/, deploy history) and what the running
        signal bridge serves (None when it does not answer)."""
        from pyrt.ops.model_registry import list_models, read_registry

        res = self.command("signal_bridge", "model_status", timeout_ms=1000)
        return {
            "models": list_models(self.cfg),
            "history": read_registry(self.cfg)["history"],
            "serving": res.data.get("models") if res.ok else None,
        }

    def _served_model(self) -> dict[str, Any]:
        from pyrt.ops.model_registry import served_path

        path = served_path(self.cfg)
        return {"model_path": str(path) if path else None}

    def deploy_model(
        self, caller: Caller, path: str, reason: str, shadow_bars: int = 0, min_agreement: float = 0.0
    ) -> dict[str, Any]:
        """Gate a model file, copy it into models/ and serve it (config and a running bridge),
        after `shadow_bars` bars in shadow with at least `min_agreement` when asked; a refused
        model (ActionError 409 with the reason) changes nothing."""
        from pyrt.ops.model_registry import deploy

        def run() -> dict[str, Any]:
            out = deploy(self.cfg, Path(path), caller.name, reason, shadow_bars, min_agreement)
            if not out.ok:
                raise ActionError(out.detail)
            return {"ok": True, "detail": out.detail, "model_path": out.served, "signal_bridge": out.bridge}

        return self._audited(caller, "model.deploy", reason, self._served_model(), run, self._served_model)

    def rollback_model(self, caller: Caller, reason: str) -> dict[str, Any]:
        """Serve the previously deployed model again (no restart)."""
        from pyrt.ops.model_registry import rollback

        def run() -> dict[str, Any]:
            out = rollback(self.cfg, actor=caller.name, reason=reason)
            if not out.ok:
                raise ActionError(out.detail)
            return {"ok": True, "detail": out.detail, "model_path": out.served, "signal_bridge": out.bridge}

        return self._audited(caller, "model.rollback", reason, self._served_model(), run, self._served_model)

    # ------------------------------------------------------------------ reads
    def status(self) -> dict[str, Any]:
        from pyrt.ops.status import system_status

        processes = {
            p.name: {"running": p.running, "ready": p.ready, "pid": p.pid, "uptime_s": p.uptime_s}
            for p in system_status(self.cfg)
        }
        risk = self.command("risk_manager", "status", timeout_ms=1000)
        execution = self.command("execution_engine", "status", timeout_ms=1000)
        signals = self.command("signal_bridge", "status", timeout_ms=1000)
        out: dict[str, Any] = {
            "services": processes,
            "risk": risk.data if risk.ok else {"error": risk.detail},
            "execution": execution.data if execution.ok else {"error": execution.detail},
            "signals": signals.data if signals.ok else {"error": signals.detail},
        }
        breaker = out["risk"].get("breaker", {}) if risk.ok else {}
        out["circuit_breaker"] = {
            "active": bool(breaker.get("active")),
            "trigger": breaker.get("trigger"),
            "reason": breaker.get("reason"),
            "mode": breaker.get("mode"),
        }
        out["trading_state"] = out["risk"].get("trading_state") if risk.ok else "UNKNOWN"
        out["automatic_trading"] = bool(signals.data.get("trading_enabled")) if signals.ok else None
        try:
            acct = self.reads.broker(("account",), self.venue.account)
            out["account"] = {
                "cash": cents(acct.cash),
                "equity": cents(acct.equity),
                "buying_power": cents(acct.buying_power),
            }
        except (VenueError, ReadThrottled) as exc:
            out["account"] = {"error": str(exc)}
        for money in ("total_exposure", "daily_pnl"):
            if money in out["risk"]:
                out["risk"][money] = cents(out["risk"][money])
        if "daily_pnl" in breaker:
            breaker["daily_pnl"] = cents(breaker["daily_pnl"])
        out["pnl"] = {"daily": breaker.get("daily_pnl")}
        return out

    def _engine_snapshot(self, kind: str) -> list[Any] | None:
        """The execution engine's projection of `kind`, or None when it does not answer."""

        def ask() -> list[Any] | None:
            try:
                snap = self._request(
                    "execution_engine", wire.SnapshotRequest(kind, reason="control read"), timeout_ms=1000
                )
            except RequestTimeout:
                return None
            return list(snap.items) if isinstance(snap, wire.Snapshot) else None

        return self.reads.engine(kind, ask)

    def _read(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ReadThrottled as exc:
            raise ActionError(str(exc), 429) from None

    def positions(self) -> list[dict[str, Any]]:
        """The positions: the engine's projection when it is up, else the broker's (budgeted, cached)."""
        snap = self._engine_snapshot("positions")
        if snap is not None:
            return [_engine_position_json(p) for p in snap if isinstance(p, wire.PositionUpdate) and p.qty != 0]
        return [_position_json(p) for p in self._read(lambda: self.reads.broker(("positions",), self.venue.positions))]

    def _broker_positions(self) -> list[dict[str, Any]]:
        """Fresh from the broker (an action's plan and its check), not cached."""
        return [_position_json(p) for p in self.venue.positions()]

    def orders(self, status: str = "open", limit: int = 100) -> list[dict[str, Any]]:
        """Open orders from the engine's projection when it is up; otherwise, and for closed
        or all orders, the broker's (budgeted, cached per status, oldest first)."""
        if status not in ("open", "closed", "all"):
            raise ActionError("status must be open, closed or all", 422)
        if status == "open":
            snap = self._engine_snapshot("orders")
            if snap is not None:
                reports = sorted(
                    (r for r in snap if isinstance(r, wire.ExecutionReport)), key=lambda r: r.client_order_id
                )
                return [_engine_order_json(r) for r in reports][:limit]
        found = self._read(
            lambda: self.reads.broker(("orders", status), lambda: self.venue.list_orders(status, None, 500))
        )
        return [_order_json(o) for o in found[:limit]]

    def order(self, order_id: str) -> dict[str, Any]:
        """One order by our client_order_id or the broker's id, with its fills from the journal."""
        try:
            self._read(self.reads.acquire)
            found = self.venue.get_order_by_client_id(order_id)
        except (NotFound, OrderRejectedByVenue):  # the venue's 4xx: not an id it could have (e.g. too long)
            try:
                self._read(self.reads.acquire)
                found = self.venue.get_order(order_id)
            except (NotFound, VenueError):
                raise ActionError(f"no order {order_id!r} (neither a client_order_id nor a broker id)", 404) from None
        out = _order_json(found)
        out["fills"] = self._fills(found.client_order_id)
        return out

    def _fills(self, coid: str) -> list[dict[str, Any]]:
        from pyrt.domain.events import RecordKind
        from pyrt.persistence.journal import Journal

        path = self.cfg.system.execution.journal_path
        if not path.exists():
            return []
        with Journal(path, read_only=True) as journal:
            return [
                {
                    "execution_id": r.payload.get("execution_id"),
                    "qty": r.payload.get("qty"),
                    "price": r.payload.get("price"),
                    "ts_ns": r.ts_ns,
                }
                for r in journal.iter_records()
                if r.kind == RecordKind.FILL and r.client_order_id == coid
            ]

    def journal_fills(self) -> list[Any]:
        """Every fill of the journal (``pyrt.ops.console.views.Fill``), oldest first."""
        from pyrt.ops.console.views import fills_from_records
        from pyrt.persistence.journal import Journal

        path = self.cfg.system.execution.journal_path
        if not path.exists():
            return []
        with Journal(path, read_only=True) as journal:
            return fills_from_records(journal.iter_records())

    def fills(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest `limit` fills, oldest first."""
        return [f.row() for f in self.journal_fills()[-limit:]] if limit > 0 else []

    def pnl(self, days: int = 1) -> list[dict[str, str]]:
        """Realised P&L per UTC day over the last `days` days (from the journal's fills, by
        average cost), today with the open positions' unrealised P&L."""
        from pyrt.ops.console.views import dec, pnl_view

        if days < 1:
            raise ActionError("days must be at least 1", 422)
        unrealized = sum((dec(p["unrealized_pl"]) for p in self.positions()), Decimal(0))
        return pnl_view(self.journal_fills(), days, iso_utc(time.time_ns())[:10], unrealized)

    # ------------------------------------------------------------------ trading controls
    def breaker_activate(self, caller: Caller, reason: str, mode: str = "HALTED") -> dict[str, Any]:
        reason = reason or "manual activation"
        before = self._breaker()

        def run() -> dict[str, Any]:
            res = self.command("risk_manager", "breaker_activate", caller, reason, mode=mode)
            if not res.ok:
                raise _refused(res)
            return {"ok": True, "detail": res.detail}

        return self._audited(caller, "circuit_breaker.activate", reason, before, run, self._breaker)

    def breaker_deactivate(self, caller: Caller, reason: str, force: bool = False) -> dict[str, Any]:
        if not reason.strip():
            raise ActionError(
                'a reason is required to deactivate the circuit breaker: send {"reason": "<why it is safe>"} '
                '(CLI: pyrt breaker deactivate --reason "...")',
                422,
            )
        before = self._breaker()

        def run() -> dict[str, Any]:
            res = self.command("risk_manager", "breaker_deactivate", caller, reason, force=str(force).lower())
            if not res.ok:
                raise _refused(res)
            return {"ok": True, "detail": res.detail}

        return self._audited(caller, "circuit_breaker.deactivate", reason, before, run, self._breaker)

    def _breaker(self) -> dict[str, Any]:
        res = self.command("risk_manager", "status", timeout_ms=1000)
        b = res.data.get("breaker", {}) if res.ok else {}
        return {"active": b.get("active"), "mode": b.get("mode"), "trigger": b.get("trigger")}

    def set_trading(self, caller: Caller, enabled: bool, reason: str) -> dict[str, Any]:
        """Enable or disable automatic trading (safe mode) in the signal bridge."""
        reason = reason or ("resume normal operation" if enabled else "safe mode")
        before = self._trading()

        def run() -> dict[str, Any]:
            res = self.command("signal_bridge", "set_trading_enabled", caller, reason, enabled=str(enabled).lower())
            if not res.ok:
                raise _refused(res)
            out: dict[str, Any] = {"ok": True, "detail": res.detail}
            if enabled:
                blockers, steps = self.trading_blockers()
                out["blocked_by"], out["next_steps"] = blockers, steps
                if blockers:
                    out["detail"] = f"{res.detail}, but every order is still denied: {'; '.join(blockers)}" + "".join(
                        f". Next: {step}" for step in steps
                    )
            return out

        return self._audited(
            caller, "trading.enable" if enabled else "trading.disable", reason, before, run, self._trading
        )

    def trading_blockers(self) -> tuple[list[str], list[str]]:
        """What stops orders other than safe mode (the circuit breaker, the risk manager's
        trading state, a halted or not yet ready execution engine), and the commands that
        clear those causes."""
        from pyrt.ops.health import ADOPT_COMMAND, BREAKER_COMMAND

        blockers: list[str] = []
        steps: list[str] = []
        risk = self.command("risk_manager", "status", timeout_ms=1000)
        if not risk.ok:
            blockers.append(f"the risk manager does not answer ({risk.detail})")
        else:
            b = risk.data.get("breaker", {})
            if b.get("active"):
                blockers.append(f"circuit breaker active ({b.get('trigger')}: {b.get('reason')})")
            elif risk.data.get("trading_state") not in (None, "ACTIVE"):
                blockers.append(f"risk manager trading state {risk.data.get('trading_state')}")
        execution = self.command("execution_engine", "status", timeout_ms=1000)
        if not execution.ok:
            blockers.append(f"the execution engine does not answer ({execution.detail})")
        elif execution.data.get("halted"):
            blockers.append(f"execution engine halted: {execution.data['halted']}")
        elif execution.data.get("accepting") is False:
            blockers.append("execution engine not ready yet (reconciling with the broker)")
        text = " ".join(blockers)
        if "position mismatch" in text or "position_mismatch" in text:
            steps.append(f"adopt the broker's positions: {ADOPT_COMMAND}")
        elif "circuit breaker active" in text:
            steps.append(f"once the cause is fixed: {BREAKER_COMMAND}")
        return blockers, steps

    def _trading(self) -> dict[str, Any]:
        res = self.command("signal_bridge", "status", timeout_ms=1000)
        return {"automatic_trading": res.data.get("trading_enabled") if res.ok else None}

    # ------------------------------------------------------------------ orders
    def submit_order(
        self,
        caller: Caller,
        symbol: str,
        side: str,
        qty: Decimal,
        order_type: str = "market",
        limit_price: Decimal | None = None,
        time_in_force: str = "day",
        reason: str = "",
    ) -> dict[str, Any]:
        """A manual order, through the same risk checks as any strategy's."""
        try:
            intent = OrderIntent(
                intent_id=f"m{time.time_ns():x}",
                strategy="manual",
                symbol=symbol.upper(),
                side=OrderSide(side),
                qty=Decimal(qty),
                order_type=OrderType(order_type),
                time_in_force=TimeInForce(time_in_force),
                limit_price=limit_price,
                ts_ns=time.time_ns(),
                reason=f"manual by {caller.name}: {reason}",
            )
        except ValueError as exc:
            raise ActionError(str(exc), 422) from None
        if intent.qty <= 0:
            raise ActionError("quantity must be > 0", 422)
        if intent.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and limit_price is None:
            raise ActionError("a limit order needs --limit-price", 422)
        coid = client_order_id(intent.strategy, intent.intent_id)

        def run() -> dict[str, Any]:
            try:
                reply = self._request("risk_manager", wire.OrderIntentMsg(intent), timeout_ms=5000)
            except RequestTimeout:
                raise ActionError("the risk manager did not answer (is the system running?)", 503) from None
            decision = reply.decision
            out = {
                "approved": decision.approved,
                "reason_code": decision.reason_code,
                "message": decision.message,
                "client_order_id": coid,
                "intent_id": intent.intent_id,
            }
            if getattr(reply, "outcome", "") == wire.OUTCOME_UNKNOWN:  # review D5: maybe sent, never "denied"
                out.update(
                    outcome=wire.OUTCOME_UNKNOWN, check=f"GET /api/v1/orders/{coid} (or: pyrt order --order-id {coid})"
                )
            else:
                out["outcome"] = "approved" if decision.approved else "denied"
            return out

        return self._audited(
            caller,
            "order.submit",
            reason or "manual order",
            {
                "symbol": intent.symbol,
                "side": side,
                "qty": str(qty),
                "type": order_type,
                "limit_price": None if limit_price is None else str(limit_price),
            },
            run,
            lambda: None,
        )

    def cancel_all(self, caller: Caller, reason: str = "", timeout_s: float = 5.0) -> dict[str, Any]:
        """Cancel every open order and wait for the broker to confirm none is left."""
        reason = reason or "cancel all"

        def run() -> dict[str, Any]:
            if not self._answers("execution_engine"):
                return self._cancel_all_direct(timeout_s)
            res = self.command(
                "execution_engine",
                "cancel_all",
                caller,
                reason,
                timeout_ms=int(timeout_s * 1000) + 3000,
                timeout_s=timeout_s,
            )
            if _no_answer(res):
                return self._cancel_all_direct(timeout_s)
            return {"ok": res.ok, "detail": res.detail, **res.data, "via": "execution_engine"}

        return self._audited(
            caller,
            "orders.cancel_all",
            reason,
            {"open_orders": self._open_count()},
            run,
            lambda: {"open_orders": self._open_count()},
        )

    def cancel_order(self, caller: Caller, order_id: str, reason: str = "") -> dict[str, Any]:
        """Cancel one open order (client_order_id or broker id): through the execution
        engine (journal first), or at the broker directly when the engine is down."""
        reason = reason or "cancel order"

        def run() -> dict[str, Any]:
            res = self.command("execution_engine", "cancel", caller, reason, order_id=order_id)
            if not _no_answer(res):
                if not res.ok:
                    raise _refused(res)
                return {"ok": True, "detail": res.detail, **res.data, "via": "execution_engine"}
            try:
                found = self.venue.get_order_by_client_id(order_id)
            except (NotFound, OrderRejectedByVenue):
                found = self.venue.get_order(order_id)
            self.venue.cancel_order(found.id)
            return {"ok": True, "detail": "cancel sent", "client_order_id": found.client_order_id, "via": "broker"}

        return self._audited(caller, "orders.cancel", reason, {"order_id": order_id}, run, lambda: None)

    def _cancel_all_direct(self, timeout_s: float) -> dict[str, Any]:
        """The execution engine is down: cancel at the broker directly, with the engine's own
        procedure (the engine reconciles the cancels when it starts)."""
        from pyrt.services.execution.cancel_all import cancel_all_at_broker

        return {**cancel_all_at_broker(self.venue, timeout_s), "via": "broker (execution engine down)"}

    def _open_count(self) -> int | None:
        """For the audit entry (engine's projection, else the budgeted broker read)."""
        try:
            return len(self.orders("open", 500))
        except (VenueError, ActionError):
            return None

    def liquidate(self, caller: Caller, confirm: bool, reason: str = "", wait_s: float = 15.0) -> dict[str, Any]:
        """Close every position with market orders and wait for the fills. Without
        `confirm` only shows what it would do (and writes nothing)."""
        positions = self._broker_positions()
        from pyrt.services.execution.core import liquidation_plan

        value = {p["symbol"]: p["market_value"] for p in positions}
        plan = [
            {"symbol": symbol, "side": side.value, "qty": str(qty), "market_value": value[symbol]}
            for symbol, side, qty in liquidation_plan({p["symbol"]: Decimal(p["qty"]) for p in positions})
        ]
        if not confirm:
            return {"dry_run": True, "would_close": plan}
        reason = reason or "liquidation"

        def run() -> dict[str, Any]:
            t0 = time.monotonic()
            orders: list[Any] = []
            left = positions
            if not self._answers("execution_engine"):
                raise ActionError("the execution engine is not running: start it (pyrt up) to liquidate", 503)
            for _round in range(3):  # a fill that landed late leaves a remainder: close it too
                res = self.command("execution_engine", "liquidate", caller, reason, timeout_ms=20000)
                if not res.ok and _no_answer(res):
                    raise ActionError("the execution engine is not running: start it (pyrt up) to liquidate", 503)
                orders += res.data.get("orders", [])
                deadline = time.monotonic() + wait_s / 3
                while left and time.monotonic() < deadline:
                    time.sleep(0.1)
                    left = self.positions()  # the engine's projection: no broker request per poll
                if not left:
                    break
            acct = self.venue.account()
            return {
                "ok": not left,
                "orders": orders,
                "positions_left": left,
                "elapsed_s": round(time.monotonic() - t0, 2),
                "final": {
                    "cash": str(acct.cash),
                    "equity": str(acct.equity),
                    "pnl_vs_start": str(acct.equity - Decimal(str(self.cfg.system.sim_broker.initial_cash)))
                    if self.cfg.venue.embedded_sim
                    else None,
                },
            }

        return self._audited(
            caller,
            "positions.liquidate",
            reason,
            {"positions": plan},
            run,
            lambda: {"positions": len(self.positions())},
        )

    def reconcile(self, caller: Caller, apply: bool = False, reason: str = "") -> dict[str, Any]:
        """Local (journal) versus broker positions and open orders. With `apply` the
        broker's positions are adopted (audited); a circuit breaker that tripped on an
        integrity alert (the disagreement just resolved) is deactivated with the same
        reason, any other trip stays."""
        if not apply:
            if not self._answers("execution_engine"):
                return self._reconcile_offline()
            res = self.command("execution_engine", "reconcile", caller, reason, timeout_ms=10000)
            if not res.ok and _no_answer(res):
                return self._reconcile_offline()
            return {"ok": res.ok and res.detail == "OK", "detail": res.detail, **res.data}
        reason = reason or "adopt broker positions"

        def run() -> dict[str, Any]:
            if not self._answers("execution_engine"):
                raise ActionError(
                    "the execution engine is not running: start it (pyrt up) to adopt the broker's positions", 503
                )
            res = self.command("execution_engine", "reconcile", caller, reason, timeout_ms=10000, apply="true")
            if not res.ok:
                # the broker's rate limit is the caller acting too often (429, retry later), not a fault
                raise ActionError(res.detail, 429 if "rate limited" in res.detail else 503)
            out = {"ok": True, "detail": res.detail, **res.data}
            if self._breaker().get("trigger") == "integrity":
                # no cooldown: the cause was the disagreement this audited adoption resolved
                cleared = self.command(
                    "risk_manager", "breaker_deactivate", caller, f"broker positions adopted: {reason}", force="true"
                )
                out["circuit_breaker"] = {"deactivated": cleared.ok, "detail": cleared.detail}
            return out

        return self._audited(caller, "positions.reconcile_apply", reason, {}, run, dict)

    def _reconcile_offline(self) -> dict[str, Any]:
        """The execution engine is stopped: compare the journal with the broker directly."""
        from pyrt.persistence.journal import Journal
        from pyrt.persistence.projections import OrderProjection, replay
        from pyrt.services.execution.reconcile import reconcile_report

        path = self.cfg.system.execution.journal_path
        if path.exists():
            with Journal(path, read_only=True) as journal:
                proj = replay(journal.iter_records())
        else:
            proj = OrderProjection()
        return {
            **reconcile_report(proj, self.venue.positions(), self.venue.list_orders("open")),
            "via": "journal (execution engine not running)",
        }

    # ------------------------------------------------------------------ emergency stop
    def emergency_stop(
        self, caller: Caller, reason: str = "", stop_services: bool = True, cancel_timeout_s: float = 5.0
    ) -> dict[str, Any]:
        """The kill switch: 1) halt (breaker HALTED, execution halted, safe mode) — no order
        passes after this step; 2) cancel every open order and wait until the broker
        confirms zero; 3) stop the trading services; 4) notify. Each step is timed."""
        reason = reason or "emergency stop"
        steps: list[dict[str, Any]] = []

        def step(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
            t0 = time.monotonic()
            try:
                out = fn()
            except Exception as exc:  # noqa: BLE001 - a failed step must not stop the next ones
                out = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            out["duration_ms"] = round((time.monotonic() - t0) * 1000, 1)
            out["step"] = name
            steps.append(out)
            (log.warning if out.get("ok") else log.error)("emergency stop step %s: %s", name, out)
            return out

        def halt() -> dict[str, Any]:
            execution = self.command("execution_engine", "halt", caller, reason, timeout_ms=1000)
            risk = self.command("risk_manager", "breaker_activate", caller, reason, timeout_ms=1000, mode="HALTED")
            signals = self.command(
                "signal_bridge", "set_trading_enabled", caller, reason, timeout_ms=1000, enabled="false"
            )
            engine_up[0] = not _no_answer(execution)
            return {
                "ok": execution.ok or risk.ok,
                "execution_halted": execution.ok,
                "breaker_active": risk.ok,
                "safe_mode": signals.ok,
            }

        engine_up = [True]

        def cancel() -> dict[str, Any]:
            if not engine_up[0]:  # it did not answer the halt: do not wait for it again
                return self._cancel_all_direct(cancel_timeout_s)
            res = self.command(
                "execution_engine",
                "cancel_all",
                caller,
                reason,
                timeout_ms=int(cancel_timeout_s * 1000) + 3000,
                timeout_s=cancel_timeout_s,
            )
            if _no_answer(res):
                return self._cancel_all_direct(cancel_timeout_s)
            if not res.ok:  # the engine could not finish: try at the broker directly too
                direct = self._cancel_all_direct(cancel_timeout_s)
                return {**direct, "engine": res.data}
            return {"ok": True, **res.data, "via": "execution_engine"}

        def stop() -> dict[str, Any]:
            from pyrt.ops.supervisor import down

            lines: list[str] = []
            code = down(self.cfg, grace_s=10.0, say=lines.append, only=TRADING_SERVICES)
            return {"ok": code == 0, "stopped": lines}

        def notify() -> dict[str, Any]:
            if self.notifier is None:
                return {"ok": True, "detail": "no notifier configured"}
            from pyrt.ops.notify import Alert

            cancel_step = next((s for s in steps if s["step"] == "cancel_orders"), {})
            alert = Alert(
                kind="emergency_stop",
                severity="critical",
                title="Emergency stop executed",
                detail=f"{caller.name} from {caller.source}: {reason}",
                fields={
                    "open_orders_after": str(cancel_step.get("open_orders_after")),
                    "steps": ", ".join(f"{s['step']} {s['duration_ms']} ms" for s in steps),
                },
            )
            results = self.notifier.send(alert)
            return {
                "ok": all(r.ok for r in results) if results else True,
                "channels": [{"channel": r.channel, "ok": r.ok, "error": r.error} for r in results],
            }

        def run() -> dict[str, Any]:
            step("halt_trading", halt)
            step("cancel_orders", cancel)
            if stop_services:
                step("stop_services", stop)
            step("notify", notify)
            return {"ok": all(s.get("ok") for s in steps[:2]), "steps": steps}

        return self._audited(caller, "emergency_stop", reason, {}, run, dict)

    # ------------------------------------------------------------------ processes
    def service_control(self, caller: Caller, action: str, service: str, reason: str = "") -> dict[str, Any]:
        """`pyrt start|stop|restart SERVICE` (POST /services/{name}/{action}): a request to the
        running `pyrt up` supervisor, answered once done (a start or restart: once the process
        is ready). 422 for an unknown service (the answer lists the valid ones), 409 when no
        `pyrt up` supervisor runs or it could not do it, 503 when it did not answer."""
        from pyrt.ops import service_control as sc

        def run() -> dict[str, Any]:
            try:
                name = sc.valid_service(self.cfg, service)
                detail = sc.request(self.cfg, action, name)
            except sc.UnknownService as exc:
                raise ActionError(str(exc), 422) from None
            except sc.NoSupervisor as exc:
                raise ActionError(str(exc), 409) from None
            except sc.NotRunning as exc:
                raise ActionError(str(exc), 503) from None
            except sc.ControlRefused as exc:
                raise ActionError(str(exc), 409) from None
            return {"ok": True, "service": name, "action": action, "detail": detail}

        return self._audited(caller, f"service.{action}", reason or f"{action} {service}", {}, run, dict)
