"""Order events: what the journal stores, one type per thing that happens to an order.

A journal record is (seq, ts_ns, kind, client_order_id, payload). The payload is one of the
event types below, encoded as a JSON object; `decode_event` turns a record back into its
type, and the projection folds the types (`match`), never dict keys. The JSON shapes are
those the journal has always stored (numbers as strings, as msgspec encodes Decimal), so a
journal written before these types existed decodes unchanged: that is its migration.

By kind:
- intent: `OrderIntent` (creates the order, INITIALIZED);
- submit_sent: `SubmitSent` (journalled just before each POST: the first, a resend, a retry
  after a 429, a liquidation);
- ack: `Acked` (the broker's answer to the POST, or a definitive refusal without an id);
- unknown: `OutcomeUnknown` (timeout, 5xx, disconnect);
- fill: `Filled` (one execution; `position_qty` is the broker's position after it);
- status / reconciliation: `BrokerStatus` (a REST snapshot), `BrokerEvent` (a non-fill
  trade_updates event) or `LocalDecision` (denied, rejected or not found, decided here);
- cancel_requested: `CancelRequested`;
- reconciliation without an order: `PositionAdopted` (the operator adopted the broker's
  position) or `PositionMismatch` (what a check saw);
- audit, breaker: informational (`Note`).
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any, Literal

import msgspec

from pyrt.domain.errors import BadInput
from pyrt.domain.intents import OrderIntent


class RecordKind(str, Enum):
    """What a journal record says happened."""

    INTENT = "intent"  # approved intent with its client_order_id; committed before any HTTP call
    SUBMIT_SENT = "submit_sent"  # the POST is about to leave
    ACK = "ack"  # the broker's answer to the POST (or a definitive refusal)
    UNKNOWN = "unknown"  # timeout / 5xx / disconnect: outcome unknown
    FILL = "fill"  # one execution (fill or partial_fill)
    STATUS = "status"  # a broker status: REST snapshot or non-fill stream event
    CANCEL_REQUESTED = "cancel_requested"
    RECONCILIATION = "reconciliation"  # what reconciliation learned or decided
    AUDIT = "audit"  # manual and operator actions


class JournalRecord(msgspec.Struct, frozen=True):
    """One row of the journal; `payload` is the decoded JSON object (`decode_event` types it)."""

    seq: int
    ts_ns: int
    kind: str
    client_order_id: str
    payload: dict[str, Any]


class _Event(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=False):
    pass


class SubmitSent(_Event, frozen=True):
    tick_ns: int = 0  # the market-data tick that triggered the intent (latency metric)
    resend: bool = False  # the broker had no order: sent again with the same client_order_id
    rate_limited: bool = False  # sent again after a 429
    liquidation: bool = False  # a closing order sent as soon as the budget allowed


class Acked(_Event, frozen=True):
    status: str
    broker_order_id: str = ""
    reason: str = ""
    submit_call_ns: int = 0


class OutcomeUnknown(_Event, frozen=True):
    reason: str = ""


class Filled(_Event, frozen=True):
    execution_id: str
    qty: Decimal
    price: Decimal
    position_qty: Decimal | None = None


class BrokerStatus(_Event, frozen=True):
    status: str
    broker_order_id: str = ""
    filled_qty: Decimal | None = None
    filled_avg_price: Decimal | None = None
    replaced_by: str = ""


class BrokerEvent(_Event, frozen=True):
    event: str
    broker_order_id: str = ""
    replaced_by: str = ""


class LocalDecision(_Event, frozen=True):
    local: Literal["denied", "rejected", "not_found"]
    reason: str = ""


class CancelRequested(_Event, frozen=True):
    pass


class AdoptedPosition(_Event, frozen=True):
    symbol: str
    qty: Decimal
    avg_entry_price: Decimal
    by: str = ""
    reason: str = ""


class PositionAdopted(_Event, frozen=True):
    adopt_position: AdoptedPosition


class PositionMismatch(_Event, frozen=True):
    position_mismatch: dict[str, dict[str, str]]


class Note(_Event, frozen=True, forbid_unknown_fields=False):
    """Informational (audit, breaker, other reconciliation notes): not folded."""


OrderEvent = (
    OrderIntent
    | SubmitSent
    | Acked
    | OutcomeUnknown
    | Filled
    | BrokerStatus
    | BrokerEvent
    | LocalDecision
    | CancelRequested
    | PositionAdopted
    | PositionMismatch
    | Note
)

_BY_KIND: dict[str, type[Any]] = {
    RecordKind.INTENT: OrderIntent,
    RecordKind.SUBMIT_SENT: SubmitSent,
    RecordKind.ACK: Acked,
    RecordKind.UNKNOWN: OutcomeUnknown,
    RecordKind.FILL: Filled,
    RecordKind.CANCEL_REQUESTED: CancelRequested,
    RecordKind.AUDIT: Note,
}


class BadEvent(BadInput, ValueError):
    """A record whose payload is not a known event of its kind; the message names why."""


def event_type(kind: str, payload: dict[str, Any]) -> type[Any]:
    """The event type of a record, from its kind and (for status/reconciliation) its shape."""
    if kind in _BY_KIND:
        return _BY_KIND[kind]
    if kind in (RecordKind.STATUS, RecordKind.RECONCILIATION):
        for key, typ in (
            ("status", BrokerStatus),
            ("event", BrokerEvent),
            ("local", LocalDecision),
            ("adopt_position", PositionAdopted),
            ("position_mismatch", PositionMismatch),
        ):
            if key in payload:
                return typ
        return Note
    raise BadEvent(f"unknown record kind {kind!r}")


MAX_NUMBER = Decimal("1e18")
"""Largest quantity or price an event may carry: a bigger one (or NaN, Infinity) is a bad
payload, not a number to compute with (1e999999 * 10 raises decimal.Overflow)."""


def _check_numbers(event: Any) -> None:
    for name in event.__struct_fields__:
        value = getattr(event, name)
        # copy_abs, not abs(): abs() rounds to the context and can itself overflow
        if isinstance(value, Decimal) and not (value.is_finite() and value.copy_abs() <= MAX_NUMBER):
            raise BadEvent(f"{name}: {value} is not a finite number up to {MAX_NUMBER}")
        if isinstance(value, msgspec.Struct):
            _check_numbers(value)


def decode_event(record: JournalRecord) -> OrderEvent:
    """The typed event of a record; raises BadEvent (naming seq and kind) for a bad payload."""
    try:
        event = msgspec.convert(record.payload, event_type(record.kind, record.payload))
        _check_numbers(event)
        return event  # type: ignore[no-any-return]
    except (msgspec.ValidationError, BadEvent) as exc:
        raise BadEvent(f"journal seq {record.seq} ({record.kind}): {exc}") from None
