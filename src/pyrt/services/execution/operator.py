"""The operator's commands to the execution engine (halt, resume, cancel one, cancel all,
liquidate, reconcile), run in its main loop: they wait for the broker, processing broker results while
they wait, and act through the core like everything else (journal first)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from pyrt.bus import schema as wire
from pyrt.domain.events import CancelRequested, RecordKind
from pyrt.persistence.journal import failpoint
from pyrt.services.execution.cancel_all import cancel_all_at_broker
from pyrt.services.execution.core import liquidation_intents
from pyrt.services.execution.messages import Journal
from pyrt.services.execution.reconcile import reconcile_positions, reconcile_report
from pyrt.venues.port import VenueError

if TYPE_CHECKING:
    from pyrt.services.execution.service import ExecutionEngine

log = logging.getLogger("pyrt.execution_engine")


class OperatorCommands:
    def __init__(self, engine: ExecutionEngine) -> None:
        self.engine = engine
        self.core = engine.core

    def handle(self, cmd: wire.ControlCommand) -> wire.ControlResult:
        if cmd.action == "status":  # asked several times a second by the control process
            return wire.ControlResult(True, data=self.core.status())
        log.warning("operator command %s from %s: %s", cmd.action, cmd.actor or "?", cmd.reason)
        if cmd.action == "halt":
            self.core.halt(f"operator halt: {cmd.reason or 'no reason given'}")
            # an operator's action that succeeded: WARNING (ERROR is for what went wrong)
            log.warning("trading HALTED by the operator (%s): %s", cmd.actor or "?", cmd.reason)
            return wire.ControlResult(True, "execution halted", self.core.status())
        if cmd.action == "resume":
            if not cmd.reason.strip():
                return wire.ControlResult(False, "a reason is required to resume")
            previous = self.core.resume()
            log.warning("execution resumed by %s: %s (was: %s)", cmd.actor or "?", cmd.reason, previous or "not halted")
            return wire.ControlResult(True, "execution resumed", self.core.status())
        if cmd.action == "cancel":
            return self.cancel_one(cmd.args.get("order_id", ""))
        if cmd.action == "cancel_all":
            return self.cancel_all(float(cmd.args.get("timeout_s", "5")))
        if cmd.action == "liquidate":
            return self.liquidate(cmd)
        if cmd.action == "reconcile":
            return self.reconcile(apply=cmd.args.get("apply") == "true", cmd=cmd)
        return wire.ControlResult(False, f"unknown action {cmd.action!r}")

    def cancel_one(self, order_id: str) -> wire.ControlResult:
        """Cancel one open order (our client_order_id or the broker's id): the request is
        journalled, then sent; the broker's `canceled` update ends the order as usual."""
        orders = self.core.proj.orders
        order = orders.get(order_id) or next((o for o in orders.values() if o.broker_order_id == order_id), None)
        if order is None or order.is_terminal:
            return wire.ControlResult(False, f"no open order {order_id!r}")
        if not order.broker_order_id:
            return wire.ControlResult(False, f"order {order.client_order_id} is not acknowledged by the broker yet")
        if not self.core.budget.try_acquire("cancel"):
            return wire.ControlResult(False, "broker request budget exhausted: retry in a moment")
        self.engine.run([Journal(((RecordKind.CANCEL_REQUESTED, order.client_order_id, CancelRequested()),))])
        try:
            self.engine.venue.cancel_order(order.broker_order_id)
        except VenueError as exc:
            return wire.ControlResult(False, f"the broker refused the cancel of {order.client_order_id}: {exc}")
        return wire.ControlResult(
            True,
            f"cancel of {order.client_order_id} sent",
            {"client_order_id": order.client_order_id, "broker_order_id": order.broker_order_id},
        )

    def cancel_all(self, timeout_s: float) -> wire.ControlResult:
        self.engine.run(self.core.cancel_requested())
        data = cancel_all_at_broker(
            self.engine.venue,
            timeout_s,
            between=self.engine.drain_results,
            may_call=lambda: self.core.budget.try_acquire("cancel"),
        )
        ok = bool(data.pop("ok"))
        return wire.ControlResult(
            ok, "broker confirms zero open orders" if ok else "open orders remain at the broker", data
        )

    def liquidate(self, cmd: wire.ControlCommand) -> wire.ControlResult:
        """Close every position with market orders (journal first, like any order). Runs
        even while halted: it only reduces exposure."""
        cancel = self.cancel_all(float(cmd.args.get("timeout_s", "5")))
        self.settle(5.0)  # orders still in flight must land before sizing the closing orders
        submitted = []
        for intent in liquidation_intents(self.core.proj, self.engine.clock.now_ns(), cmd.actor, cmd.reason):
            coid, effects = self.core.submit_liquidation(intent)
            self.engine.run(effects)
            submitted.append(
                {"symbol": intent.symbol, "side": intent.side.value, "qty": str(intent.qty), "client_order_id": coid}
            )
            failpoint("during_liquidation")
        return wire.ControlResult(
            cancel.ok, f"{len(submitted)} closing orders submitted", {"orders": submitted, "cancel": cancel.data}
        )

    def reconcile(self, apply: bool, cmd: wire.ControlCommand) -> wire.ControlResult:
        """Compare our positions and open orders with the broker's; with `apply`, adopt the
        broker's positions (journalled) and lift a position-mismatch halt."""
        self.settle(2.0)
        try:
            broker_positions = self.engine.venue.positions()
            broker_open = self.engine.venue.list_orders("open")
        except VenueError as exc:
            return wire.ControlResult(False, f"broker unreachable: {exc}")
        data = reconcile_report(self.core.proj, broker_positions, broker_open)
        data.pop("ok")
        detail = data.pop("detail")
        mismatches = reconcile_positions(self.core.proj, broker_positions)
        if apply and mismatches:
            self.engine.run(self.core.adopt(mismatches, broker_positions, cmd.actor, cmd.reason))
            failpoint("mid_reconcile")
            self.engine.run(self.core.publish_positions(sorted(mismatches)))
            data["applied"] = True
        self.engine.run(self.core.look_up(data["orders_only_local"]))
        return wire.ControlResult(True, detail, data)

    def settle(self, timeout_s: float) -> bool:
        """Process broker results until no order is on its way (or the time is up)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.engine.drain_results()
            self.engine.run(self.core.on_timer())
            if not self.core.busy():
                return True
            if time.monotonic() >= deadline:
                log.warning("orders still on their way after %.1fs", timeout_s)
                return False
            time.sleep(0.02)
