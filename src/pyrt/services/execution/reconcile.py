"""Comparing the journal with the broker: at start-up (orders and positions), in the
periodic checks, and for the operator (`pyrt reconcile`, the control API), whether the
execution engine is running or not: the engine and the control facade's engine-down path
call the same functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pyrt.domain.events import AdoptedPosition, PositionAdopted, RecordKind
from pyrt.domain.orders import Order, OrderState, is_terminal_status, map_alpaca_status
from pyrt.persistence.projections import OrderProjection
from pyrt.services.execution.messages import Entry
from pyrt.services.execution.records import snapshot_entries
from pyrt.venues.port import BrokerOrder, BrokerPosition


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


def reconcile_orders(
    proj: OrderProjection, broker_orders: list[BrokerOrder], known_coids: set[str] | None = None
) -> Reconciliation:
    """Bring every local order that is not final up to the broker's view. Orders the broker
    list does not show are looked up one by one (a missing list entry is not proof)."""
    result = Reconciliation()
    by_coid = {o.client_order_id: o for o in broker_orders}
    for order in proj.unfinished():
        coid = order.client_order_id
        broker = by_coid.get(coid)
        if broker is not None:
            if _differs(order, broker):
                result.entries.extend(snapshot_entries(coid, broker, RecordKind.RECONCILIATION))
        elif order.state is not OrderState.INITIALIZED or order.broker_order_id == "":
            result.lookups.append(coid)
    known = set(proj.orders) | (known_coids or set())
    result.external_orders = [o for o in broker_orders if o.client_order_id not in known and _is_live(o)]
    return result


def reconcile_positions(
    proj: OrderProjection, broker_positions: list[BrokerPosition]
) -> dict[str, tuple[Decimal, Decimal]]:
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
    try:
        return map_alpaca_status(status).value
    except ValueError:
        return status


def _is_live(order: BrokerOrder) -> bool:
    return not is_terminal_status(order.status)


def reconcile_report(
    proj: OrderProjection, broker_positions: list[BrokerPosition], broker_open: list[BrokerOrder]
) -> dict[str, Any]:
    """Our positions and open orders against the broker's, as the operator reads them."""
    mismatches = reconcile_positions(proj, broker_positions)
    ours_open = {o.client_order_id for o in proj.open_orders()}
    theirs_open = {o.client_order_id for o in broker_open}
    return {
        "ok": not mismatches and ours_open == theirs_open,
        "detail": "OK" if not mismatches else f"{len(mismatches)} position discrepancies",
        "local_positions": {s: str(p.qty) for s, p in proj.positions.items() if p.qty},
        "broker_positions": {p.symbol: str(p.qty) for p in broker_positions},
        "position_diffs": {s: {"local": str(o), "broker": str(b)} for s, (o, b) in sorted(mismatches.items())},
        "local_open_orders": len(ours_open),
        "broker_open_orders": len(theirs_open),
        "orders_only_local": sorted(ours_open - theirs_open),
        "orders_only_broker": sorted(theirs_open - ours_open),
    }


def adoption_entries(
    mismatches: dict[str, tuple[Decimal, Decimal]], broker_positions: list[BrokerPosition], actor: str, reason: str
) -> list[Entry]:
    """Journal records that make our position in each mismatching symbol exactly the broker's."""
    by_symbol = {p.symbol: p for p in broker_positions}
    entries: list[Entry] = []
    for symbol in sorted(mismatches):
        bp = by_symbol.get(symbol)
        adopted = AdoptedPosition(
            symbol=symbol,
            qty=bp.qty if bp else Decimal(0),
            avg_entry_price=bp.avg_entry_price if bp else Decimal(0),
            by=actor,
            reason=reason,
        )
        entries.append((RecordKind.RECONCILIATION, "", PositionAdopted(adopt_position=adopted)))
    return entries
