"""Test doubles for the venue port, in the style of httpx's MockTransport: `FakeVenue`
sends every port call to one function of yours and records the calls, so a test states
exactly what the venue answers (or raises) and asserts on what was asked. `InMemoryBroker`
is a ready-made handler for tests that only need a venue that takes orders and finds
them again; for real matching use `pyrt.venues.simulated.venue.SimulatedVenue`."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from pyrt.domain.clock import Clock, ManualClock, iso_utc
from pyrt.domain.intents import OrderIntent
from pyrt.venues.port import (
    BrokerAccount,
    BrokerOrder,
    BrokerPosition,
    DuplicateClientOrderId,
    NotFound,
    OrderRejectedByVenue,
)

__all__ = ["FakeVenue", "InMemoryBroker", "ManualClock", "VenueCall"]


@dataclass(frozen=True)
class VenueCall:
    method: str  # the port method's name
    args: dict[str, Any]  # its arguments by name


class FakeVenue:
    """Every `VenuePort` method calls `handler(VenueCall)`: its return value is the answer,
    a `VenueError` it raises is the venue's error."""

    def __init__(self, handler: Callable[[VenueCall], Any]) -> None:
        self.handler = handler
        self.calls: list[VenueCall] = []

    def _call(self, method: str, **args: Any) -> Any:
        call = VenueCall(method, args)
        self.calls.append(call)
        return self.handler(call)

    def called(self, method: str) -> list[VenueCall]:
        return [c for c in self.calls if c.method == method]

    def submit_order(self, client_order_id: str, intent: OrderIntent) -> BrokerOrder:
        return self._call("submit_order", client_order_id=client_order_id, intent=intent)

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        return self._call("get_order_by_client_id", client_order_id=client_order_id)

    def get_order(self, order_id: str) -> BrokerOrder:
        return self._call("get_order", order_id=order_id)

    def cancel_order(self, order_id: str) -> None:
        return self._call("cancel_order", order_id=order_id)

    def cancel_all_orders(self) -> list[tuple[str, int]]:
        return self._call("cancel_all_orders")

    def list_orders(self, status: str = "open", after: str | None = None, limit: int = 500) -> list[BrokerOrder]:
        return self._call("list_orders", status=status, after=after, limit=limit)

    def list_all_orders_since(self, after: str | None) -> list[BrokerOrder]:
        return self._call("list_all_orders_since", after=after)

    def positions(self) -> list[BrokerPosition]:
        return self._call("positions")

    def account(self) -> BrokerAccount:
        return self._call("account")

    def close_position(self, symbol: str) -> BrokerOrder:
        return self._call("close_position", symbol=symbol)


_OPEN = ("new", "accepted", "partially_filled")


class InMemoryBroker:
    """A tiny broker as a handler: orders are accepted as "new" and never fill, are found
    by id or client_order_id, and can be canceled; no positions; a fixed cash account."""

    def __init__(self, clock: Clock | None = None, cash: Decimal = Decimal(100_000)) -> None:
        self.clock = clock or ManualClock()
        self.cash = cash
        self.orders: dict[str, BrokerOrder] = {}  # by id, in submission order
        self._ids = itertools.count(1)

    def _by_coid(self, coid: str) -> BrokerOrder:
        found = [o for o in self.orders.values() if o.client_order_id == coid]
        if not found:
            raise NotFound(f"no order with client_order_id {coid}")
        return found[0]

    def __call__(self, call: VenueCall) -> Any:
        a = call.args
        match call.method:
            case "submit_order":
                if any(o.client_order_id == a["client_order_id"] for o in self.orders.values()):
                    raise DuplicateClientOrderId(422, 40010001, "client_order_id must be unique")
                i: OrderIntent = a["intent"]
                order = BrokerOrder(
                    id=f"fake-{next(self._ids)}",
                    client_order_id=a["client_order_id"],
                    symbol=i.symbol,
                    side=i.side.value,
                    type=i.order_type.value,
                    time_in_force=i.time_in_force.value,
                    status="new",
                    qty=i.qty,
                    filled_qty=Decimal(0),
                    filled_avg_price=None,
                    limit_price=i.limit_price,
                    stop_price=i.stop_price,
                    submitted_at=iso_utc(self.clock.now_ns()),
                )
                self.orders[order.id] = order
                return order
            case "get_order_by_client_id":
                return self._by_coid(a["client_order_id"])
            case "get_order":
                if a["order_id"] not in self.orders:
                    raise NotFound(f"no order {a['order_id']}")
                return self.orders[a["order_id"]]
            case "cancel_order" | "cancel_all_orders":
                ids = [a["order_id"]] if "order_id" in a else [o.id for o in self.orders.values() if o.status in _OPEN]
                for oid in ids:
                    if oid not in self.orders:
                        raise NotFound(f"no order {oid}")
                    if self.orders[oid].status not in _OPEN:
                        status = self.orders[oid].status
                        raise OrderRejectedByVenue(422, 42210000, f'order is already in "{status}" state')
                    self.orders[oid] = replace(self.orders[oid], status="canceled")
                return None if call.method == "cancel_order" else [(oid, 200) for oid in ids]
            case "list_orders" | "list_all_orders_since":
                status, limit, after = a.get("status", "all"), a.get("limit"), a["after"]
                rows = [
                    o
                    for o in self.orders.values()
                    if (status == "all" or (o.status in _OPEN) == (status == "open"))
                    and (after is None or o.submitted_at > after)
                ]
                return rows[:limit]
            case "positions":
                return []
            case "account":
                return BrokerAccount(cash=self.cash, equity=self.cash, buying_power=self.cash, status="ACTIVE")
            case "close_position":
                raise NotFound(f"no position in {a['symbol']}")
        raise NotImplementedError(call.method)
