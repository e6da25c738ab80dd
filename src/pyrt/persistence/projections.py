"""Projections of the journal: orders, positions and realized P&L rebuilt by replaying
journal records through the pure transitions of `pyrt.domain.orders`.

The live engine calls `OrderProjection.apply(record)` with each record it has just appended,
and a restart calls `replay(journal.iter_records())`; both run the same code, so live state
equals replayed state. Records at or below `last_seq` are skipped, so applying a record
twice is harmless.

Payloads by kind (numbers as strings, as msgspec encodes Decimal):
- intent: the `OrderIntent` fields. Creates the order, INITIALIZED.
- submit_sent: {} (journaled just before the POST).
- ack: {"broker_order_id", "status", "reason"?}; a definitive refusal of the POST (HTTP 403
  or 422) is {"status": "rejected", "reason": ...} without a broker id.
- unknown: {"reason"}.
- fill: {"execution_id", "qty", "price", "position_qty"?} (position_qty: Alpaca's position
  after the fill, checked against ours when present).
- status / reconciliation, one of:
  {"status", "filled_qty"?, "filled_avg_price"?, "broker_order_id"?, "replaced_by"?} (REST),
  {"event", "broker_order_id"?, "replaced_by"?} (non-fill trade_updates event),
  {"local": "denied" | "rejected" | "not_found", "reason"} (a local decision).
  Reconciliation records without a client_order_id or these keys are informational.
- cancel_requested: {}. audit, breaker: informational here.
- reconciliation {"adopt_position": {"symbol", "qty", "avg_entry_price"}}: the operator
  adopted the broker's position; ours becomes exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import msgspec

from pyrt.domain.intents import OrderIntent
from pyrt.domain.money import to_decimal
from pyrt.domain.orders import (
    OVERFILL,
    PRE_ACK_STATES,
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
from pyrt.persistence.journal import JournalRecord, RecordKind

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
        self.positions: dict[str, Position] = {}
        self.anomalies: list[Anomaly] = []
        self.halted_symbols: set[str] = set()
        self.last_seq = 0

    # --- queries ---------------------------------------------------------------------------

    def open_orders(self) -> list[Order]:
        """Orders working at the broker (may still fill)."""
        return [o for o in self.orders.values() if o.is_open]

    def needs_resolution(self) -> list[Order]:
        """Orders with no definitive broker answer: SUBMITTED and UNKNOWN (sent, outcome
        unknown), and INITIALIZED (journaled; unsent if submit_sent precedes every POST, but
        a lookup is cheap). Resolve by GET by_client_order_id, never by a second POST."""
        return [o for o in self.orders.values() if o.state in PRE_ACK_STATES]

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
            return self._apply(record)
        except (KeyError, ValueError, TypeError, msgspec.ValidationError) as exc:
            self._note(record, f"bad {record.kind} payload: {exc}")
            return None

    def _apply(self, record: JournalRecord) -> Outcome | None:
        kind, p, ts = record.kind, record.payload, record.ts_ns
        if kind == RecordKind.INTENT:
            return self._intent(record)
        if kind in (RecordKind.AUDIT, RecordKind.BREAKER):
            return None
        if kind == RecordKind.RECONCILIATION and "adopt_position" in p:
            self._adopt(p["adopt_position"])
            return None
        if kind == RecordKind.RECONCILIATION and not (record.client_order_id and _is_status(p)):
            return None
        order = self.orders.get(record.client_order_id)
        if order is None:
            self._note(record, f"{kind} for an unknown order")
            return None
        outcome = _step(order, kind, p, ts)
        self._absorb(record, outcome)
        return outcome

    def _intent(self, record: JournalRecord) -> Outcome | None:
        intent = msgspec.convert(record.payload, OrderIntent)
        existing = self.orders.get(record.client_order_id)
        if existing is not None:
            self._note(record, "second intent for this client_order_id ignored")
            return None
        if not record.client_order_id:
            self._note(record, "intent without client_order_id")
            return None
        self.orders[record.client_order_id] = new_order(intent, record.client_order_id, record.ts_ns)
        return None

    def _absorb(self, record: JournalRecord, outcome: Outcome) -> None:
        order = outcome.order
        self.orders[order.client_order_id] = order
        if isinstance(outcome, TransitionRejected):
            self._note(record, f"rejected: {outcome.reason}")
        for alert in outcome.alerts:
            self._note(record, alert)
            if alert == OVERFILL:
                self.halted_symbols.add(order.symbol)
        if outcome.fill_qty_delta > ZERO:
            price = outcome.fill_notional_delta / outcome.fill_qty_delta
            position = apply_fill_to_position(
                self.position(order.symbol), order.side, outcome.fill_qty_delta, price
            )
            self.positions[order.symbol] = position
        if record.kind == RecordKind.FILL and "position_qty" in record.payload:
            broker_qty = to_decimal(record.payload["position_qty"], "position_qty")
            if broker_qty != self.position(order.symbol).qty:
                self._note(
                    record, f"position_qty {broker_qty} != projected {self.position(order.symbol).qty}"
                )

    def _adopt(self, p: dict[str, Any]) -> None:
        """An operator adopted the broker's position (`pyrt reconcile --apply`): the
        position becomes exactly the broker's, realized P&L is kept."""
        symbol = str(p["symbol"])
        old = self.position(symbol)
        self.positions[symbol] = Position(symbol=symbol, qty=to_decimal(p["qty"], "qty"),
                                          avg_entry_price=to_decimal(p["avg_entry_price"], "avg_entry_price"),
                                          realized_pnl=old.realized_pnl)

    def _note(self, record: JournalRecord, what: str) -> None:
        self.anomalies.append(Anomaly(record.seq, record.client_order_id, what))


