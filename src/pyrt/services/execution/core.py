"""The execution engine's pure core: what to journal for each thing that happens, and
whether to accept an approved intent. No I/O: the shell journals the records this core
returns (commit first), applies them to the OrderProjection, and only then acts.

Rules (see reliability-practices §2.1-2.5):
- an intent is journalled (intent + submit_sent, one commit) before the POST;
- a timeout/5xx on the POST is an UNKNOWN outcome, resolved by lookup by client_order_id,
  never by a second POST; a confirmed 404 may resend with the *same* client_order_id
  (the venue refuses a duplicate, which is the protection we want);
- every trade_updates event is journalled; fills apply once per execution_id;
- at start: replay, then reconcile with the broker before accepting any order; a position
  we cannot explain halts trading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pyrt.domain.ids import client_order_id
from pyrt.domain.intents import OrderIntent
from pyrt.domain.orders import IN_FLIGHT_STATES, Order, OrderState
from pyrt.persistence.journal import RecordKind
from pyrt.persistence.projections import OrderProjection
from pyrt.venues.port import BrokerOrder, BrokerPosition, TradeUpdateReport

Entry = tuple[RecordKind, str, dict[str, Any]]

# reason codes on the order path
OK = "OK"
NOT_READY = "NOT_READY"
EXECUTION_HALTED = "EXECUTION_HALTED"
SYMBOL_HALTED = "SYMBOL_HALTED"
DUPLICATE = "DUPLICATE"
JOURNAL_WRITE_FAILED = "JOURNAL_WRITE_FAILED"
WATCHDOG = "WATCHDOG"

_FILL_EVENTS = ("fill", "partial_fill")


@dataclass(frozen=True)
class Admission:
    """The answer to an approved intent: accept (with the records to journal) or refuse."""

    client_order_id: str
    accepted: bool
    reason_code: str = OK
    message: str = ""
    duplicate: bool = False
    entries: tuple[Entry, ...] = ()


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


def admit(proj: OrderProjection, intent: OrderIntent, *, accepting: bool, halted_reason: str,
          tick_ns: int = 0, watchdog_reason: str = "") -> Admission:
    """Decide on an approved intent. Accepting journals the intent and its submit_sent
    together, so a crash after the commit is resolved by lookup, never by a second POST."""
    try:
        coid = client_order_id(intent.strategy, intent.intent_id)
    except ValueError as exc:
        return Admission("", False, "INVALID_ORDER", str(exc))
    existing = proj.orders.get(coid)
    if existing is not None:
        return Admission(coid, existing.state not in (OrderState.DENIED, OrderState.REJECTED), DUPLICATE,
                         f"intent already journalled ({existing.state.value})", duplicate=True)
    if not accepting:
        return Admission(coid, False, NOT_READY, "execution engine is starting (reconciling)")
    if halted_reason:
        return Admission(coid, False, EXECUTION_HALTED, halted_reason)
    if watchdog_reason:
        return Admission(coid, False, WATCHDOG, watchdog_reason)
    if intent.symbol in proj.halted_symbols:
        return Admission(coid, False, SYMBOL_HALTED, f"{intent.symbol} halted after an overfill")
    entries: tuple[Entry, ...] = (
        (RecordKind.INTENT, coid, intent_payload(intent)),
        (RecordKind.SUBMIT_SENT, coid, {"tick_ns": tick_ns} if tick_ns else {}),
    )
    return Admission(coid, True, entries=entries)


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
    if not order.broker_order_id and order.state in IN_FLIGHT_STATES | {OrderState.INITIALIZED}:
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


@dataclass
class Reconciliation:
    """What start-up (or a periodic check) learned by comparing the journal with the broker."""

    entries: list[Entry] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)  # coids to look up one by one
    external_orders: list[BrokerOrder] = field(default_factory=list)
    position_mismatches: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # sym -> (ours, broker)

    @property
    def clean(self) -> bool:
        return not self.position_mismatches and not self.external_orders


def reconcile_orders(proj: OrderProjection, broker_orders: list[BrokerOrder], known_coids: set[str] | None = None) -> Reconciliation:
    """Bring every local order that is not final up to the broker's view. Orders the broker
    list does not show are looked up one by one (a missing list entry is not proof)."""
    result = Reconciliation()
    by_coid = {o.client_order_id: o for o in broker_orders}
    for coid, order in proj.orders.items():
        if order.is_terminal:
            continue
        broker = by_coid.get(coid)
        if broker is not None:
            if _differs(order, broker):
                result.entries.extend(snapshot_entries(coid, broker, RecordKind.RECONCILIATION))
        elif order.state is not OrderState.INITIALIZED or order.broker_order_id == "":
            result.lookups.append(coid)
    known = set(proj.orders) | (known_coids or set())
    result.external_orders = [o for o in broker_orders if o.client_order_id not in known and _is_live(o)]
    return result


def reconcile_positions(proj: OrderProjection, broker_positions: list[BrokerPosition]) -> dict[str, tuple[Decimal, Decimal]]:
    """Symbols where our position (from the journal) differs from the broker's.
    A missing broker position means flat only because Alpaca omits flat positions."""
    broker = {p.symbol: p.qty for p in broker_positions}
    mismatches: dict[str, tuple[Decimal, Decimal]] = {}
    for symbol in set(broker) | set(proj.positions):
        ours = proj.position(symbol).qty
        theirs = broker.get(symbol, Decimal(0))
        if ours != theirs:
            mismatches[symbol] = (ours, theirs)
    return mismatches


def _differs(order: Order, broker: BrokerOrder) -> bool:
    return (
        order.broker_order_id != broker.id
        or order.filled_qty != broker.filled_qty
        or order.state.value != _alpaca_state(broker.status)
    )


def _alpaca_state(status: str) -> str:
    from pyrt.domain.orders import map_alpaca_status

    try:
        return map_alpaca_status(status).value
    except ValueError:
        return status


def _is_live(order: BrokerOrder) -> bool:
    return order.status not in ("filled", "canceled", "expired", "rejected", "replaced")
