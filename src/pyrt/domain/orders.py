"""Orders and positions: the one order transition table and the pure functions that apply
events to an order.

Every `apply_*` function takes an immutable `Order` and returns an `Outcome` holding the
(possibly new) order and what changed. Nothing raises for a bad event: an event the table
does not allow comes back as `TransitionRejected` with the order unchanged, a repeated event
as `NoChange` or `DuplicateFill`, so replaying a journal twice gives the same state.

Rules (reliability-practices §2.2):
- `filled_qty` never decreases; each broker `execution_id` is applied at most once.
- `filled_qty > qty` is applied (it happened at the broker) and reported as
  `OverfillDetected` so the caller halts the symbol.
- A terminal state is never left, except that a late fill on a CANCELED or EXPIRED order is
  applied with the alert "LATE_FILL" (an expiring day order races a fill like a cancel does).
- UNKNOWN (sent, outcome unknown) is left only on broker evidence (ack, status, fill) or a
  confirmed not-found from reconciliation; it never goes back to SUBMITTED (no second POST).
- A REST snapshot may be older than a stream fill: it never moves `filled_qty` backwards.
  Fill quantity known only from a snapshot counts until the matching executions arrive
  (`filled_qty = max(sum of executions, highest snapshot)`), so nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

import msgspec

from pyrt.domain.enums import OrderSide, OrderStatus, OrderType, TimeInForce, TradeEvent
from pyrt.domain.intents import OrderIntent

ZERO = Decimal(0)


class OrderState(str, Enum):
    """Local order states (NautilusTrader's, plus UNKNOWN)."""

    INITIALIZED = "initialized"  # intent journaled, not sent
    DENIED = "denied"  # refused locally, never sent
    SUBMITTED = "submitted"  # sent, awaiting the broker's answer
    UNKNOWN = "unknown"  # sent, outcome unknown (timeout, 5xx, disconnect)
    ACCEPTED = "accepted"  # open at the broker, nothing filled
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    REPLACED = "replaced"


S = OrderState
TERMINAL_STATES = frozenset({S.DENIED, S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED, S.REPLACED})
OPEN_STATES = frozenset({S.ACCEPTED, S.PENDING_CANCEL, S.PENDING_REPLACE, S.PARTIALLY_FILLED})
IN_FLIGHT_STATES = frozenset({S.SUBMITTED, S.UNKNOWN})
PRE_ACK_STATES = frozenset({S.INITIALIZED}) | IN_FLIGHT_STATES
LATE_FILL_STATES = frozenset({S.CANCELED, S.EXPIRED})
_BROKER_STATES = OPEN_STATES | {S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED, S.REPLACED}

TRANSITIONS: Mapping[OrderState, frozenset[OrderState]] = {
    S.INITIALIZED: frozenset({S.DENIED, S.SUBMITTED, S.UNKNOWN}) | _BROKER_STATES,
    S.SUBMITTED: frozenset({S.UNKNOWN, S.INITIALIZED}) | _BROKER_STATES,
    S.UNKNOWN: frozenset({S.INITIALIZED}) | _BROKER_STATES,  # INITIALIZED: confirmed not found
    S.ACCEPTED: frozenset(
        {S.PENDING_CANCEL, S.PENDING_REPLACE, S.PARTIALLY_FILLED, S.FILLED}
        | {S.CANCELED, S.EXPIRED, S.REJECTED, S.REPLACED}
    ),
    S.PENDING_CANCEL: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
    S.PENDING_REPLACE: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED, S.REPLACED}),
    S.PARTIALLY_FILLED: frozenset({S.PENDING_CANCEL, S.PENDING_REPLACE, S.FILLED, S.CANCELED, S.EXPIRED, S.REPLACED}),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset({S.FILLED}),  # late fill only
    S.EXPIRED: frozenset({S.FILLED}),  # late fill only
    S.REJECTED: frozenset(),
    S.REPLACED: frozenset(),
    S.DENIED: frozenset(),
}

