"""Projections of the journal: orders, positions and realized P&L rebuilt by folding the
journal's typed order events (`pyrt.domain.events`) through the pure transitions of
`pyrt.domain.orders`. Pure: no I/O; the journal file lives in `persistence.journal`.

The live engine calls `OrderProjection.apply(record)` with each record it has just appended,
and a restart calls `replay(journal.iter_records())`; both run the same code, so live state
equals replayed state. Records at or below `last_seq` are skipped, so applying a record
twice is harmless. A record that does not decode into its event type is noted as an anomaly
and skipped, never raised: a replay always completes.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec

from pyrt.domain.events import (
    Acked,
    BadEvent,
    BrokerEvent,
    BrokerStatus,
    CancelRequested,
    Filled,
    JournalRecord,
    LocalDecision,
    OrderEvent,
    OutcomeUnknown,
    PositionAdopted,
    SubmitSent,
    decode_event,
)
from pyrt.domain.intents import OrderIntent
from pyrt.domain.orders import (
    OVERFILL,
    Order,
    Outcome,
    Position,
    TransitionRejected,
    apply_ack,
    apply_cancel_requested,
    apply_deny,
    apply_fill,
    apply_fill_to_position,
    apply_not_found,
    apply_reject,
    apply_status,
    apply_submit_sent,
    apply_trade_event,
    apply_unknown,
    new_order,
)

ZERO = Decimal(0)


class Anomaly(msgspec.Struct, frozen=True):
    """Something in the journal a human or the breaker should look at."""

    seq: int
    client_order_id: str
    what: str


class OrderProjection:
    """Orders by client_order_id, positions by symbol and what needs attention, as of `last_seq`."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self._unfinished: dict[str, None] = {}  # client_order_ids not final yet, oldest first
        self.positions: dict[str, Position] = {}
        self.anomalies: list[Anomaly] = []
        self.halted_symbols: set[str] = set()
        self.last_seq = 0

    # --- queries ---------------------------------------------------------------------------

    def open_orders(self) -> list[Order]:
        """Orders working at the broker (may still fill)."""
        return [o for o in self.unfinished() if o.is_open]

    def unfinished(self) -> list[Order]:
        """Orders not in a final state, oldest first (without walking the whole history:
        periodic checks ask this, and a long-lived journal holds every order ever sent)."""
        orders = self.orders
        return [orders[c] for c in self._unfinished]

    def position(self, symbol: str) -> Position:
        return self.positions.get(symbol) or Position(symbol=symbol)

    def realized_pnl(self) -> Decimal:
        return sum((p.realized_pnl for p in self.positions.values()), ZERO)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrderProjection):
            return NotImplemented
        return (
            self.orders == other.orders
            and self.positions == other.positions
            and self.anomalies == other.anomalies
            and self.halted_symbols == other.halted_symbols
            and self.last_seq == other.last_seq
        )

    __hash__ = None  # type: ignore[assignment]

    # --- applying records ------------------------------------------------------------------

    def apply(self, record: JournalRecord) -> Outcome | None:
        """Apply one journal record; returns the order outcome (None when the record does not
        touch an order or was already applied)."""
        if record.seq <= self.last_seq:
            return None
        self.last_seq = record.seq
        try:
            event = decode_event(record)
        except BadEvent as exc:
            self._note(record, f"bad {record.kind} payload: {exc}")
            return None
        return self.fold(record, event)

    def fold(self, record: JournalRecord, event: OrderEvent) -> Outcome | None:
        """Apply one decoded event (the record gives its seq, time and order)."""
        match event:
            case OrderIntent():
                return self._intent(record, event)
            case PositionAdopted():
                self._adopt(event)
                return None
            case (
                SubmitSent()
                | Acked()
                | OutcomeUnknown()
                | Filled()
                | CancelRequested()
                | BrokerStatus()
                | BrokerEvent()
                | LocalDecision()
            ):
                if not record.client_order_id:
                    return None  # an informational record without an order
                order = self.orders.get(record.client_order_id)
                if order is None:
                    self._note(record, f"{record.kind} for an unknown order")
                    return None
                try:
                    outcome = _step(order, event, record.ts_ns)
                except (KeyError, ValueError) as exc:
                    self._note(record, f"bad {record.kind} payload: {exc}")
                    return None
                self._absorb(record, event, outcome)
                return outcome
        return None  # notes, mismatch findings: informational

    def _intent(self, record: JournalRecord, intent: OrderIntent) -> Outcome | None:
        existing = self.orders.get(record.client_order_id)
        if existing is not None:
            self._note(record, "second intent for this client_order_id ignored")
            return None
        if not record.client_order_id:
            self._note(record, "intent without client_order_id")
            return None
        order = new_order(intent, record.client_order_id, record.ts_ns)
        self.orders[record.client_order_id] = order
        if not order.is_terminal:
            self._unfinished[record.client_order_id] = None
        return None

    def _absorb(self, record: JournalRecord, event: OrderEvent, outcome: Outcome) -> None:
        order = outcome.order
        self.orders[order.client_order_id] = order
        if order.is_terminal:
            self._unfinished.pop(order.client_order_id, None)
        else:
            self._unfinished[order.client_order_id] = None
        if isinstance(outcome, TransitionRejected):
            self._note(record, f"rejected: {outcome.reason}")
        for alert in outcome.alerts:
            self._note(record, alert)
            if alert == OVERFILL:
                self.halted_symbols.add(order.symbol)
        if outcome.fill_qty_delta > ZERO:
            price = outcome.fill_notional_delta / outcome.fill_qty_delta
            position = apply_fill_to_position(self.position(order.symbol), order.side, outcome.fill_qty_delta, price)
            self.positions[order.symbol] = position
        if (
            isinstance(event, Filled)
            and event.position_qty is not None
            and event.position_qty != self.position(order.symbol).qty
        ):
            self._note(record, f"position_qty {event.position_qty} != projected {self.position(order.symbol).qty}")

    def _adopt(self, event: PositionAdopted) -> None:
        """An operator adopted the broker's position (`pyrt reconcile --apply`): the
        position becomes exactly the broker's, realized P&L is kept."""
        p = event.adopt_position
        old = self.position(p.symbol)
        self.positions[p.symbol] = Position(
            symbol=p.symbol, qty=p.qty, avg_entry_price=p.avg_entry_price, realized_pnl=old.realized_pnl
        )

    def _note(self, record: JournalRecord, what: str) -> None:
        self.anomalies.append(Anomaly(record.seq, record.client_order_id, what))


