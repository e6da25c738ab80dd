"""execution-engine process: the thin shell around `ExecutionCore`, the only writer of
order state.

The core decides (`core.py`); this shell owns what the core must not: the journal file,
the sockets, a small pool of broker workers and the trade_updates stream thread. Workers
and the stream hand typed results back through a queue and a wake pipe that the main loop
polls with the sockets; each result goes to the core, and the shell executes the effects
the core returns, in order. A failed journal write stops the batch: nothing after it runs,
so no order is sent whose intent is not on disk. Start-up is the recovery path: take the
account lock, replay the journal, reconcile with the broker, then accept orders.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pyrt.bootstrap import make_venue, venue_keys
from pyrt.bus import schema as wire
from pyrt.bus.poller import Poller
from pyrt.bus.zmq import ReplyServer, ZmqPublisher, ZmqSubscriber
from pyrt.domain.clock import WallClock, iso_utc
from pyrt.domain.events import JournalRecord
from pyrt.observability import stages
from pyrt.observability.metrics import required
from pyrt.persistence.journal import Journal as JournalFile
from pyrt.persistence.journal import JournalWriteError, failpoint
from pyrt.services.execution.budget import RequestBudget
from pyrt.services.execution.core import ExecutionCore
from pyrt.services.execution.lock import AccountLock, AccountLockHeld
from pyrt.services.execution.messages import (
    Alert,
    CancelAll,
    Count,
    Effect,
    Halted,
    Journal,
    Lookup,
    Publish,
    ReadBroker,
    ReadKind,
    Submit,
    lookup_result,
    read_result,
    submit_result,
)
from pyrt.services.execution.operator import OperatorCommands
from pyrt.services.execution.watchdog import Watchdog
from pyrt.services.runtime import Every, ServiceRuntime
from pyrt.venues.alpaca.trade_stream import TradeUpdatesThread
from pyrt.venues.port import OutcomeUnknown, RateLimited, VenuePort, VenueUnavailable
from pyrt.venues.stream_events import StreamDown, StreamUp, TradeUpdateSeen

__all__ = ["AccountLock", "AccountLockHeld", "ExecutionEngine", "run"]

log = logging.getLogger("pyrt.execution_engine")

STREAM_CONNECT_TIMEOUT_S = 10.0
MD_DRAIN_S = 0.002  # how often marks and the market-data heartbeat are read
SUBMIT_HANDOFF_S = 0.002  # the loop waits at most this for a submit worker to start
TRANSIENT = (VenueUnavailable, OutcomeUnknown, RateLimited)  # worth retrying; a 404 is an answer
T = TypeVar("T")


class _Apply:
    """Marker in the effect queue: fold these committed records into the core (after the
    effects already queued, so a submit leaves before the projection and reports)."""

    __slots__ = ("records",)

    def __init__(self, records: list[JournalRecord]) -> None:
        self.records = records


class ExecutionEngine:
    def __init__(self, rt: ServiceRuntime, venue: VenuePort | None = None) -> None:
        self.rt = rt
        cfg = rt.cfg
        ex = cfg.system.execution
        self.clock = WallClock()
        self.metrics = rt.metrics
        self.exec_metrics = required(rt.metrics.execution, "execution")
        self.trading_metrics = required(rt.metrics.trading, "trading")
        self.journal = JournalFile(ex.journal_path, synchronous=ex.journal_synchronous)
        budget = RequestBudget(
            ex.request_budget_per_minute,
            ex.cancel_reserve_per_minute,
            self.clock,
            read_reserve=ex.read_reserve_per_minute,
        )
        # the broker's own count (X-RateLimit-*) tightens the budget: the key may be shared
        self.venue: VenuePort = (
            venue
            if venue is not None
            else make_venue(cfg, timeout_s=ex.submit_timeout_s, on_rate_limit_headers=budget.on_headers)
        )
        watchdog = Watchdog(self.clock.now_ns(), ex.watchdog_risk_silence_s, ex.watchdog_cancel_after_s)
        self.core = ExecutionCore(
            self.clock,
            budget,
            max_resend_age_s=ex.max_resend_age_s,
            submit_timeout_s=ex.submit_timeout_s,
            watchdog=watchdog,
        )
        self.server = ReplyServer(ex.order_endpoint, server_id="execution_engine")
        self.pub = ZmqPublisher(ex.report_publish_address, publisher_id="execution_engine")
        # marks and market-data liveness only: the newest frame per topic, drained every MD_DRAIN_S
        self.md = ZmqSubscriber(
            cfg.system.market_data.zmq_publish_address,
            [wire.MD_QUOTE_PREFIX, wire.heartbeat("market_data")],
            conflate=True,
        )
        self._md_due = Every(MD_DRAIN_S)
        self._second = Every(1.0)
        self.risk_hb = ZmqSubscriber(cfg.system.risk.publish_address, [wire.heartbeat("risk_manager")])
        self.results: queue.Queue[Any] = queue.Queue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="broker")
        self.operator = OperatorCommands(self)
        key_id, secret = venue_keys(cfg)
        self.stream = TradeUpdatesThread(cfg.venue.trading_stream_url, key_id, secret, self._post)

    # ================================================================= start-up
    def recover(self) -> None:
        """Replay the journal, then reconcile with the broker before accepting any order."""
        t0 = time.monotonic()
        self.core.replay(list(self.journal.iter_records()))
        proj = self.core.proj
        log.info(
            "journal replayed: %d records, %d orders, %d positions",
            proj.last_seq,
            len(proj.orders),
            len(proj.positions),
        )
        self.stream.start()
        # listen before looking: an event after the broker snapshot must not be missed
        if not self.stream.connected.wait(STREAM_CONNECT_TIMEOUT_S):
            log.warning(
                "trade_updates stream not connected after %.0fs: relying on polling until it is",
                STREAM_CONNECT_TIMEOUT_S,
            )
        unresolved = self.core.unresolved()
        broker_orders = _retry_read(lambda: self.venue.list_orders("open"))
        if unresolved:
            after = iso_utc(min(o.created_ns for o in unresolved) - 60_000_000_000)
            broker_orders += _retry_read(lambda: self.venue.list_all_orders_since(after))
        effects, lookups = self.core.on_startup_orders(broker_orders)
        self.run(effects)
        # the orders the lists did not show are looked up concurrently, within the budget
        self.run(self.core.startup_lookups(lookups))
        deadline = time.monotonic() + self.rt.cfg.system.execution.submit_timeout_s
        while self.core.lookups_in_flight() and time.monotonic() < deadline:
            self._wait_results(0.05)
            self.drain_results()
        self.run(self.core.on_startup_positions(_retry_read(self.venue.positions)))
        self.run(self.core.start_accepting())
        log.info(
            "reconciliation done in %.2fs: %d orders checked, %d looked up, halted=%s",
            time.monotonic() - t0,
            len(unresolved),
            len(lookups),
            bool(self.core.halted_reason),
        )

    # ================================================================= effects
    def run(self, effects: list[Effect]) -> bool:
        """Execute effects in order. A failed journal write halts, drops the rest of the
        batch (whatever follows depended on that write) and returns False."""
        todo: deque[Effect | _Apply] = deque(effects)
        while todo:
            effect = todo.popleft()
            if isinstance(effect, _Apply):
                todo.extend(self.core.apply(effect.records))
                continue
            match effect:
                case Journal(entries):
                    try:
                        records = self.journal.append_records(list(entries))
                    except JournalWriteError as exc:
                        log.error("journal write failed, nothing after it is done: %s", exc)
                        self.metrics.common.error("journal_write")
                        self.run(self.core.on_journal_failed(str(exc), todo))
                        return False
                    todo.append(_Apply(records))
                case Submit(coid, intent, tick_ns):
                    self._dispatch_submit(coid, intent, tick_ns)
                case Lookup(coid):
                    self.pool.submit(self._lookup_job, coid)
                case ReadBroker(kind):
                    self.pool.submit(self._read_job, kind)
                case Publish(topic, message, correlation_id):
                    self.pub.publish(topic, message, correlation_id=correlation_id)
                case Alert(kind, symbol, detail):
                    self.pub.publish(wire.exec_alert(), wire.IntegrityAlert(kind, symbol, detail))
                case Halted(reason, kind):
                    log.error("trading HALTED by the execution engine: %s", reason)
                    self.metrics.common.error(f"halt_{kind}")
                case Count(name, label):
                    self._count(name, label)
                case CancelAll(reason):
                    self.operator.cancel_all(5.0)
        return True

    def _count(self, name: str, label: str) -> None:
        m = self.exec_metrics
        if name == "orders_rejected":
            m.orders_rejected.labels(reason=label).inc()
        elif name == "orders_filled":
            m.orders_filled.inc()
        elif name == "orders_cancelled":
            m.orders_cancelled.inc()
        else:
            self.metrics.common.error(name)

    # ================================================================= order path
    def handle_request(self, identity: bytes, env: wire.Envelope) -> None:
        t0 = time.perf_counter()
        try:
            payload = env.payload
            if isinstance(payload, wire.OrderIntentMsg):
                self._handle_intent(identity, env, payload)
            elif isinstance(payload, wire.SnapshotRequest):
                items = self.core.snapshot(payload.kind)
                self.server.reply(
                    identity, wire.Snapshot(payload.kind, items, self.pub.publisher_id), env.correlation_id
                )
            elif isinstance(payload, wire.ControlCommand):
                before = self.core.status()
                result = self.operator.handle(payload)
                self.rt.audit_command(payload, result, before=before, after=self.core.status(), journal=self.journal)
                self.server.reply(identity, result, env.correlation_id)
            else:
                self.metrics.common.error("unexpected_request")
                log.warning("unexpected request type %s dropped", env.msg_type)
        finally:
            self.metrics.common.messages_processed.inc()
            self.metrics.common.processing_latency.observe(time.perf_counter() - t0)

    def _handle_intent(self, identity: bytes, env: wire.Envelope, msg: wire.OrderIntentMsg) -> None:
        intent = msg.intent
        stages.mark("exec_in", intent.intent_id)
        adm, effects = self.core.on_intent(intent, env.ts_event)
        if not self.run(effects):
            adm = adm.journal_failed()
        ack = wire.OrderAck(
            intent_id=intent.intent_id,
            client_order_id=adm.client_order_id,
            accepted=adm.accepted,
            reason_code=adm.reason_code,
            message=adm.message,
            duplicate=adm.duplicate,
            state=adm.state,
        )
        self.server.reply(identity, ack, env.correlation_id)
        if not adm.accepted:
            log.warning("order rejected locally intent=%s reason=%s %s", intent.intent_id, adm.reason_code, adm.message)

    def _dispatch_submit(self, coid: str, intent: Any, tick_ns: int) -> None:
        stages.mark("exec_committed", intent.intent_id)
        failpoint("after_journal_before_send")
        self.exec_metrics.orders_submitted.inc()
        started = threading.Event()
        self.pool.submit(self._submit_job, coid, intent, tick_ns, started)
        # Hand the GIL to the worker until it has started the call: otherwise it waits for this
        # loop to block (the reply, reports, the next poll) and the order leaves later.
        started.wait(SUBMIT_HANDOFF_S)

    # ================================================================= worker threads
    def _submit_job(self, coid: str, intent: Any, tick_ns: int, started: threading.Event) -> None:
        """One POST, never repeated here."""
        started.set()
        t_call = time.time_ns()
        stages.mark("exec_submit", intent.intent_id, t_call)
        stages.mark("tick", intent.intent_id, tick_ns)
        if tick_ns:
            self.exec_metrics.tick_to_submit.observe((t_call - tick_ns) / 1e9)
        result = submit_result(coid, lambda: self.venue.submit_order(coid, intent), t_call)
        self.exec_metrics.submit_latency.observe((time.time_ns() - t_call) / 1e9)
        failpoint("after_send_before_ack_write")
        self._post(result)

    def _lookup_job(self, coid: str) -> None:
        self._post(lookup_result(coid, self.venue))

    def _read_job(self, kind: ReadKind) -> None:
        self._post(read_result(kind, self.venue))

    def _post(self, item: Any) -> None:
        self.results.put(item)
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _wait_results(self, timeout_s: float) -> None:
        try:
            item = self.results.get(timeout=timeout_s)
        except queue.Empty:
            return
        self.results.put(item)

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
            if isinstance(item, StreamUp):
                self.exec_metrics.trade_stream_connected.set(1)
            elif isinstance(item, StreamDown):
                self.exec_metrics.trade_stream_connected.set(0)
            elif isinstance(item, TradeUpdateSeen):
                self.metrics.common.messages_processed.inc()
            self.run(self.core.handle(item))
            if isinstance(item, TradeUpdateSeen):
                failpoint("after_fill_before_position_update")

    # ================================================================= loop
    def on_quotes(self) -> None:
        for _topic, env in self.md.recv_batch(0):
            q = env.payload
            if isinstance(q, wire.QuoteMsg):
                self.core.on_mark(q.symbol, (Decimal(repr(q.bid_price)) + Decimal(repr(q.ask_price))) / 2)
            elif isinstance(q, wire.Heartbeat):
                self.core.heard("market_data")

    def on_risk_heartbeats(self) -> None:
        for _topic, env in self.risk_hb.recv_batch(0):
            if isinstance(env.payload, wire.Heartbeat):
                self.core.heard("risk_manager")

    def _every_second(self) -> None:
        self.rt.export_drops(self.md, self.risk_hb, self.server)
        core = self.core
        status = "halted" if core.halted_reason else "ok" if core.accepting else "starting"
        self.pub.publish(
            wire.heartbeat("execution_engine"), wire.Heartbeat("execution_engine", status, self.clock.now_ns())
        )
        m = self.exec_metrics
        m.submit_queue_depth.set(core.queued())
        m.submit_queue_oldest_seconds.set(core.oldest_queued_s())
        m.rate_limit_remaining.set(core.budget.remaining("submit"))  # our windows and the broker's headers
        tm = self.trading_metrics
        proj = core.proj
        pnl = core.pnl()
        tm.realized_pnl.set(float(pnl.realized))
        tm.unrealized_pnl.set(float(pnl.unrealized))
        tm.open_positions.set(sum(1 for p in proj.positions.values() if p.qty != 0))
        for symbol, pos in proj.positions.items():
            tm.position_size.labels(symbol=symbol).set(float(pos.qty))

    def serve(self) -> None:
        poller = Poller()
        poller.register(self.server)
        poller.register(self.risk_hb)
        poller.register(self._wake_r)
        stop = self.rt.stop_event
        while not stop.is_set():
            timeout_ms = min(self._md_due.wait_ms(50), int(self.core.next_due_s() * 1000) + 1)
            ready = poller.poll(timeout_ms)
            if self.server in ready:
                for identity, env in self.server.poll(0):
                    self.handle_request(identity, env)
            if self._wake_r in ready or not self.results.empty():
                self.drain_results()
            if self._md_due.due():
                self.on_quotes()
            if self.risk_hb in ready:
                self.on_risk_heartbeats()
            self.run(self.core.on_timer())
            if self._second.due():
                self._every_second()
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


def _retry_read(fn: Callable[[], T], attempts: int = 5) -> T:
    """A start-up read, retried on transient failures only: a 404 or an auth failure is an
    answer, not a reason to wait."""
    delay = 0.5
    for attempt in range(attempts):
        try:
            return fn()
        except TRANSIENT as exc:
            if attempt == attempts - 1:
                raise
            log.warning("broker read failed (%s), retrying in %.1fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


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
            rt.mark_ready(halted=engine.core.halted_reason)
            engine.serve()
        finally:
            engine.close()
            lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1] if len(sys.argv) > 1 else "config")))
