"""The execution engine's rules as a pure, synchronous core: typed inputs in, typed effects
out (`pyrt.services.execution.messages`). No I/O, no threads, no wall clock: time comes from
the injected clock, so the same core runs under the live shell and under a simulated one.

The core is the one owner of each order's fate (reliability-practices §2.1-2.7):
- an intent is admitted only when the submit budget has room *now*: a burst beyond the
  budget is refused at admission (BUDGET_EXHAUSTED, back-pressure to risk and the strategy),
  never parked for longer than it may live;
- an intent is journalled (intent + submit_sent, one commit) before its POST; a failed
  journal write means no POST (the shell stops executing effects at the failure);
- a timeout/5xx on the POST is an UNKNOWN outcome, resolved by lookup by client_order_id,
  never by a second POST; a duplicate-id refusal means an earlier POST landed: look it up;
- a 404 resends at once with the *same* client_order_id while the intent is younger than
  `max_resend_age_s`: safe even if an earlier POST still lands, because the venue refuses a
  duplicate id (and that refusal makes us look the order up). Rejecting an older order
  locally is final, so it waits until no POST of it can still be in flight at the broker:
  `submit_timeout_s` (+1 s) after its latest POST started. The broker acts on a request
  within the time we wait for its answer, or we would have called the outcome unknown;
- a queued send (after a 429, or a resend) is checked at send time: an order that is no
  longer waiting to be sent, or is older than its time to live, is never sent, and a local
  rejection is final: nothing is ever sent after it;
- an order still waiting to be sent is never looked up as if it had been sent;
- positions are compared with the broker's periodically; a mismatch on a quiet symbol seen
  in two consecutive checks (values may move), or on a busy symbol in three, halts trading.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from pyrt.bus import schema as wire
from pyrt.domain.clock import Clock
from pyrt.domain.enums import OrderSide, ReportEvent
from pyrt.domain.events import (
    CancelRequested,
    Filled,
    JournalRecord,
    PositionMismatch,
    RecordKind,
    SubmitSent,
    decode_event,
)
from pyrt.domain.ids import client_order_id
from pyrt.domain.intents import OrderIntent
from pyrt.domain.orders import IN_FLIGHT_STATES, PRE_ACK_STATES, Order, OrderState, Outcome
from pyrt.persistence.projections import OrderProjection, replay
from pyrt.services.execution import records as rec
from pyrt.services.execution.budget import RequestBudget
from pyrt.services.execution.messages import (
    Alert,
    BrokerOpenOrders,
    BrokerPositions,
    BrokerReadFailed,
    BrokerResult,
    CancelAll,
    Count,
    Effect,
    Entry,
    Halted,
    Journal,
    Lookup,
    LookupFailed,
    LookupFound,
    LookupMissing,
    Publish,
    ReadBroker,
    Submit,
    SubmitAcked,
    SubmitDuplicate,
    SubmitRateLimited,
    SubmitRefused,
    SubmitUnknown,
)
from pyrt.services.execution.reconcile import adoption_entries, reconcile_orders, reconcile_positions
from pyrt.services.execution.watchdog import Watchdog
from pyrt.venues.port import BrokerOrder, BrokerPosition, TradeUpdateReport
from pyrt.venues.stream_events import MalformedTradeUpdate, StreamDown, StreamUp, TradeUpdateSeen

log = logging.getLogger("pyrt.execution_engine")

S = 1_000_000_000  # ns per second

# reason codes on the order path
OK = "OK"
NOT_READY = "NOT_READY"
EXECUTION_HALTED = "EXECUTION_HALTED"
SYMBOL_HALTED = "SYMBOL_HALTED"
DUPLICATE = "DUPLICATE"
JOURNAL_WRITE_FAILED = "JOURNAL_WRITE_FAILED"
WATCHDOG = "WATCHDOG"
BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"

INFLIGHT_CHECK_S = 2.0  # how often orders in flight are checked for lateness
INFLIGHT_LATE_S = 5.0  # an order sent this long ago without an answer is looked up
UNRESOLVED_ALERT_S = 60.0  # an order whose fate is unknown this long raises an alert
OPEN_ORDERS_CHECK_S = 15.0
POSITIONS_CHECK_S = 60.0
POSITIONS_RECHECK_S = 10.0  # a suspect position is looked at again this soon
FILL_SETTLE_S = 5.0  # a symbol with a fill this recent may race the broker's position
MISMATCH_REPEAT_S = 5.0  # a standing position mismatch is announced again this often
WATCHDOG_CHECK_S = 0.5
LOOKUP_FIRST_S = 0.5
LOOKUP_BACKOFF_MAX_S = 30.0
CONSISTENCY_MARGIN_S = 1.0


@dataclass(frozen=True)
class Admission:
    """The answer to an approved intent: accept (with the records to journal) or refuse."""

    client_order_id: str
    accepted: bool
    reason_code: str = OK
    message: str = ""
    duplicate: bool = False
    entries: tuple[Entry, ...] = ()
    state: str = ""  # a duplicate's order state (the earlier order stands)

    def journal_failed(self) -> Admission:
        """The answer once the journal write of an accepted intent failed: refused, not sent."""
        return Admission(self.client_order_id, False, JOURNAL_WRITE_FAILED, "journal write failed: order NOT sent")


def admit(
    proj: OrderProjection,
    intent: OrderIntent,
    *,
    accepting: bool,
    halted_reason: str,
    tick_ns: int = 0,
    watchdog_reason: str = "",
) -> Admission:
    """Decide on an approved intent from the order state alone (the budget is the core's)."""
    try:
        coid = client_order_id(intent.strategy, intent.intent_id)
    except ValueError as exc:
        return Admission("", False, "INVALID_ORDER", str(exc))
    existing = proj.orders.get(coid)
    if existing is not None:
        return Admission(
            coid,
            existing.state not in (OrderState.DENIED, OrderState.REJECTED),
            DUPLICATE,
            f"intent already journalled ({existing.state.value})",
            duplicate=True,
            state=existing.state.value,
        )
    if not accepting:
        return Admission(coid, False, NOT_READY, "execution engine is starting (reconciling)")
    if halted_reason:
        return Admission(coid, False, EXECUTION_HALTED, halted_reason)
    if watchdog_reason:
        return Admission(coid, False, WATCHDOG, watchdog_reason)
    if intent.symbol in proj.halted_symbols:
        return Admission(coid, False, SYMBOL_HALTED, f"{intent.symbol} halted after an overfill")
    return Admission(coid, True, entries=tuple(rec.intent_entries(coid, intent, tick_ns)))


def intent_of(order: Order) -> OrderIntent:
    """The intent an order was journalled from (to send it again with the same id)."""
    return OrderIntent(
        intent_id=order.intent_id,
        strategy=order.strategy,
        symbol=order.symbol,
        side=order.side,
        qty=order.qty,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        ts_ns=order.created_ns,
        reason=order.reason,
    )


def liquidation_plan(positions: dict[str, Decimal]) -> list[tuple[str, OrderSide, Decimal]]:
    """(symbol, side, qty) closing each non-flat position: what the engine submits and what
    the operator is shown before confirming (a short is bought back, a long sold)."""
    return [
        (symbol, OrderSide.SELL if qty > 0 else OrderSide.BUY, abs(qty))
        for symbol, qty in sorted(positions.items())
        if qty != 0
    ]


def liquidation_intents(proj: OrderProjection, now_ns: int, actor: str, reason: str) -> list[OrderIntent]:
    """One market order closing each open position (the plan the engine submits)."""
    stamp = now_ns // 1_000_000
    return [
        OrderIntent(
            intent_id=f"liq{stamp}{symbol}"[:32],
            strategy="liquidate",
            symbol=symbol,
            side=side,
            qty=qty,
            ts_ns=now_ns,
            reason=f"liquidation by {actor or 'operator'}: {reason}",
        )
        for symbol, side, qty in liquidation_plan({s: p.qty for s, p in proj.positions.items()})
    ]


@dataclass
class _Queued:
    """A send waiting for the budget or a retry time (after a 429, or a resend)."""

    intent: OrderIntent
    tick_ns: int
    due_ns: int
    why: str  # "resend" | "rate_limited" | "liquidation"


@dataclass
class _Lookup:
    due_ns: int
    attempts: int = 0
    inflight: bool = False


class ExecutionCore:
    def __init__(
        self,
        clock: Clock,
        budget: RequestBudget,
        *,
        max_resend_age_s: float = 30.0,
        submit_timeout_s: float = 10.0,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.clock = clock
        self.budget = budget
        self.proj = OrderProjection()
        self.watchdog = watchdog
        self.max_resend_age_ns = int(max_resend_age_s * S)
        self.consistency_ns = int((submit_timeout_s + CONSISTENCY_MARGIN_S) * S)
        self.accepting = False
        self.halted_reason = ""
        self.watchdog_reason = ""
        self.marks: dict[str, Decimal] = {}
        self.mismatch_alerts: list[wire.IntegrityAlert] = []
        self._queue: dict[str, _Queued] = {}
        self._sending: set[str] = set()  # POST handed to a worker, no answer yet
        self._sent_ns: dict[str, int] = {}  # when the latest POST of each order started
        self._lookups: dict[str, _Lookup] = {}
        self._suspects: dict[str, int] = {}  # symbol -> consecutive mismatching checks
        self._last_fill_ns: dict[str, int] = {}
        self._alerted_unresolved: set[str] = set()
        self._next: dict[str, int] = {}

    # ================================================================= queries
    def queued(self) -> int:
        return len(self._queue)

    def oldest_queued_s(self) -> float:
        now = self.clock.now_ns()
        ages = [now - self.proj.orders[c].created_ns for c in self._queue if c in self.proj.orders]
        return max(ages, default=0) / S

    def busy(self) -> bool:
        """An order is on its way (being sent, queued, in flight or being canceled)."""
        return bool(self._queue or self._sending) or any(
            o.state in PRE_ACK_STATES or o.state is OrderState.PENDING_CANCEL for o in self.proj.unfinished()
        )

    def status(self) -> dict[str, object]:
        return {
            "accepting": self.accepting,
            "halted": self.halted_reason,
            "watchdog": self.watchdog_reason,
            "orders": len(self.proj.orders),
            "open_orders": len(self.proj.open_orders()),
            "queued_submits": len(self._queue),
            "positions": {s: str(p.qty) for s, p in self.proj.positions.items() if p.qty},
        }

    # ================================================================= start-up
    def replay(self, records: list[JournalRecord]) -> None:
        self.proj = replay(records)

    def unresolved(self) -> list[Order]:
        return self.proj.unfinished()

    def on_startup_orders(self, broker_orders: list[BrokerOrder]) -> tuple[list[Effect], list[str]]:
        """Bring journalled orders up to the broker's view; returns the effects and the
        client_order_ids to look up one by one (a missing list entry is not proof)."""
        result = reconcile_orders(self.proj, broker_orders)
        effects: list[Effect] = [Journal(tuple(result.entries))] if result.entries else []
        if result.external_orders:
            detail = ", ".join(f"{o.symbol} {o.side} {o.qty} ({o.client_order_id})" for o in result.external_orders)
            effects += self._halt(f"orders at the broker that this engine never sent: {detail}", "external_order")
        return effects, result.lookups

    def on_startup_positions(self, positions: list[BrokerPosition]) -> list[Effect]:
        mismatches = reconcile_positions(self.proj, positions)
        return self._position_mismatch(mismatches, startup=True) if mismatches else []

    def start_accepting(self) -> list[Effect]:
        self.accepting = True
        return self._publish_positions()

    # ================================================================= the order path
    def on_intent(self, intent: OrderIntent, tick_ns: int = 0) -> tuple[Admission, list[Effect]]:
        adm = admit(
            self.proj,
            intent,
            accepting=self.accepting,
            halted_reason=self.halted_reason,
            tick_ns=tick_ns,
            watchdog_reason=self.watchdog_reason,
        )
        if adm.accepted and not adm.duplicate and not self.budget.try_acquire("submit"):
            wait = self.budget.wait_time("submit")
            adm = Admission(
                adm.client_order_id,
                False,
                BUDGET_EXHAUSTED,
                f"the broker request budget for submits ({self.budget.limit('submit')}/min) is used up; "
                f"retry in {wait:.1f}s",
            )
        if not adm.accepted:
            return adm, [Count("orders_rejected", adm.reason_code.lower())]
        if adm.duplicate:
            return adm, []
        self._mark_sending(adm.client_order_id)
        return adm, [Journal(adm.entries), Submit(adm.client_order_id, intent, tick_ns)]

    def on_journal_failed(self, error: str, unexecuted: Iterable[object] = ()) -> list[Effect]:
        """A journal write failed: the shell runs none of the effects after it, so none of
        the submits among them is on its way (no POST without its journal record); halt."""
        for effect in unexecuted:
            if isinstance(effect, Submit):
                self._sending.discard(effect.coid)
        return self._halt(f"journal write failed: {error}", "journal")

    def submit_liquidation(self, intent: OrderIntent) -> tuple[str, list[Effect]]:
        """A closing order (runs even while halted: it only reduces exposure). Sent now when
        the budget allows, else queued and sent as soon as it does."""
        coid = client_order_id(intent.strategy, intent.intent_id)
        journal = Journal(tuple(rec.intent_entries(coid, intent)))
        if self.budget.try_acquire("submit"):
            self._mark_sending(coid)
            return coid, [journal, Submit(coid, intent)]
        self._queue[coid] = _Queued(intent, 0, self.clock.now_ns(), "liquidation")
        return coid, [journal]

    # ================================================================= broker answers
    def handle(self, msg: BrokerResult) -> list[Effect]:
        now = self.clock.now_ns()
        match msg:
            case SubmitAcked(coid, order, t_call_ns):
                self._sending.discard(coid)
                return [Journal(tuple(rec.ack_entries(coid, order, t_call_ns)))]
            case SubmitRefused(coid, status, message):
                self._sending.discard(coid)
                return [Journal(tuple(rec.refused_entries(coid, status, message)))]
            case SubmitDuplicate(coid):
                self._sending.discard(coid)
                log.warning("venue already has %s (an earlier POST landed): looking it up", coid)
                self._schedule_lookup(coid, 0.0)
                return []
            case SubmitRateLimited(coid, reset):
                self._sending.discard(coid)
                pause = self.budget.on_rate_limited(reset) if reset else 1.0
                limited = self.proj.orders.get(coid)
                if limited is not None:
                    log.warning(
                        "broker rate limit hit; submit of %s retried in %.1fs (same client_order_id)", coid, pause
                    )
                    self._queue[coid] = _Queued(intent_of(limited), 0, now + int(pause * S), "rate_limited")
                return [Count("rate_limited")]
            case SubmitUnknown(coid, reason):
                self._sending.discard(coid)
                log.warning("order outcome unknown coid=%s: %s (resolving by lookup)", coid, reason)
                self._schedule_lookup(coid, LOOKUP_FIRST_S)
                return [Journal(tuple(rec.unknown_entries(coid, reason)))]
            case LookupFound(coid, order):
                self._lookups.pop(coid, None)
                self._queue.pop(coid, None)  # it is at the broker: never send it again
                if coid not in self.proj.orders:
                    return []
                return [Journal(tuple(rec.snapshot_entries(coid, order)))]
            case LookupMissing(coid):
                self._lookups.pop(coid, None)
                return self._on_missing(coid, now)
            case LookupFailed(coid, reason):
                st = self._lookups.get(coid)
                if st is not None:
                    st.inflight = False
                    st.attempts += 1
                    backoff = min(LOOKUP_FIRST_S * 2**st.attempts, LOOKUP_BACKOFF_MAX_S)
                    st.due_ns = now + int(backoff * S)
                    log.warning("lookup of %s failed (%s): retrying in %.1fs", coid, reason, backoff)
                return [Count("lookup_failed")]
            case TradeUpdateSeen(update):
                return self._on_trade_update(update)
            case MalformedTradeUpdate(detail):
                log.error("malformed trade update dropped (%s): checking open orders for what it hid", detail)
                self._next["open"] = 0
                return [Count("malformed_trade_update")]
            case StreamUp():
                log.info("trade_updates stream connected: checking open orders for a gap")
                self._next["open"] = 0
                return []
            case StreamDown(reason):
                log.warning("trade_updates stream disconnected: %s", reason)
                return []
            case BrokerOpenOrders(orders):
                return self._check_open_orders(orders, now)
            case BrokerPositions(positions):
                return self._check_positions(positions, now)
            case BrokerReadFailed(kind, reason):
                log.warning("periodic broker read failed: %s: %s", kind, reason)
                return []
        raise TypeError(f"unhandled broker result {type(msg).__name__}")

    def _on_missing(self, coid: str, now: int) -> list[Effect]:
        order = self.proj.orders.get(coid)
        if order is None or order.is_terminal or coid in self._sending or coid in self._queue:
            return []
        if order.state not in PRE_ACK_STATES:
            log.warning(
                "broker has no order %s although it acknowledged it (%s): left to reconciliation",
                coid,
                order.state.value,
            )
            return []
        entries = rec.not_found_entries(coid, "broker has no order with this client_order_id")
        age = now - order.created_ns
        if age <= self.max_resend_age_ns:  # safe even if an earlier POST lands: the venue refuses a duplicate id
            log.warning("order %s never reached the broker: re-sending with the same client_order_id", coid)
            self._queue[coid] = _Queued(intent_of(order), 0, now, "resend")
            return [Journal(tuple(entries))]
        sent = self._sent_ns.get(coid, order.updated_ns)
        if now - sent < self.consistency_ns:  # a POST may still land: decide when it no longer can
            self._schedule_lookup(coid, (sent + self.consistency_ns - now) / S)
            return []
        log.warning("order %s never reached the broker and is too old to send (%.0fs): rejected locally", coid, age / S)
        entries += rec.stale_unsent_entries(coid, f"never reached the broker; intent {age / S:.0f}s old")
        return [Journal(tuple(entries)), Count("orders_rejected", "stale_unsent")]

    def _on_trade_update(self, update: TradeUpdateReport) -> list[Effect]:
        entries = rec.trade_update_entries(self.proj, update)
        if not entries:
            log.error(
                "trade update for an order this engine never sent: %s %s %s (%s)",
                update.event,
                update.order.symbol,
                update.order.side,
                update.order.client_order_id,
            )
            return [Alert("external_order", update.order.symbol, f"{update.event} on {update.order.client_order_id}")]
        coid = update.order.client_order_id
        self._queue.pop(coid, None)  # the broker has it
        return [Journal(tuple(entries))]

    # ================================================================= journal -> projection
    def apply(self, records: list[JournalRecord]) -> list[Effect]:
        """Fold committed records into the projection; returns reports, alerts and counts."""
        effects: list[Effect] = []
        for record in records:
            outcome = self.proj.apply(record)
            if outcome is not None:
                effects += self._after(record, outcome)
        return effects

    def _after(self, record: JournalRecord, outcome: Outcome) -> list[Effect]:
        order = outcome.order
        effects: list[Effect] = []
        if outcome.applied:
            if (
                order.state is OrderState.REJECTED
                and "state" in outcome.changed
                and record.kind in (RecordKind.ACK, RecordKind.STATUS)
            ):  # the POST's answer, or a trade update / REST status later: every broker rejection
                log.warning(
                    "order rejected by the broker coid=%s symbol=%s reason=%s via=%s",
                    order.client_order_id,
                    order.symbol,
                    order.reason,
                    "submit" if record.kind == RecordKind.ACK else "trade_updates",
                    extra={"error_kind": "BrokerRejection"},
                )
                effects.append(Count("orders_rejected", "broker"))
            if "state" in outcome.changed:
                if order.state is OrderState.FILLED:
                    effects.append(Count("orders_filled"))
                elif order.state is OrderState.CANCELED:
                    effects.append(Count("orders_cancelled"))
                if order.state not in PRE_ACK_STATES:  # answered: its send-side bookkeeping goes
                    self._forget(order.client_order_id)
            effects.append(self._report(order, record))
        for alert in outcome.alerts:
            log.error("order alert %s coid=%s symbol=%s", alert, order.client_order_id, order.symbol)
            effects.append(Alert(alert.lower(), order.symbol, f"{alert} on {order.client_order_id}"))
        if outcome.fill_qty_delta:
            self._last_fill_ns[order.symbol] = self.clock.now_ns()
            effects.append(self._position(order.symbol))
        return effects

    def _report(self, order: Order, record: JournalRecord) -> Publish:
        fill = decode_event(record) if record.kind == RecordKind.FILL else None
        assert fill is None or isinstance(fill, Filled)
        event = _report_event(record, order)
        report = wire.ExecutionReport(
            client_order_id=order.client_order_id,
            broker_order_id=order.broker_order_id,
            intent_id=order.intent_id,
            strategy=order.strategy,
            symbol=order.symbol,
            side=order.side,
            event=event,
            status=order.state.value,
            qty=order.qty,
            filled_qty=order.filled_qty,
            fill_qty=fill.qty if fill else None,
            fill_price=fill.price if fill else None,
            avg_price=order.avg_fill_price,
            position_qty=self.proj.position(order.symbol).qty,
            reason=order.reason if order.state in (OrderState.REJECTED, OrderState.DENIED) else "",
        )
        return Publish(wire.exec_report(order.strategy or "manual"), report, order.intent_id)

    # ================================================================= time
    def _due(self, name: str, period_s: float, now: int) -> bool:
        if now < self._next.get(name, 0):
            return False
        self._next[name] = now + int(period_s * S)
        return True

    def on_timer(self) -> list[Effect]:
        now = self.clock.now_ns()
        effects = self._run_queue(now)
        effects += self._run_lookups(now)
        if self._due("inflight", INFLIGHT_CHECK_S, now):
            effects += self._check_in_flight(now)
        if self.accepting and self._due("open", OPEN_ORDERS_CHECK_S, now):
            if self.budget.try_acquire("read"):
                effects.append(ReadBroker("open_orders"))
            else:
                self._next["open"] = 0
        positions_period = POSITIONS_RECHECK_S if self._suspects else POSITIONS_CHECK_S
        if self.accepting and self._due("positions", positions_period, now):
            if self.budget.try_acquire("read"):
                effects.append(ReadBroker("positions"))
            else:
                self._next["positions"] = 0
        if self.mismatch_alerts and self._due("mismatch", MISMATCH_REPEAT_S, now):
            effects += [Publish(wire.exec_alert(), a) for a in self.mismatch_alerts]
        if self._due("pnl", 1.0, now):
            effects.append(self._pnl())
        if self._due("positions_pub", 5.0, now):
            effects += self._publish_positions()  # late joiners learn positions
        if self.accepting and self.watchdog is not None and self._due("watchdog", WATCHDOG_CHECK_S, now):
            effects += self._run_watchdog(now)
        return effects

    def next_due_s(self) -> float:
        """Seconds until the next queued send or lookup is due (for the shell's poll)."""
        now = self.clock.now_ns()
        dues = [q.due_ns for q in self._queue.values()] + [
            lk.due_ns for lk in self._lookups.values() if not lk.inflight
        ]
        return max(0.0, (min(dues) - now) / S) if dues else 0.05

    def _run_queue(self, now: int) -> list[Effect]:
        effects: list[Effect] = []
        for coid, q in sorted(self._queue.items(), key=lambda kv: kv[1].due_ns):
            order = self.proj.orders.get(coid)
            if order is None or order.state not in PRE_ACK_STATES:  # answered or rejected: never sent again
                del self._queue[coid]
                continue
            age = now - order.created_ns
            if age > self.max_resend_age_ns:
                del self._queue[coid]
                reason = f"not sent within its time to live ({self.max_resend_age_ns / S:.0f}s, {q.why})"
                log.error("order %s %s: rejected locally", coid, reason)
                effects += [
                    Journal(tuple(rec.stale_unsent_entries(coid, reason))),
                    Count("orders_rejected", "submit_expired"),
                    Alert("submit_stalled", order.symbol, f"{coid} {reason}"),
                ]
                continue
            if not self.accepting or q.due_ns > now or not self.budget.try_acquire("submit"):
                continue
            del self._queue[coid]
            self._mark_sending(coid)
            sent = SubmitSent(
                resend=q.why == "resend", rate_limited=q.why == "rate_limited", liquidation=q.why == "liquidation"
            )
            effects += [Journal(((RecordKind.SUBMIT_SENT, coid, sent),)), Submit(coid, q.intent, q.tick_ns)]
        return effects

    def _run_lookups(self, now: int) -> list[Effect]:
        effects: list[Effect] = []
        for coid, st in self._lookups.items():
            if st.inflight or st.due_ns > now or coid in self._sending or coid in self._queue:
                continue
            if not self.budget.try_acquire("read"):
                break
            st.inflight = True
            effects.append(Lookup(coid))
        return effects

    def _check_in_flight(self, now: int) -> list[Effect]:
        effects: list[Effect] = []
        late = now - int(INFLIGHT_LATE_S * S)
        for order in self.proj.unfinished():
            coid = order.client_order_id
            if order.state not in PRE_ACK_STATES:
                continue
            waiting = coid in self._sending or coid in self._queue
            if order.state in IN_FLIGHT_STATES and order.updated_ns < late and not waiting:
                self._schedule_lookup(coid, 0.0)
            if now - order.created_ns > UNRESOLVED_ALERT_S * S and coid not in self._alerted_unresolved:
                self._alerted_unresolved.add(coid)
                detail = f"{coid} {order.state.value} for {(now - order.created_ns) / S:.0f}s"
                log.error("order fate unresolved: %s", detail)
                effects += [Alert("order_unresolved", order.symbol, detail), Count("orders_unresolved")]
        return effects

    def startup_lookups(self, coids: list[str]) -> list[Effect]:
        """Look up, concurrently and within the read budget, the orders start-up could not
        find in the broker's lists; what the budget cannot take now follows as it frees."""
        for coid in coids:
            self._schedule_lookup(coid, 0.0)
        return self._run_lookups(self.clock.now_ns())

    def look_up(self, coids: list[str]) -> list[Effect]:
        return self.startup_lookups(coids)

    def lookups_in_flight(self) -> bool:
        return any(st.inflight for st in self._lookups.values())

    def _schedule_lookup(self, coid: str, delay_s: float) -> None:
        st = self._lookups.get(coid)
        due = self.clock.now_ns() + int(delay_s * S)
        if st is None:
            self._lookups[coid] = _Lookup(due)
        elif not st.inflight:
            st.due_ns = min(st.due_ns, due) if delay_s == 0.0 else due

    def _forget(self, coid: str) -> None:
        self._lookups.pop(coid, None)
        self._sent_ns.pop(coid, None)
        self._alerted_unresolved.discard(coid)

    def _mark_sending(self, coid: str) -> None:
        self._sending.add(coid)
        self._sent_ns[coid] = self.clock.now_ns()

    # ================================================================= periodic checks
    def _check_open_orders(self, broker_open: list[BrokerOrder], now: int) -> list[Effect]:
        """Local open orders the broker no longer lists as open: look each up (they may have
        filled or been canceled while the stream was away)."""
        open_coids = {o.client_order_id for o in broker_open}
        cutoff = now - 2 * S  # skip orders with very recent events
        for order in self.proj.unfinished():
            if order.is_open and order.client_order_id not in open_coids and order.updated_ns < cutoff:
                self._schedule_lookup(order.client_order_id, 0.0)
        for o in broker_open:
            if o.client_order_id not in self.proj.orders:
                log.error(
                    "open order at the broker that this engine never sent: %s %s %s (%s)",
                    o.symbol,
                    o.side,
                    o.qty,
                    o.client_order_id,
                )
        return []

    def _check_positions(self, positions: list[BrokerPosition], now: int) -> list[Effect]:
        """A mismatch is confirmed when it persists: two consecutive checks on a quiet symbol,
        three on a busy one (an order on its way, or a fill in the last FILL_SETTLE_S, can race
        the broker's snapshot); the values may move between checks (a drift that grows is
        still a drift)."""
        mismatches = reconcile_positions(self.proj, positions)
        recent = now - int(FILL_SETTLE_S * S)
        busy = {o.symbol for o in self.proj.unfinished() if o.state in PRE_ACK_STATES}
        busy |= {s for s, t in self._last_fill_ns.items() if t >= recent}
        streak = {s: self._suspects.get(s, 0) + 1 for s in mismatches}
        self._suspects = streak
        confirmed = {s: v for s, v in mismatches.items() if streak[s] >= (3 if s in busy else 2)}
        if not confirmed:
            return []
        return self._position_mismatch(confirmed, startup=False)

    def _position_mismatch(self, mismatches: dict[str, tuple[Decimal, Decimal]], startup: bool) -> list[Effect]:
        detail = "; ".join(f"{s}: ours {o} broker {b} (diff {b - o})" for s, (o, b) in sorted(mismatches.items()))
        entry: Entry = (
            RecordKind.RECONCILIATION,
            "",
            PositionMismatch(
                position_mismatch={s: {"ours": str(o), "broker": str(b)} for s, (o, b) in mismatches.items()}
            ),
        )
        self.mismatch_alerts = [
            wire.IntegrityAlert("position_mismatch", symbol, f"ours {ours} broker {broker}")
            for symbol, (ours, broker) in sorted(mismatches.items())
        ]
        self._next["mismatch"] = self.clock.now_ns() + int(MISMATCH_REPEAT_S * S)
        effects: list[Effect] = [Journal((entry,))]
        effects += [Publish(wire.exec_alert(), a) for a in self.mismatch_alerts]
        reason = f"position mismatch with the broker{' at start-up' if startup else ''}: {detail}"
        return effects + self._halt(reason, "position_mismatch")

    def _run_watchdog(self, now: int) -> list[Effect]:
        assert self.watchdog is not None
        verdict = self.watchdog.check(now)
        reason = verdict.reason if verdict.block_orders else ""
        effects: list[Effect] = []
        if reason and not self.watchdog_reason:
            log.error("watchdog: %s: new orders stopped", reason)
            effects.append(Alert("watchdog", "", reason))
        elif not reason and self.watchdog_reason:
            log.warning("watchdog: risk manager heard again: new orders accepted")
        self.watchdog_reason = reason
        if verdict.cancel_now:
            log.error("watchdog: %s: cancelling all open orders", verdict.reason)
            effects += [Alert("watchdog_cancel", "", verdict.reason), CancelAll(verdict.reason)]
        return effects

    def heard(self, service: str) -> None:
        if self.watchdog is not None:
            self.watchdog.heard(service, self.clock.now_ns())

    # ================================================================= operator
    def halt(self, reason: str) -> None:
        self.halted_reason = reason

    def resume(self) -> str:
        previous, self.halted_reason = self.halted_reason, ""
        return previous

    def _halt(self, reason: str, kind: str) -> list[Effect]:
        if self.halted_reason:
            return []
        self.halted_reason = reason
        return [Halted(reason, kind)]

    def cancel_requested(self) -> list[Effect]:
        entries = tuple(
            (RecordKind.CANCEL_REQUESTED, o.client_order_id, CancelRequested()) for o in self.proj.open_orders()
        )
        return [Journal(entries)] if entries else []

    def adopt(
        self,
        mismatches: dict[str, tuple[Decimal, Decimal]],
        broker_positions: list[BrokerPosition],
        actor: str,
        reason: str,
    ) -> list[Effect]:
        """The operator adopts the broker's positions: journalled, and a position-mismatch
        halt is lifted (what it stood for was just resolved)."""
        effects: list[Effect] = [Journal(tuple(adoption_entries(mismatches, broker_positions, actor, reason)))]
        self.mismatch_alerts = []
        self._suspects = {}
        if self.halted_reason.startswith("position mismatch"):
            log.warning("position mismatch halt lifted after %s adopted the broker's positions", actor)
            self.halted_reason = ""
        return effects

    # ================================================================= marks, positions, P&L
    def on_mark(self, symbol: str, mid: Decimal) -> None:
        self.marks[symbol] = mid

    def _position(self, symbol: str) -> Publish:
        pos = self.proj.position(symbol)
        mark = self.marks.get(symbol, pos.avg_entry_price)
        return Publish(
            wire.exec_position(symbol),
            wire.PositionUpdate(
                symbol, pos.qty, pos.avg_entry_price, pos.qty * mark, pos.unrealized_pnl(mark), pos.realized_pnl
            ),
        )

    def _publish_positions(self) -> list[Effect]:
        return [self._position(symbol) for symbol in self.proj.positions]

    def publish_positions(self, symbols: list[str]) -> list[Effect]:
        return [self._position(symbol) for symbol in symbols]

    def pnl(self) -> wire.PnLUpdate:
        realized = self.proj.realized_pnl()
        unrealized = sum(
            (p.unrealized_pnl(self.marks.get(s, p.avg_entry_price)) for s, p in self.proj.positions.items()), Decimal(0)
        )
        return wire.PnLUpdate(realized, unrealized, Decimal(0), Decimal(0))

    def _pnl(self) -> Publish:
        return Publish(wire.exec_pnl(), self.pnl())

    def snapshot(self, kind: str) -> list[wire.SnapshotItem]:
        if kind == "positions":
            return [self._position(s).message for s in self.proj.positions]
        if kind == "strategy_positions":
            net: dict[tuple[str, str], Decimal] = {}
            for o in self.proj.orders.values():
                if o.filled_qty and o.strategy:
                    key = (o.strategy, o.symbol)
                    net[key] = net.get(key, Decimal(0)) + (o.filled_qty if o.side is OrderSide.BUY else -o.filled_qty)
            zero = Decimal(0)
            return [
                wire.PositionUpdate(symbol, qty, zero, zero, zero, zero, strategy=strategy)
                for (strategy, symbol), qty in sorted(net.items())
            ]
        if kind == "orders":
            return [
                wire.ExecutionReport(
                    client_order_id=o.client_order_id,
                    broker_order_id=o.broker_order_id,
                    intent_id=o.intent_id,
                    strategy=o.strategy,
                    symbol=o.symbol,
                    side=o.side,
                    event=ReportEvent.SNAPSHOT,
                    status=o.state.value,
                    qty=o.qty,
                    filled_qty=o.filled_qty,
                    avg_price=o.avg_fill_price,
                    order_type=o.order_type.value,
                    time_in_force=o.time_in_force.value,
                    limit_price=o.limit_price,
                    stop_price=o.stop_price,
                    created_ns=o.created_ns,
                )
                for o in self.proj.unfinished()
            ]
        return []


_KIND_EVENTS: dict[str, ReportEvent] = {
    RecordKind.INTENT: ReportEvent.PENDING_NEW,
    RecordKind.SUBMIT_SENT: ReportEvent.SUBMITTED,
    RecordKind.UNKNOWN: ReportEvent.UNKNOWN,
    RecordKind.CANCEL_REQUESTED: ReportEvent.PENDING_CANCEL,
}


def _report_event(record: JournalRecord, order: Order) -> ReportEvent:
    """The event a journal record stands for. Whether the order is finished is in the
    report's status, never in this event."""
    if record.kind in _KIND_EVENTS:
        return _KIND_EVENTS[record.kind]
    if record.kind == RecordKind.ACK:
        return ReportEvent.REJECTED if order.state is OrderState.REJECTED else ReportEvent.ACCEPTED
    if record.kind == RecordKind.FILL:
        return ReportEvent.PARTIAL_FILL if order.state is OrderState.PARTIALLY_FILLED else ReportEvent.FILL
    event = record.payload.get("event") if record.kind == RecordKind.STATUS else None
    try:
        return ReportEvent(event) if isinstance(event, str) else ReportEvent.STATUS
    except ValueError:
        return ReportEvent.STATUS