_LOCAL_STEPS = {"denied": apply_deny, "rejected": apply_reject, "not_found": apply_not_found}


def _is_status(p: dict[str, Any]) -> bool:
    return "status" in p or "event" in p or "local" in p


def _optional_decimal(p: dict[str, Any], key: str) -> Decimal | None:
    return None if p.get(key) is None else to_decimal(p[key], key)


def _step(order: Order, kind: str, p: dict[str, Any], ts: int) -> Outcome:
    """Apply one order-touching record to `order` (raises KeyError/ValueError on bad payloads)."""
    if kind == RecordKind.SUBMIT_SENT:
        return apply_submit_sent(order, ts)
    if kind == RecordKind.ACK:
        return apply_ack(order, p.get("broker_order_id", ""), p["status"], ts, p.get("reason", ""))
    if kind == RecordKind.UNKNOWN:
        return apply_unknown(order, p.get("reason", ""), ts)
    if kind == RecordKind.FILL:
        qty, price = to_decimal(p["qty"], "qty"), to_decimal(p["price"], "price")
        return apply_fill(order, p["execution_id"], qty, price, ts)
    if kind == RecordKind.CANCEL_REQUESTED:
        return apply_cancel_requested(order, ts)
    if kind not in (RecordKind.STATUS, RecordKind.RECONCILIATION):
        raise ValueError(f"unknown record kind {kind!r}")
    broker_id, replaced_by = p.get("broker_order_id", ""), p.get("replaced_by", "")
    if "status" in p:
        filled, avg = _optional_decimal(p, "filled_qty"), _optional_decimal(p, "filled_avg_price")
        return apply_status(order, p["status"], filled, avg, ts, broker_id, replaced_by)
    if "event" in p:
        return apply_trade_event(order, p["event"], ts, broker_id, replaced_by)
    local = _LOCAL_STEPS.get(p.get("local", ""))
    if local is None:
        raise ValueError(f"no status, event or known local decision in {sorted(p)}")
    return local(order, p.get("reason", ""), ts)


def replay(records: Iterable[JournalRecord]) -> OrderProjection:
    """A fresh projection with every record applied in order."""
    projection = OrderProjection()
    for record in records:
        projection.apply(record)
    return projection
