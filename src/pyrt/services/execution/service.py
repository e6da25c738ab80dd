"""execution-engine process: the only writer of order state.

One main thread owns the journal, the projection, the order-path ROUTER, the report PUB and
the market-data SUB (for marks). Broker HTTP calls run on a small worker pool and the
trade_updates stream on its own thread; both hand results back through a queue and a wake
pipe that the main loop polls with the sockets. Start-up is the recovery path: take the
account lock, replay the journal, reconcile with the broker, and only then accept orders.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import zmq

from pyrt.bus import schema as wire
from pyrt.bus.zmq import ReplyServer, ZmqPublisher, ZmqSubscriber
from pyrt.domain.clock import WallClock, iso_utc
from pyrt.domain.enums import OrderSide
from pyrt.domain.intents import OrderIntent
from pyrt.domain.orders import IN_FLIGHT_STATES, Order, OrderState, Outcome
from pyrt.observability import stages
from pyrt.persistence.journal import Journal, JournalRecord, JournalWriteError, RecordKind, failpoint
from pyrt.persistence.projections import OrderProjection, replay
from pyrt.services.execution import core
from pyrt.services.execution.budget import RequestBudget
from pyrt.services.execution.watchdog import Watchdog
from pyrt.services.runtime import Every, ServiceRuntime
from pyrt.venues.alpaca.adapter import AlpacaVenue
from pyrt.venues.alpaca.stream import TradeUpdatesThread
from pyrt.venues.port import (
    BrokerOrder,
    NotFound,
    OrderRejectedByVenue,
    OutcomeUnknown,
    RateLimited,
    VenueError,
)

log = logging.getLogger("pyrt.execution_engine")

INFLIGHT_CHECK_S = 2.0
INFLIGHT_LATE_S = 5.0
OPEN_ORDERS_CHECK_S = 15.0
POSITIONS_CHECK_S = 60.0
LOOKUP_ATTEMPTS = 4
STREAM_CONNECT_TIMEOUT_S = 10.0
MISMATCH_REPEAT_S = 5.0  # a standing position mismatch is announced again this often
MD_DRAIN_S = 0.002  # how often marks and the market-data heartbeat are read
SUBMIT_HANDOFF_S = 0.002  # the loop waits at most this for a submit worker to start


class AccountLockHeld(RuntimeError):
    pass


class AccountLock:
    """One execution engine per account: an exclusive flock on the lock file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise AccountLockHeld(f"another execution engine holds {path}: only one may trade an account") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


@dataclass
class _Pending:
    """An order whose submit or lookup waits for the request budget or a retry time."""

    coid: str
    intent: OrderIntent | None  # set for submits
    tick_ns: int
    due: float
    attempts: int = 0


