"""What the execution engine journals for each thing that happens: one builder per kind of
record, each returning `(RecordKind, client_order_id, payload)` entries. Payload shapes are
documented in `pyrt.persistence.projections`, which folds them."""

from __future__ import annotations

from typing import Any

from pyrt.domain.intents import OrderIntent
from pyrt.domain.orders import PRE_ACK_STATES
from pyrt.persistence.journal import RecordKind
from pyrt.persistence.projections import OrderProjection
from pyrt.services.execution.messages import Entry
from pyrt.venues.port import BrokerOrder, TradeUpdateReport

_FILL_EVENTS = ("fill", "partial_fill")


def intent_payload(intent: OrderIntent) -> dict[str, Any]:
    return {
        "intent_id": intent.intent_id,
        "strategy": intent.strategy,
        "symbol": intent.symbol,
        "side": intent.side.value,
        "qty": str(intent.qty),
        "order_type": intent.order_type.value,
        "time_in_force": intent.time_in_force.value,
        "limit_price": None if intent.limit_price is None else str(intent.limit_price),
        "stop_price": None if intent.stop_price is None else str(intent.stop_price),
        "ts_ns": intent.ts_ns,
        "reason": intent.reason,
    }


def ack_entries(coid: str, order: BrokerOrder) -> list[Entry]:
    """The POST was answered: the broker's id and status (fills come as events)."""
    return [(RecordKind.ACK, coid, {"broker_order_id": order.id, "status": order.status})]


def refused_entries(coid: str, status: int, message: str) -> list[Entry]:
    """A definitive refusal (403/422): the order does not exist at the venue."""
    return [(RecordKind.ACK, coid, {"status": "rejected", "reason": f"{status} {message}"})]


def unknown_entries(coid: str, reason: str) -> list[Entry]:
    return [(RecordKind.UNKNOWN, coid, {"reason": reason})]


def snapshot_entries(coid: str, order: BrokerOrder, kind: RecordKind = RecordKind.STATUS) -> list[Entry]:
    """A REST snapshot of an order (lookup or reconciliation)."""
    payload: dict[str, Any] = {"status": order.status, "broker_order_id": order.id,
                               "filled_qty": str(order.filled_qty)}
    if order.filled_avg_price is not None:
        payload["filled_avg_price"] = str(order.filled_avg_price)
    return [(kind, coid, payload)]


def not_found_entries(coid: str, reason: str) -> list[Entry]:
    return [(RecordKind.RECONCILIATION, coid, {"local": "not_found", "reason": reason})]


def stale_unsent_entries(coid: str, reason: str) -> list[Entry]:
    return [(RecordKind.RECONCILIATION, coid, {"local": "rejected", "reason": reason})]


def trade_update_entries(proj: OrderProjection, update: TradeUpdateReport) -> list[Entry]:
    """Journal records for one trade_updates event (empty for orders we never sent: the
    caller reports those as external)."""
    coid = update.order.client_order_id
    order = proj.orders.get(coid)
    if order is None:
        return []
    entries: list[Entry] = []
    if not order.broker_order_id and order.state in PRE_ACK_STATES:
        # the stream told us before the POST reply did (or the reply was lost)
        entries.append((RecordKind.ACK, coid, {"broker_order_id": update.order.id, "status": "new"}))
    if update.event in _FILL_EVENTS and update.execution_id and update.qty is not None and update.price is not None:
        payload: dict[str, Any] = {"execution_id": update.execution_id, "qty": str(update.qty),
                                   "price": str(update.price)}
        if update.position_qty is not None:
            payload["position_qty"] = str(update.position_qty)
        entries.append((RecordKind.FILL, coid, payload))
    elif update.event not in _FILL_EVENTS:
        entries.append((RecordKind.STATUS, coid, {"event": update.event, "broker_order_id": update.order.id}))
    return entries