_STATUS_TO_STATE: Mapping[OrderStatus, OrderState] = {
    OrderStatus.NEW: S.ACCEPTED,
    OrderStatus.ACCEPTED: S.ACCEPTED,
    OrderStatus.PENDING_NEW: S.ACCEPTED,
    OrderStatus.ACCEPTED_FOR_BIDDING: S.ACCEPTED,
    OrderStatus.DONE_FOR_DAY: S.ACCEPTED,
    OrderStatus.CALCULATED: S.ACCEPTED,
    OrderStatus.STOPPED: S.ACCEPTED,
    OrderStatus.SUSPENDED: S.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
    OrderStatus.FILLED: S.FILLED,
    OrderStatus.CANCELED: S.CANCELED,
    OrderStatus.EXPIRED: S.EXPIRED,
    OrderStatus.REPLACED: S.REPLACED,
    OrderStatus.PENDING_CANCEL: S.PENDING_CANCEL,
    OrderStatus.PENDING_REPLACE: S.PENDING_REPLACE,
    OrderStatus.REJECTED: S.REJECTED,
}


def can_transition(current: OrderState, target: OrderState) -> bool:
    """True when the table allows `current` -> `target` (staying put is always allowed)."""
    return current == target or target in TRANSITIONS[current]


def map_alpaca_status(status: OrderStatus | str) -> OrderState:
    """The local state for an Alpaca order status. The "open, do not touch" statuses
    (new, accepted, pending_new, accepted_for_bidding, done_for_day, calculated, stopped,
    suspended) all map to ACCEPTED. Raises ValueError for a status Alpaca does not document."""
    return _STATUS_TO_STATE[OrderStatus(status)]


def is_terminal_status(status: OrderState | str) -> bool:
    """The one rule for "this order is finished", asked by every consumer: by our state
    (`OrderState`, or its value on the wire in `ExecutionReport.status`) or by a broker's
    order status. Unknown words are not terminal."""
    if isinstance(status, OrderState):
        return status in TERMINAL_STATES
    try:
        return OrderState(status) in TERMINAL_STATES
    except ValueError:
        pass
    try:
        return map_alpaca_status(status) in TERMINAL_STATES
    except (KeyError, ValueError):
        return False


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """One order as the execution engine knows it. Immutable: events produce new values.

    `filled_qty`/`avg_fill_price` are the effective fill; `fills_qty`/`fills_notional` sum
    the distinct executions; `reported_*` is the highest REST snapshot seen."""

    client_order_id: str
    intent_id: str
    strategy: str
    symbol: str
    side: OrderSide
    qty: Decimal
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    state: OrderState = S.INITIALIZED
    broker_order_id: str = ""
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    execution_ids: frozenset[str] = frozenset()
    fills_qty: Decimal = ZERO
    fills_notional: Decimal = ZERO
    reported_filled_qty: Decimal = ZERO
    reported_avg_price: Decimal | None = None
    cancel_requested: bool = False
    overfilled: bool = False
    replaced_by: str = ""
    created_ns: int = 0
    updated_ns: int = 0
    reason: str = ""

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def is_open(self) -> bool:
        """Working at the broker (may still fill)."""
        return self.state in OPEN_STATES

    @property
    def remaining_qty(self) -> Decimal:
        return max(self.qty - self.filled_qty, ZERO)

    @property
    def filled_notional(self) -> Decimal:
        """Effective filled quantity times price, exact for execution-based fills."""
        if self.fills_qty >= self.reported_filled_qty:
            return self.fills_notional
        return self.reported_filled_qty * (self.reported_avg_price or ZERO)


def new_order(intent: OrderIntent, client_order_id: str, ts_ns: int) -> Order:
    """An INITIALIZED order for an approved intent."""
    return Order(
        client_order_id=client_order_id,
        intent_id=intent.intent_id,
        strategy=intent.strategy,
        symbol=intent.symbol,
        side=intent.side,
        qty=intent.qty,
        order_type=intent.order_type,
        time_in_force=intent.time_in_force,
        limit_price=intent.limit_price,
        stop_price=intent.stop_price,
        created_ns=ts_ns,
        updated_ns=ts_ns,
        reason=intent.reason,
    )