class ExecutionEngine:
    def __init__(self, rt: ServiceRuntime) -> None:
        self.rt = rt
        cfg = rt.cfg
        ex = cfg.system.execution
        self.clock = WallClock()
        self.metrics = rt.metrics
        self.journal = Journal(ex.journal_path, synchronous=ex.journal_synchronous)
        self.proj: OrderProjection = OrderProjection()
        keys = cfg.secrets
        key_id = keys.api_key_id.get_secret_value() if keys.api_key_id else ""
        secret = keys.api_secret_key.get_secret_value() if keys.api_secret_key else ""
        self.venue = AlpacaVenue(cfg.venue.trading_url, key_id, secret, timeout_s=ex.submit_timeout_s)
        self.budget = RequestBudget(ex.request_budget_per_minute, ex.cancel_reserve_per_minute, self.clock,
                                    read_reserve=ex.read_reserve_per_minute)
        self.server = ReplyServer(ex.order_endpoint, server_id="execution_engine")
        self.pub = ZmqPublisher(ex.report_publish_address, publisher_id="execution_engine")
        # marks and market-data liveness only: the newest frame per topic, drained every MD_DRAIN_S
        # (not a wake-up per quote, which would keep the order path's process busy)
        self.md = ZmqSubscriber(cfg.system.market_data.zmq_publish_address,
                                [wire.MD_QUOTE_PREFIX, wire.heartbeat("market_data")], conflate=True)
        self._md_due = Every(MD_DRAIN_S)
        self.risk_hb = ZmqSubscriber(cfg.system.risk.publish_address, [wire.heartbeat("risk_manager")])
        self.watchdog = Watchdog(self.clock.now_ns(), ex.watchdog_risk_silence_s, ex.watchdog_cancel_after_s)
        self.results: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="broker")
        self.stream = TradeUpdatesThread(cfg.venue.trading_stream_url, key_id, secret, self._from_stream)
        self.accepting = False
        self.halted_reason = ""
        self._watchdog_reason = ""
        self.marks: dict[str, Decimal] = {}
        self._pending: list[_Pending] = []
        self._deferred: list[_Pending] = []  # resends found at start-up
        self._lookups_inflight: set[str] = set()
        self._lookup_attempts: dict[str, int] = {}
        self._suspect_positions: dict[str, tuple[Decimal, Decimal]] = {}
        self.max_resend_age_ns = int(ex.max_resend_age_s * 1e9)
        self._timers = {"inflight": 0.0, "open": 0.0, "positions": 0.0, "heartbeat": 0.0, "pnl": 0.0,
                        "watchdog": 0.0, "positions_pub": 0.0, "mismatch": 0.0}
        self._mismatch_alerts: list[wire.IntegrityAlert] = []

    # ================================================================= start-up
    def recover(self) -> None:
        """Replay the journal, then reconcile with the broker before accepting any order."""
        t0 = time.monotonic()
        self.proj = replay(self.journal.iter_records())
        log.info("journal replayed: %d records, %d orders, %d positions", self.proj.last_seq,
                 len(self.proj.orders), len(self.proj.positions))
        self.stream.start()
        # listen before looking: an event after the broker snapshot must not be missed
        if not self.stream.connected.wait(STREAM_CONNECT_TIMEOUT_S):
            log.warning("trade_updates stream not connected after %.0fs: relying on polling until it is",
                        STREAM_CONNECT_TIMEOUT_S)
        unresolved = [o for o in self.proj.orders.values() if not o.is_terminal]
        broker_orders = self._retry_read(lambda: self.venue.list_orders("open"))
        if unresolved:
            after = iso_utc(min(o.created_ns for o in unresolved) - 60_000_000_000)
            broker_orders += self._retry_read(lambda: self.venue.list_all_orders_since(after))
        rec = core.reconcile_orders(self.proj, broker_orders)
        self._commit(rec.entries)
        for coid in rec.lookups:
            self._resolve_at_startup(coid)
        if rec.external_orders:
            detail = ", ".join(f"{o.symbol} {o.side} {o.qty} ({o.client_order_id})" for o in rec.external_orders)
            self._halt(f"orders at the broker that this engine never sent: {detail}", "external_order")
        mismatches = core.reconcile_positions(self.proj, self._retry_read(self.venue.positions))
        if mismatches:
            self._report_position_mismatch(mismatches, startup=True)
        self.accepting = True
        for pending in self._deferred:
            self._dispatch_submit(pending)
        self._deferred.clear()
        log.info("reconciliation done in %.2fs: %d orders checked, %d looked up, halted=%s",
                 time.monotonic() - t0, len(unresolved), len(rec.lookups), bool(self.halted_reason))
        self._publish_positions()

    def _retry_read(self, fn: Any, attempts: int = 5) -> Any:
        delay = 0.5
        for attempt in range(attempts):
            try:
                return fn()
            except VenueError as exc:
                if attempt == attempts - 1:
                    raise
                log.warning("broker read failed (%s), retrying in %.1fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def _resolve_at_startup(self, coid: str) -> None:
        order = self.proj.orders[coid]
        try:
            broker = self._retry_read(lambda: self.venue.get_order_by_client_id(coid))
        except NotFound:
            self._not_found(order, final=True)
            return
        self._commit(core.snapshot_entries(coid, broker, RecordKind.RECONCILIATION))

    # ================================================================= journal + projection
    def _commit(self, entries: list[core.Entry] | tuple[core.Entry, ...]) -> list[Outcome]:
        """Journal (commit) then apply to the projection, then publish what changed."""
        if not entries:
            return []
        return self._apply(self.journal.append_records(list(entries)))

    def _apply(self, records: list[JournalRecord]) -> list[Outcome]:
        outcomes = []
        for record in records:
            outcome = self.proj.apply(record)
            if outcome is not None:
                outcomes.append(outcome)
                self._after(record, outcome)
        return outcomes

    def _after(self, record: JournalRecord, outcome: Outcome) -> None:
        order = outcome.order
        m = self.metrics.execution
        if outcome.applied:
            if record.kind == RecordKind.ACK and order.state is OrderState.REJECTED:
                m.orders_rejected.labels(reason="broker").inc()
                log.warning("order rejected by the broker coid=%s symbol=%s reason=%s", order.client_order_id,
                            order.symbol, order.reason or record.payload.get("reason", ""))
            if "state" in outcome.changed:
                if order.state is OrderState.FILLED:
                    m.orders_filled.inc()
                elif order.state is OrderState.CANCELED:
                    m.orders_cancelled.inc()
            self._publish_report(order, record)
        for alert in outcome.alerts:
            log.error("order alert %s coid=%s symbol=%s", alert, order.client_order_id, order.symbol)
            self.pub.publish(wire.exec_alert(), wire.IntegrityAlert(alert.lower(), order.symbol,
                                                                     f"{alert} on {order.client_order_id}"))
        if outcome.fill_qty_delta:
            self._publish_position(order.symbol)

    # ================================================================= order path
    def handle_request(self, identity: bytes, env: wire.Envelope) -> None:
        t0 = time.perf_counter()
        try:
            self._handle_request(identity, env)
        finally:
            common = self.metrics.common
            common.messages_processed.inc()
            common.processing_latency.observe(time.perf_counter() - t0)

    def _handle_request(self, identity: bytes, env: wire.Envelope) -> None:
        payload = env.payload
        if isinstance(payload, wire.OrderIntentMsg):
            self._handle_intent(identity, env, payload.intent)
        elif isinstance(payload, wire.SnapshotRequest):
            self.server.reply(identity, self._snapshot(payload.kind), env.correlation_id)
        elif isinstance(payload, wire.ControlCommand):
            self.server.reply(identity, self._control(payload), env.correlation_id)
        else:
            self.metrics.common.error("unexpected_request")
            log.warning("unexpected request type %s dropped", env.msg_type)

    def _handle_intent(self, identity: bytes, env: wire.Envelope, intent: OrderIntent) -> None:
        stages.mark("exec_in", intent.intent_id)
        adm = core.admit(self.proj, intent, accepting=self.accepting, halted_reason=self.halted_reason,
                         tick_ns=env.ts_event, watchdog_reason=self._watchdog_reason)
        records: list[JournalRecord] = []
        if adm.accepted and not adm.duplicate:
            try:
                records = self.journal.append_records(list(adm.entries))
            except JournalWriteError as exc:
                log.error("journal write failed, order NOT sent: %s", exc)
                self._halt(f"journal write failed: {exc}", "journal")
                adm = core.Admission(adm.client_order_id, False, core.JOURNAL_WRITE_FAILED, str(exc))
        stages.mark("exec_committed", intent.intent_id)
        if records:  # committed: to the broker first; the projection, reports and reply follow
            failpoint("after_journal_before_send")
            self._dispatch_submit(_Pending(adm.client_order_id, intent, env.ts_event, 0.0))
            self._apply(records)
        ack = wire.OrderAck(intent_id=intent.intent_id, client_order_id=adm.client_order_id, accepted=adm.accepted,
                            reason_code=adm.reason_code, message=adm.message, duplicate=adm.duplicate)
        self.server.reply(identity, ack, env.correlation_id)
        if not adm.accepted:
            self.metrics.execution.orders_rejected.labels(reason=adm.reason_code.lower()).inc()
            log.warning("order rejected locally intent=%s reason=%s %s", intent.intent_id, adm.reason_code, adm.message)

    def _dispatch_submit(self, p: _Pending) -> None:
        if not self.budget.try_acquire("submit"):
            p.due = time.monotonic() + max(self.budget.wait_time("submit"), 0.05)
            self._pending.append(p)
            return
        self.metrics.execution.orders_submitted.inc()
        started = threading.Event()
        self.pool.submit(self._submit_job, p.coid, p.intent, p.tick_ns, started)
        # Hand the GIL to the worker until it has started the call: otherwise it waits for this
        # loop to block (the reply, reports, the next poll) and the order leaves later.
        started.wait(SUBMIT_HANDOFF_S)

    def _submit_job(self, coid: str, intent: OrderIntent, tick_ns: int, started: threading.Event | None = None) -> None:
        """Worker thread: one POST, never repeated here."""
        if started is not None:
            started.set()
        t_call = time.time_ns()
        stages.mark("exec_submit", intent.intent_id, t_call)
        stages.mark("tick", intent.intent_id, tick_ns)
        if tick_ns:
            self.metrics.execution.tick_to_submit.observe((t_call - tick_ns) / 1e9)
        try:
            order = self.venue.submit_order(coid, intent)
            result: tuple[Any, ...] = ("ack", coid, order, t_call)
        except OrderRejectedByVenue as exc:
            if "client_order_id must be unique" in exc.message:
                result = ("lookup_needed", coid, "venue already has this client_order_id")
            else:
                result = ("refused", coid, exc.status, exc.message)
        except RateLimited as exc:
            result = ("rate_limited", coid, intent, tick_ns, exc.reset_epoch_s)
        except OutcomeUnknown as exc:
            result = ("unknown", coid, str(exc))
        except Exception as exc:  # anything else after sending: the outcome is unknown
            result = ("unknown", coid, f"{type(exc).__name__}: {exc}")
        self.metrics.execution.submit_latency.observe((time.time_ns() - t_call) / 1e9)
        failpoint("after_send_before_ack_write")
        self._post(result)

    def _lookup_job(self, coid: str) -> None:
        try:
            result: tuple[Any, ...] = ("lookup", coid, self.venue.get_order_by_client_id(coid))
        except NotFound:
            result = ("lookup", coid, None)
        except VenueError as exc:
            result = ("lookup_failed", coid, str(exc))
        self._post(result)

    def _schedule_lookup(self, coid: str, delay_s: float = 0.5, attempts: int = 0) -> None:
        if coid in self._lookups_inflight:
            return
        self._lookups_inflight.add(coid)
        self._pending.append(_Pending(coid, None, 0, time.monotonic() + delay_s, attempts))

    # ================================================================= results from threads
    def _post(self, item: tuple[Any, ...]) -> None:
        self.results.put(item)
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _from_stream(self, item: tuple[Any, ...]) -> None:
        self._post(item)

    def drain_results(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass
        while True:
            try:
                item = self.results.get_nowait()
            except queue.Empty:
                return
            try:
                self._handle_result(item)
            except JournalWriteError as exc:
                log.error("journal write failed while recording a broker result: %s", exc)
                self._halt(f"journal write failed: {exc}", "journal")

    def _handle_result(self, item: tuple[Any, ...]) -> None:
        kind, coid = item[0], item[1] if len(item) > 1 else ""
        if kind == "ack":
            _, _, order, t_call = item
            entries = core.ack_entries(coid, order)
            entries[0][2]["submit_call_ns"] = t_call
            self._commit(entries)
        elif kind == "refused":
            self._commit(core.refused_entries(coid, item[2], item[3]))
        elif kind == "unknown":
            log.warning("order outcome unknown coid=%s: %s (resolving by lookup)", coid, item[2])
            self._commit(core.unknown_entries(coid, item[2]))
            self._schedule_lookup(coid)
        elif kind == "lookup_needed":
            self._schedule_lookup(coid, 0.0)
        elif kind == "rate_limited":
            _, _, intent, tick_ns, reset = item
            pause = self.budget.on_rate_limited(reset) if reset else 1.0
            log.warning("broker rate limit hit; submit of %s retried in %.1fs (same client_order_id)", coid, pause)
            self._pending.append(_Pending(coid, intent, tick_ns, time.monotonic() + pause))
        elif kind == "lookup":
            self._lookups_inflight.discard(coid)
            broker: BrokerOrder | None = item[2]
            order = self.proj.orders.get(coid)
            if order is None:
                return
            if broker is not None:
                self._commit(core.snapshot_entries(coid, broker))
            else:
                attempts = self._lookup_attempts.get(coid, 0) + 1
                self._lookup_attempts[coid] = attempts
                if attempts < LOOKUP_ATTEMPTS:
                    self._schedule_lookup(coid, 0.5 * 2**attempts, attempts)
                else:
                    self._lookup_attempts.pop(coid, None)
                    self._not_found(order, final=True)
        elif kind == "lookup_failed":
            self._lookups_inflight.discard(coid)
            self._schedule_lookup(coid, 2.0)
        elif kind == "trade_update":
            self.metrics.common.messages_processed.inc()
            self._on_trade_update(item[1])
        elif kind == "stream_connected":
            self.metrics.execution.trade_stream_connected.set(1)
            log.info("trade_updates stream connected: checking open orders for a gap")
            self._timers["open"] = 0.0
        elif kind == "stream_disconnected":
            self.metrics.execution.trade_stream_connected.set(0)
            log.warning("trade_updates stream disconnected: %s", item[1])
        elif kind == "open_orders":
            self._check_open_orders(item[1])
        elif kind == "positions":
            self._check_positions(item[1])
        elif kind == "read_failed":
            log.warning("periodic broker read failed: %s", item[1])

    def _not_found(self, order: Order, final: bool) -> None:
        """The broker does not have this order. If it was never sent (or the POST never
        arrived), resend with the same client_order_id while the intent is fresh."""
        coid = order.client_order_id
        age = self.clock.now_ns() - order.created_ns
        self._commit(core.not_found_entries(coid, "broker has no order with this client_order_id"))
        order = self.proj.orders[coid]
        if age <= self.max_resend_age_ns and order.state is OrderState.INITIALIZED:
            log.warning("order %s never reached the broker: re-sending with the same client_order_id", coid)
            intent = OrderIntent(intent_id=order.intent_id, strategy=order.strategy, symbol=order.symbol,
                                 side=order.side, qty=order.qty, order_type=order.order_type,
                                 time_in_force=order.time_in_force, limit_price=order.limit_price,
                                 stop_price=order.stop_price, ts_ns=order.created_ns, reason=order.reason)
            self._commit([(RecordKind.SUBMIT_SENT, coid, {"resend": True})])
            pending = _Pending(coid, intent, 0, 0.0)
            if self.accepting:
                self._dispatch_submit(pending)
            else:  # during start-up: send only after positions are reconciled
                self._deferred.append(pending)
        else:
            self._commit(core.stale_unsent_entries(coid, f"never reached the broker; intent {age / 1e9:.0f}s old"))
            log.warning("order %s never reached the broker and is too old to send: rejected locally", coid)

    def _on_trade_update(self, update: Any) -> None:
        entries = core.trade_update_entries(self.proj, update)
        if not entries:
            log.error("trade update for an order this engine never sent: %s %s %s (%s)", update.event,
                      update.order.symbol, update.order.side, update.order.client_order_id)
            self.pub.publish(wire.exec_alert(), wire.IntegrityAlert(
                "external_order", update.order.symbol, f"{update.event} on {update.order.client_order_id}"))
            return
        self._commit(entries)
        failpoint("after_fill_before_position_update")

    # ================================================================= periodic checks
    def run_timers(self) -> None:
        now = time.monotonic()
        t = self._timers
        due = [p for p in self._pending if p.due <= now]
        if due:
            self._pending = [p for p in self._pending if p.due > now]
            for p in due:
                if p.intent is not None:
                    self._dispatch_submit(p)
                elif self.budget.try_acquire("read"):
                    self.pool.submit(self._lookup_job, p.coid)
                else:
                    p.due = now + max(self.budget.wait_time("read"), 0.05)
                    self._pending.append(p)
        if self._mismatch_alerts and now - t["mismatch"] >= MISMATCH_REPEAT_S:
            t["mismatch"] = now
            self._publish_mismatch_alerts()
        if now - t["inflight"] >= INFLIGHT_CHECK_S:
            t["inflight"] = now
            late = self.clock.now_ns() - int(INFLIGHT_LATE_S * 1e9)
            for order in self.proj.orders.values():
                if order.state in IN_FLIGHT_STATES and order.updated_ns < late:
                    self._schedule_lookup(order.client_order_id, 0.0)
        if self.accepting and now - t["open"] >= OPEN_ORDERS_CHECK_S and self.budget.try_acquire("read"):
            t["open"] = now
            self.pool.submit(self._read_job, "open_orders", lambda: self.venue.list_orders("open"))
        if self.accepting and now - t["positions"] >= POSITIONS_CHECK_S and self.budget.try_acquire("read"):
            t["positions"] = now
            self.pool.submit(self._read_job, "positions", self.venue.positions)
        if now - t["heartbeat"] >= 1.0:
            t["heartbeat"] = now
            self.rt.export_drops(self.md, self.risk_hb, self.server)
            status = "halted" if self.halted_reason else "ok" if self.accepting else "starting"
            self.pub.publish(wire.heartbeat("execution_engine"), wire.Heartbeat("execution_engine", status, self.clock.now_ns()))
        if now - t["pnl"] >= 1.0:
            t["pnl"] = now
            self._publish_pnl()
        if now - t["positions_pub"] >= 5.0:
            t["positions_pub"] = now
            self._publish_positions()  # late joiners learn positions
        if self.accepting and now - t["watchdog"] >= 0.5:
            t["watchdog"] = now
            self._run_watchdog()

    def _read_job(self, kind: str, fn: Any) -> None:
        try:
            self._post((kind, fn()))
        except VenueError as exc:
            self._post(("read_failed", f"{kind}: {exc}"))

    def _check_open_orders(self, broker_open: list[BrokerOrder]) -> None:
        """Local open orders the broker no longer lists as open: look each up (they may have
        filled or been canceled while the stream was away)."""
        open_coids = {o.client_order_id for o in broker_open}
        cutoff = self.clock.now_ns() - 2_000_000_000  # skip orders with very recent events
        for order in self.proj.orders.values():
            if order.is_open and order.client_order_id not in open_coids and order.updated_ns < cutoff:
                self._schedule_lookup(order.client_order_id, 0.0)
        external = [o for o in broker_open if o.client_order_id not in self.proj.orders]
        for o in external:
            log.error("open order at the broker that this engine never sent: %s %s %s (%s)", o.symbol, o.side, o.qty,
                      o.client_order_id)

    def _check_positions(self, positions: list[Any]) -> None:
        mismatches = core.reconcile_positions(self.proj, positions)
        busy = {o.symbol for o in self.proj.orders.values() if o.is_open or o.state in IN_FLIGHT_STATES}
        confirmed = {s: v for s, v in mismatches.items() if s not in busy and self._suspect_positions.get(s) == v}
        self._suspect_positions = {s: v for s, v in mismatches.items() if s not in busy}
        if confirmed:
            self._report_position_mismatch(confirmed, startup=False)

    def _report_position_mismatch(self, mismatches: dict[str, tuple[Decimal, Decimal]], startup: bool) -> None:
        detail = "; ".join(f"{s}: ours {o} broker {b} (diff {b - o})" for s, (o, b) in sorted(mismatches.items()))
        self.journal.append(RecordKind.RECONCILIATION, "", {"position_mismatch": {
            s: {"ours": str(o), "broker": str(b)} for s, (o, b) in mismatches.items()}})
        self._mismatch_alerts = [wire.IntegrityAlert("position_mismatch", symbol, f"ours {ours} broker {broker}")
                                 for symbol, (ours, broker) in sorted(mismatches.items())]
        self._publish_mismatch_alerts()
        self._halt(f"position mismatch with the broker{' at start-up' if startup else ''}: {detail}", "position_mismatch")

    def _publish_mismatch_alerts(self) -> None:
        """A standing mismatch is a state, not an event: repeated (run_timers) until the
        broker's positions are adopted, so a subscriber that joined late (the risk manager
        while this engine starts) still trips its breaker."""
        for alert in self._mismatch_alerts:
            self.pub.publish(wire.exec_alert(), alert)

    def _halt(self, reason: str, kind: str) -> None:
        if not self.halted_reason:
            self.halted_reason = reason
            log.error("trading HALTED by the execution engine: %s", reason)
            self.metrics.common.error(f"halt_{kind}")

    # ================================================================= publishing
    def _publish_report(self, order: Order, record: JournalRecord) -> None:
        p = record.payload
        event = {RecordKind.INTENT: "pending_new", RecordKind.SUBMIT_SENT: "submitted", RecordKind.ACK: "accepted",
                 RecordKind.UNKNOWN: "unknown", RecordKind.FILL: "fill"}.get(record.kind, p.get("event") or p.get("status") or record.kind)
        if record.kind == RecordKind.FILL and order.state is OrderState.PARTIALLY_FILLED:
            event = "partial_fill"
        if record.kind == RecordKind.ACK and order.state is OrderState.REJECTED:
            event = "rejected"
        report = wire.ExecutionReport(
            client_order_id=order.client_order_id, broker_order_id=order.broker_order_id, intent_id=order.intent_id,
            strategy=order.strategy, symbol=order.symbol, side=order.side, event=str(event), status=order.state.value,
            qty=order.qty, filled_qty=order.filled_qty,
            fill_qty=Decimal(p["qty"]) if record.kind == RecordKind.FILL else None,
            fill_price=Decimal(p["price"]) if record.kind == RecordKind.FILL else None,
            avg_price=order.avg_fill_price,
            position_qty=self.proj.position(order.symbol).qty,
            reason=order.reason if order.state in (OrderState.REJECTED, OrderState.DENIED) else "",
        )
        self.pub.publish(wire.exec_report(order.strategy or "manual"), report, correlation_id=order.intent_id)

    def _publish_position(self, symbol: str) -> None:
        pos = self.proj.position(symbol)
        mark = self.marks.get(symbol, pos.avg_entry_price)
        self.pub.publish(wire.exec_position(symbol), wire.PositionUpdate(
            symbol, pos.qty, pos.avg_entry_price, pos.qty * mark, pos.unrealized_pnl(mark), pos.realized_pnl))
        self.metrics.trading.position_size.labels(symbol=symbol).set(float(pos.qty))

    def _publish_positions(self) -> None:
        for symbol in self.proj.positions:
            self._publish_position(symbol)

    def _publish_pnl(self) -> None:
        realized = self.proj.realized_pnl()
        unrealized = sum((p.unrealized_pnl(self.marks.get(s, p.avg_entry_price)) for s, p in self.proj.positions.items()),
                         Decimal(0))
        tm = self.metrics.trading
        tm.realized_pnl.set(float(realized))
        tm.unrealized_pnl.set(float(unrealized))
        tm.open_positions.set(sum(1 for p in self.proj.positions.values() if p.qty != 0))
        self.pub.publish(wire.exec_pnl(), wire.PnLUpdate(realized, unrealized, Decimal(0), Decimal(0)))

    def _snapshot(self, kind: str) -> wire.Snapshot:
        if kind == "positions":
            items: list[Any] = []
            for symbol, pos in self.proj.positions.items():
                mark = self.marks.get(symbol, pos.avg_entry_price)
                items.append(wire.PositionUpdate(symbol, pos.qty, pos.avg_entry_price, pos.qty * mark,
                                                 pos.unrealized_pnl(mark), pos.realized_pnl))
            return wire.Snapshot("positions", items, self.pub.publisher_id)
        if kind == "orders":
            items = [wire.ExecutionReport(client_order_id=o.client_order_id, broker_order_id=o.broker_order_id,
                                          intent_id=o.intent_id, strategy=o.strategy, symbol=o.symbol, side=o.side,
                                          event="snapshot", status=o.state.value, qty=o.qty, filled_qty=o.filled_qty,
                                          avg_price=o.avg_fill_price)
                     for o in self.proj.orders.values() if not o.is_terminal]
            return wire.Snapshot("orders", items, self.pub.publisher_id)
        return wire.Snapshot(kind, [], self.pub.publisher_id)

    def _control(self, cmd: wire.ControlCommand) -> wire.ControlResult:
        log.warning("operator command %s from %s: %s", cmd.action, cmd.actor or "?", cmd.reason)
        if cmd.action == "status":
            return wire.ControlResult(True, data=self._status())
        if cmd.action == "halt":
            self.halted_reason = f"operator halt: {cmd.reason or 'no reason given'}"
            log.error("trading HALTED by the operator (%s): %s", cmd.actor or "?", cmd.reason)
            return wire.ControlResult(True, "execution halted", self._status())
        if cmd.action == "resume":
            if not cmd.reason.strip():
                return wire.ControlResult(False, "a reason is required to resume")
            previous, self.halted_reason = self.halted_reason, ""
            log.warning("execution resumed by %s: %s (was: %s)", cmd.actor or "?", cmd.reason, previous or "not halted")
            return wire.ControlResult(True, "execution resumed", self._status())
        if cmd.action == "cancel_all":
            return self._cancel_all(float(cmd.args.get("timeout_s", "5")))
        if cmd.action == "liquidate":
            return self._liquidate(cmd)
        if cmd.action == "reconcile":
            return self._reconcile(apply=cmd.args.get("apply") == "true", cmd=cmd)
        return wire.ControlResult(False, f"unknown action {cmd.action!r}")

    def _status(self) -> dict[str, Any]:
        return {"accepting": self.accepting, "halted": self.halted_reason, "watchdog": self._watchdog_reason,
                "orders": len(self.proj.orders), "open_orders": len(self.proj.open_orders()),
                "positions": {s: str(p.qty) for s, p in self.proj.positions.items() if p.qty}}

    def _cancel_all(self, timeout_s: float) -> wire.ControlResult:
        """Cancel every open order at the broker and wait until the broker confirms none is
        left (retrying failed cancels), bounded by `timeout_s`."""
        t0 = time.monotonic()
        attempts, remaining, errors = 0, -1, []
        for order in self.proj.open_orders():
            self._commit([(RecordKind.CANCEL_REQUESTED, order.client_order_id, {})])
        while True:
            attempts += 1
            try:
                if self.budget.try_acquire("cancel"):
                    self.venue.cancel_all_orders()
                if self.budget.try_acquire("cancel"):
                    remaining = len(self.venue.list_orders("open"))
            except VenueError as exc:
                errors.append(str(exc))
            if remaining == 0 or time.monotonic() - t0 >= timeout_s:
                break
            time.sleep(min(0.05 * 2 ** min(attempts, 5), 0.5))
        elapsed_ms = (time.monotonic() - t0) * 1000
        ok = remaining == 0
        (log.warning if ok else log.error)("cancel all: %s open orders left at the broker after %d attempts in %.0f ms",
                                           remaining, attempts, elapsed_ms)
        return wire.ControlResult(ok, "broker confirms zero open orders" if ok else "open orders remain at the broker",
                                  {"open_orders_after": remaining, "attempts": attempts, "elapsed_ms": round(elapsed_ms, 1),
                                   "errors": errors[-3:]})

    def _liquidate(self, cmd: wire.ControlCommand) -> wire.ControlResult:
        """Close every position with market orders (journal first, like any order). Runs
        even while halted: it only reduces exposure."""
        cancel = self._cancel_all(float(cmd.args.get("timeout_s", "5")))
        self._settle(5.0)  # orders still in flight must land before sizing the closing orders
        submitted = []
        stamp = self.clock.now_ns() // 1_000_000
        for symbol, pos in sorted(self.proj.positions.items()):
            if pos.qty == 0:
                continue
            side = "sell" if pos.qty > 0 else "buy"
            intent = OrderIntent(intent_id=f"liq{stamp}{symbol}"[:32], strategy="liquidate", symbol=symbol,
                                 side=OrderSide(side), qty=abs(pos.qty), ts_ns=self.clock.now_ns(),
                                 reason=f"liquidation by {cmd.actor or 'operator'}: {cmd.reason}")
            coid = core.client_order_id(intent.strategy, intent.intent_id)
            self._commit([(RecordKind.INTENT, coid, core.intent_payload(intent)), (RecordKind.SUBMIT_SENT, coid, {})])
            self._dispatch_submit(_Pending(coid, intent, 0, 0.0))
            submitted.append({"symbol": symbol, "side": side, "qty": str(abs(pos.qty)), "client_order_id": coid})
        return wire.ControlResult(cancel.ok, f"{len(submitted)} closing orders submitted",
                                  {"orders": submitted, "cancel": cancel.data})

    def _reconcile(self, apply: bool, cmd: wire.ControlCommand) -> wire.ControlResult:
        """Compare our positions and open orders with the broker's; with `apply`, adopt the
        broker's positions (journalled) and lift a position-mismatch halt."""
        self._settle(2.0)
        try:
            broker_positions = self.venue.positions()
            broker_open = self.venue.list_orders("open")
        except VenueError as exc:
            return wire.ControlResult(False, f"broker unreachable: {exc}")
        mismatches = core.reconcile_positions(self.proj, broker_positions)
        ours_open = {o.client_order_id for o in self.proj.open_orders()}
        theirs_open = {o.client_order_id for o in broker_open}
        data: dict[str, Any] = {
            "local_positions": {s: str(p.qty) for s, p in self.proj.positions.items() if p.qty},
            "broker_positions": {p.symbol: str(p.qty) for p in broker_positions},
            "position_diffs": {s: {"local": str(o), "broker": str(b)} for s, (o, b) in sorted(mismatches.items())},
            "local_open_orders": len(ours_open), "broker_open_orders": len(theirs_open),
            "orders_only_local": sorted(ours_open - theirs_open), "orders_only_broker": sorted(theirs_open - ours_open),
        }
        if apply and mismatches:
            by_symbol = {p.symbol: p for p in broker_positions}
            entries: list[core.Entry] = []
            for symbol in mismatches:
                bp = by_symbol.get(symbol)
                entries.append((RecordKind.RECONCILIATION, "", {"adopt_position": {
                    "symbol": symbol, "qty": str(bp.qty if bp else 0),
                    "avg_entry_price": str(bp.avg_entry_price if bp else 0),
                    "by": cmd.actor, "reason": cmd.reason}}))
            self._commit(entries)
            for symbol in mismatches:
                self._publish_position(symbol)
            self._mismatch_alerts = []
            if self.halted_reason.startswith("position mismatch"):
                log.warning("position mismatch halt lifted after %s adopted the broker's positions", cmd.actor)
                self.halted_reason = ""
            data["applied"] = True
        for coid in data["orders_only_local"]:
            self._schedule_lookup(coid, 0.0)
        return wire.ControlResult(True, "OK" if not mismatches else f"{len(mismatches)} position discrepancies", data)

    def _settle(self, timeout_s: float) -> bool:
        """Process broker results until no order is in flight (or the time is up)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.drain_results()
            busy = [o for o in self.proj.orders.values()
                    if o.state in IN_FLIGHT_STATES or o.state is OrderState.INITIALIZED or o.state is OrderState.PENDING_CANCEL]
            if not busy and not any(p.intent for p in self._pending):
                return True
            if time.monotonic() >= deadline:
                log.warning("%d orders still in flight after %.1fs", len(busy), timeout_s)
                return False
            time.sleep(0.02)

    def _run_watchdog(self) -> None:
        verdict = self.watchdog.check(self.clock.now_ns())
        reason = verdict.reason if verdict.block_orders else ""
        if reason and not self._watchdog_reason:
            log.error("watchdog: %s: new orders stopped", reason)
            self.pub.publish(wire.exec_alert(), wire.IntegrityAlert("watchdog", "", reason))
        elif not reason and self._watchdog_reason:
            log.warning("watchdog: risk manager heard again: new orders accepted")
        self._watchdog_reason = reason
        if verdict.cancel_now:
            log.error("watchdog: %s: cancelling all open orders", verdict.reason)
            self.pub.publish(wire.exec_alert(), wire.IntegrityAlert("watchdog_cancel", "", verdict.reason))
            self._cancel_all(5.0)

    # ================================================================= loop
    def on_quotes(self) -> None:
        now = self.clock.now_ns()
        for _topic, env in self.md.recv_batch(0):
            q = env.payload
            if isinstance(q, wire.QuoteMsg):
                self.marks[q.symbol] = (Decimal(repr(q.bid_price)) + Decimal(repr(q.ask_price))) / 2
            elif isinstance(q, wire.Heartbeat):
                self.watchdog.heard("market_data", now)

    def on_risk_heartbeats(self) -> None:
        now = self.clock.now_ns()
        for _topic, env in self.risk_hb.recv_batch(0):
            if isinstance(env.payload, wire.Heartbeat):
                self.watchdog.heard("risk_manager", now)

    def serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self.server.socket, zmq.POLLIN)
        poller.register(self.risk_hb.socket, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        stop = self.rt.stop_event
        while not stop.is_set():
            ready = dict(poller.poll(self._md_due.wait_ms(50)))
            if self.server.socket in ready:
                for identity, env in self.server.poll(0):
                    self.handle_request(identity, env)
            if self._wake_r in ready or not self.results.empty():
                self.drain_results()
            if self._md_due.due():
                self.on_quotes()
            if self.risk_hb.socket in ready:
                self.on_risk_heartbeats()
            self.run_timers()
            self.rt.try_reload()

    def close(self) -> None:
        """Drain: finish in-flight broker calls and record their results, then close."""
        self.pool.shutdown(wait=True)
        self.drain_results()
        self.stream.stop()
        for sock in (self.server, self.pub, self.md, self.risk_hb):
            sock.close()
        self.journal.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


def run(config_dir: Path, stop_event: threading.Event | None = None) -> int:
    with ServiceRuntime("execution_engine", config_dir, stop_event=stop_event) as rt:
        try:
            lock = AccountLock(rt.cfg.system.execution.lock_path)
        except AccountLockHeld as exc:
            log.error("%s", exc)
            return 2
        engine = ExecutionEngine(rt)
        try:
            engine.recover()
            rt.mark_ready(halted=engine.halted_reason)
            engine.serve()
        finally:
            engine.close()
            lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1] if len(sys.argv) > 1 else "config")))