_LOCAL_STEPS = {"denied": apply_deny, "rejected": apply_reject, "not_found": apply_not_found}


def _step(order: Order, event: OrderEvent, ts: int) -> Outcome:
    """Apply one order-touching event to `order`."""
    match event:
        case SubmitSent():
            return apply_submit_sent(order, ts)
        case Acked():
            return apply_ack(order, event.broker_order_id, event.status, ts, event.reason)
        case OutcomeUnknown():
            return apply_unknown(order, event.reason, ts)
        case Filled():
            return apply_fill(order, event.execution_id, event.qty, event.price, ts)
        case CancelRequested():
            return apply_cancel_requested(order, ts)
        case BrokerStatus():
            return apply_status(
                order,
                event.status,
                event.filled_qty,
                event.filled_avg_price,
                ts,
                event.broker_order_id,
                event.replaced_by,
            )
        case BrokerEvent():
            return apply_trade_event(order, event.event, ts, event.broker_order_id, event.replaced_by)
        case LocalDecision():
            return _LOCAL_STEPS[event.local](order, event.reason, ts)
    raise ValueError(f"{type(event).__name__} does not touch an order")


def replay(records: Iterable[JournalRecord]) -> OrderProjection:
    """A fresh projection with every record applied in order."""
    projection = OrderProjection()
    for record in records:
        projection.apply(record)
    return projection