# --- outcomes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """Result of applying one event. `fill_qty_delta`/`fill_notional_delta` are what the
    position must absorb (zero unless the effective fill grew)."""

    order: Order
    changed: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    reason: str = ""
    fill_qty_delta: Decimal = ZERO
    fill_notional_delta: Decimal = ZERO

    @property
    def applied(self) -> bool:
        return bool(self.changed)


@dataclass(frozen=True)
class Applied(Outcome):
    """The event changed the order."""


@dataclass(frozen=True)
class OverfillDetected(Applied):
    """Applied, and the order is now filled beyond its quantity: halt the symbol."""

    excess_qty: Decimal = ZERO


@dataclass(frozen=True)
class NoChange(Outcome):
    """The event was already reflected (a repeat) or carries no new information."""


@dataclass(frozen=True)
class DuplicateFill(NoChange):
    """This execution_id was applied before."""


@dataclass(frozen=True)
class TransitionRejected(Outcome):
    """The table does not allow the event; the order is unchanged."""


LATE_FILL = "LATE_FILL"
OVERFILL = "OVERFILL"


def _commit(order: Order, ts_ns: int, updates: dict[str, Any], alerts: tuple[str, ...] = ()) -> Outcome:
    changed = tuple(k for k, v in updates.items() if getattr(order, k) != v)
    if not changed:
        return NoChange(order, reason="already applied")
    new = msgspec.structs.replace(order, updated_ns=max(order.updated_ns, ts_ns), **{k: updates[k] for k in changed})
    qty_delta = new.filled_qty - order.filled_qty
    notional_delta = new.filled_notional - order.filled_notional if qty_delta else ZERO
    if new.filled_qty > new.qty and qty_delta:
        return OverfillDetected(
            new,
            changed,
            (*alerts, OVERFILL),
            fill_qty_delta=qty_delta,
            fill_notional_delta=notional_delta,
            excess_qty=new.filled_qty - new.qty,
        )
    return Applied(new, changed, alerts, fill_qty_delta=qty_delta, fill_notional_delta=notional_delta)


def _reject(order: Order, reason: str) -> Outcome:
    return TransitionRejected(order, reason=reason)


def _fill_fields(
    order: Order, fills_qty: Decimal, fills_notional: Decimal, rep_qty: Decimal, rep_avg: Decimal | None
) -> dict[str, Any]:
    """Effective fill fields: the larger of the execution sum and the highest snapshot."""
    if fills_qty >= rep_qty:
        filled, avg = fills_qty, (fills_notional / fills_qty if fills_qty else None)
    else:
        filled, avg = rep_qty, rep_avg
    return {
        "fills_qty": fills_qty,
        "fills_notional": fills_notional,
        "reported_filled_qty": rep_qty,
        "reported_avg_price": rep_avg,
        "filled_qty": filled,
        "avg_fill_price": avg,
        "overfilled": order.overfilled or filled > order.qty,
    }


def _working_state(filled_qty: Decimal) -> OrderState:
    return S.PARTIALLY_FILLED if filled_qty > ZERO else S.ACCEPTED


# --- local events ------------------------------------------------------------------------


def apply_submit_sent(order: Order, ts_ns: int) -> Outcome:
    """The POST is about to leave (journaled just before the HTTP call): INITIALIZED -> SUBMITTED."""
    if order.state == S.SUBMITTED:
        return NoChange(order, reason="already submitted")
    if order.state != S.INITIALIZED:
        return _reject(order, f"submit from {order.state.value}: never POST twice")
    return _commit(order, ts_ns, {"state": S.SUBMITTED})


def apply_unknown(order: Order, reason: str, ts_ns: int) -> Outcome:
    """The send's outcome is unknown (timeout, 5xx, disconnect): resolve by lookup only."""
    if order.state == S.UNKNOWN:
        return NoChange(order, reason="already unknown")
    if order.state in (S.INITIALIZED, S.SUBMITTED):
        return _commit(order, ts_ns, {"state": S.UNKNOWN, "reason": reason})
    if order.state == S.DENIED:
        return _reject(order, "a denied order was never sent")
    return NoChange(order, reason=f"outcome already known ({order.state.value})")


def apply_deny(order: Order, reason: str, ts_ns: int) -> Outcome:
    """Refused locally before sending: INITIALIZED -> DENIED."""
    if order.state == S.DENIED:
        return NoChange(order, reason="already denied")
    if order.state != S.INITIALIZED:
        return _reject(order, f"cannot deny an order in {order.state.value}")
    return _commit(order, ts_ns, {"state": S.DENIED, "reason": reason})


def apply_reject(order: Order, reason: str, ts_ns: int) -> Outcome:
    """A definitive refusal of the POST (HTTP 403/422) before any ack -> REJECTED."""
    if order.state == S.REJECTED:
        return NoChange(order, reason="already rejected")
    if order.state not in PRE_ACK_STATES:
        return _reject(order, f"cannot reject an order in {order.state.value}")
    return _commit(order, ts_ns, {"state": S.REJECTED, "reason": reason})


