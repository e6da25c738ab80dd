"""What the execution engine journals for each thing that happens: one builder per kind of
record, each returning `(RecordKind, client_order_id, event)` entries; the events are the
typed order events of `pyrt.domain.events`, which `pyrt.persistence.projections` folds."""

from __future__ import annotations

from pyrt.domain.events import (
    Acked,
    BrokerEvent,
    BrokerStatus,
    Filled,
    LocalDecision,
    OutcomeUnknown,
    RecordKind,
    SubmitSent,
)
from pyrt.domain.intents import OrderIntent
from pyrt.domain.orders import PRE_ACK_STATES
from pyrt.persistence.projections import OrderProjection
from pyrt.services.execution.messages import Entry
from pyrt.venues.port import BrokerOrder, TradeUpdateReport

_FILL_EVENTS = ("fill", "partial_fill")


def intent_entries(coid: str, intent: OrderIntent, tick_ns: int = 0) -> list[Entry]:
    """Accepting an intent: the intent and its submit_sent in one commit, before the POST."""
    return [(RecordKind.INTENT, coid, intent), (RecordKind.SUBMIT_SENT, coid, SubmitSent(tick_ns=tick_ns))]


def ack_entries(coid: str, order: BrokerOrder, submit_call_ns: int = 0) -> list[Entry]:
    """The POST was answered: the broker's id and status (fills come as events)."""
    return [(RecordKind.ACK, coid, Acked(status=order.status, broker_order_id=order.id, submit_call_ns=submit_call_ns))]


def refused_entries(coid: str, status: int, message: str) -> list[Entry]:
    """A definitive refusal (403/422): the order does not exist at the venue."""
    return [(RecordKind.ACK, coid, Acked(status="rejected", reason=f"{status} {message}"))]


def unknown_entries(coid: str, reason: str) -> list[Entry]:
    return [(RecordKind.UNKNOWN, coid, OutcomeUnknown(reason=reason))]


def snapshot_entries(coid: str, order: BrokerOrder, kind: RecordKind = RecordKind.STATUS) -> list[Entry]:
    """A REST snapshot of an order (lookup or reconciliation)."""
    return [
        (
            kind,
            coid,
            BrokerStatus(
                status=order.status,
                broker_order_id=order.id,
                filled_qty=order.filled_qty,
                filled_avg_price=order.filled_avg_price,
            ),
        )
    ]


def not_found_entries(coid: str, reason: str) -> list[Entry]:
    return [(RecordKind.RECONCILIATION, coid, LocalDecision(local="not_found", reason=reason))]


def stale_unsent_entries(coid: str, reason: str) -> list[Entry]:
    return [(RecordKind.RECONCILIATION, coid, LocalDecision(local="rejected", reason=reason))]


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
        entries.append((RecordKind.ACK, coid, Acked(status="new", broker_order_id=update.order.id)))
    if update.event in _FILL_EVENTS and update.execution_id and update.qty is not None and update.price is not None:
        entries.append(
            (
                RecordKind.FILL,
                coid,
                Filled(
                    execution_id=update.execution_id,
                    qty=update.qty,
                    price=update.price,
                    position_qty=update.position_qty,
                ),
            )
        )
    elif update.event not in _FILL_EVENTS:
        entries.append((RecordKind.STATUS, coid, BrokerEvent(event=update.event, broker_order_id=update.order.id)))
    return entries