def apply_not_found(order: Order, reason: str, ts_ns: int) -> Outcome:
    """Reconciliation confirmed the broker never got the order: back to INITIALIZED, so it
    may be sent again with the same client_order_id (a stale copy would be refused)."""
    if order.state == S.INITIALIZED:
        return NoChange(order, reason="not sent")
    if order.state not in IN_FLIGHT_STATES:
        return _reject(order, f"broker already knows the order ({order.state.value})")
    return _commit(order, ts_ns, {"state": S.INITIALIZED, "reason": reason})


def apply_cancel_requested(order: Order, ts_ns: int) -> Outcome:
    """We asked for a cancel. Only a flag: the state moves when the broker says so."""
    if order.is_terminal:
        return _reject(order, f"cannot cancel an order in {order.state.value}")
    return _commit(order, ts_ns, {"cancel_requested": True})


# --- broker events ---------------------------------------------------------------------


def apply_ack(
    order: Order, broker_order_id: str, alpaca_status: OrderStatus | str, ts_ns: int, reason: str = ""
) -> Outcome:
    """The POST answered with the broker's order. Moves a pre-ack order to the mapped state;
    an ack arriving after stream events only records the broker id (it is older news)."""
    try:
        target = map_alpaca_status(alpaca_status)
    except ValueError:
        return _reject(order, f"unknown alpaca status {alpaca_status!r}")
    if order.broker_order_id and broker_order_id and broker_order_id != order.broker_order_id:
        return _reject(order, f"ack for broker order {broker_order_id}, have {order.broker_order_id}")
    if order.state == S.DENIED:
        return _reject(order, "a denied order was never sent")
    updates: dict[str, Any] = {"broker_order_id": order.broker_order_id or broker_order_id}
    if order.state in PRE_ACK_STATES:
        updates["state"] = _working_state(order.filled_qty) if target == S.ACCEPTED else target
        if target == S.REJECTED and reason:
            updates["reason"] = reason
    return _commit(order, ts_ns, updates)


def apply_fill(order: Order, execution_id: str, qty: Decimal, price: Decimal, ts_ns: int) -> Outcome:
    """One execution. Each execution_id counts once; over-fills and late fills are applied
    and flagged (OVERFILL / LATE_FILL)."""
    if not execution_id:
        return _reject(order, "fill without execution_id")
    if execution_id in order.execution_ids:
        return DuplicateFill(order, reason=f"execution {execution_id} already applied")
    if not (qty.is_finite() and price.is_finite()) or qty <= ZERO or price <= ZERO:
        return _reject(order, f"bad fill qty={qty} price={price}")
    if order.state in (S.DENIED, S.REJECTED, S.REPLACED):
        return _reject(order, f"fill on a {order.state.value} order")
    fields = _fill_fields(
        order,
        order.fills_qty + qty,
        order.fills_notional + qty * price,
        order.reported_filled_qty,
        order.reported_avg_price,
    )
    fields["execution_ids"] = order.execution_ids | {execution_id}
    complete = fields["filled_qty"] >= order.qty
    alerts: tuple[str, ...] = ()
    if order.state in LATE_FILL_STATES:
        alerts = (LATE_FILL,)
        fields["state"] = S.FILLED if complete else order.state
    elif order.state == S.FILLED or complete:
        fields["state"] = S.FILLED
    elif order.state in (S.PENDING_CANCEL, S.PENDING_REPLACE):
        fields["state"] = order.state
    else:
        fields["state"] = S.PARTIALLY_FILLED
    return _commit(order, ts_ns, fields, alerts)


def apply_status(
    order: Order,
    alpaca_status: OrderStatus | str,
    filled_qty: Decimal | None = None,
    avg_price: Decimal | None = None,
    ts_ns: int = 0,
    broker_order_id: str = "",
    replaced_by: str = "",
) -> Outcome:
    """A broker status, from a REST snapshot (with its filled_qty/filled_avg_price) or a
    non-fill stream event (without). Never moves filled_qty backwards and never leaves a
    terminal state except for a late fill on CANCELED/EXPIRED."""
    try:
        target = map_alpaca_status(alpaca_status)
    except ValueError:
        return _reject(order, f"unknown alpaca status {alpaca_status!r}")
    if order.broker_order_id and broker_order_id and broker_order_id != order.broker_order_id:
        return _reject(order, f"status for broker order {broker_order_id}, have {order.broker_order_id}")
    if order.state == S.DENIED:
        return _reject(order, "a denied order was never sent")
    rep_qty, rep_avg = order.reported_filled_qty, order.reported_avg_price
    if filled_qty is not None and filled_qty > rep_qty:
        if avg_price is None or avg_price <= ZERO:
            return _reject(order, "snapshot with filled_qty but no avg price")
        rep_qty, rep_avg = filled_qty, avg_price
    fields = _fill_fields(order, order.fills_qty, order.fills_notional, rep_qty, rep_avg)
    grew = fields["filled_qty"] > order.filled_qty
    if target == S.ACCEPTED:
        target = _working_state(fields["filled_qty"])
    alerts: tuple[str, ...] = ()
    if order.state in LATE_FILL_STATES and grew:
        alerts = (LATE_FILL,)
        if target not in (order.state, S.FILLED):
            target = order.state
    if not can_transition(order.state, target):
        return _reject(order, f"{order.state.value} -> {target.value} not allowed")
    if order.state in TERMINAL_STATES and target != order.state and not grew:
        return _reject(order, f"terminal {order.state.value} left without a fill")
    fields["state"] = target
    fields["broker_order_id"] = order.broker_order_id or broker_order_id
    if target == S.REPLACED and replaced_by:
        fields["replaced_by"] = replaced_by
    if order.state == S.PENDING_CANCEL and target in (S.ACCEPTED, S.PARTIALLY_FILLED):
        fields["cancel_requested"] = False  # the cancel was refused
    return _commit(order, ts_ns, fields, alerts)


_REJECTED_COMMAND_EVENTS = {
    TradeEvent.ORDER_CANCEL_REJECTED: S.PENDING_CANCEL,
    TradeEvent.ORDER_REPLACE_REJECTED: S.PENDING_REPLACE,
}


def apply_trade_event(
    order: Order, event: TradeEvent | str, ts_ns: int, broker_order_id: str = "", replaced_by: str = ""
) -> Outcome:
    """A non-fill trade_updates event. fill/partial_fill go through `apply_fill`;
    order_cancel_rejected/order_replace_rejected return a pending order to working."""
    try:
        event = TradeEvent(event)
    except ValueError:
        return _reject(order, f"unknown trade event {event!r}")
    if event in (TradeEvent.FILL, TradeEvent.PARTIAL_FILL):
        return _reject(order, "fill events go through apply_fill")
    pending = _REJECTED_COMMAND_EVENTS.get(event)
    if pending is not None:
        if order.state != pending:
            return NoChange(order, reason=f"{event.value} while {order.state.value}")
        return _commit(order, ts_ns, {"state": _working_state(order.filled_qty), "cancel_requested": False})
    return apply_status(order, event.value, None, None, ts_ns, broker_order_id, replaced_by)


# --- positions ---------------------------------------------------------------------------


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """Net position in one symbol, average-cost accounting. `qty` is signed (short < 0)."""

    symbol: str
    qty: Decimal = ZERO
    avg_entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    def unrealized_pnl(self, mark_price: Decimal) -> Decimal:
        return self.qty * (mark_price - self.avg_entry_price)


def apply_fill_to_position(position: Position, side: OrderSide, qty: Decimal, price: Decimal) -> Position:
    """The position after a fill. Adding keeps a weighted average entry; reducing realises
    P&L against the average; crossing zero closes the old side and opens the rest at `price`."""
    if qty <= ZERO:
        raise ValueError(f"fill qty must be positive, got {qty}")
    signed = qty if OrderSide(side) == OrderSide.BUY else -qty
    old = position.qty
    new_qty = old + signed
    if old == ZERO or (old > ZERO) == (signed > ZERO):
        avg = (abs(old) * position.avg_entry_price + qty * price) / abs(new_qty)
        return msgspec.structs.replace(position, qty=new_qty, avg_entry_price=avg)
    closed = min(qty, abs(old))
    direction = Decimal(1) if old > ZERO else Decimal(-1)
    realized = position.realized_pnl + closed * (price - position.avg_entry_price) * direction
    if new_qty == ZERO:
        avg = ZERO
    elif (new_qty > ZERO) == (old > ZERO):
        avg = position.avg_entry_price
    else:
        avg = price
    return Position(symbol=position.symbol, qty=new_qty, avg_entry_price=avg, realized_pnl=realized)
