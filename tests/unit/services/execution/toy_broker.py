"""A small in-memory broker behind `VenuePort` for the execution core's unit tests: market
orders fill at once at a fixed price, limit orders rest; each POST can be scripted to fail
in the ways a real broker fails (lost reply after acting, timeout before acting, 429, 422).
Trade updates are queued for the test to deliver, drop, duplicate or reorder."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from pyrt.domain.intents import OrderIntent
from pyrt.venues.port import (
    BrokerAccount,
    BrokerOrder,
    BrokerPosition,
    DuplicateClientOrderId,
    NotFound,
    OrderRejectedByVenue,
    OutcomeUnknown,
    RateLimited,
    TradeUpdateReport,
)

PRICE = Decimal(100)


@dataclass
class ToyBroker:
    script: deque[str] = field(default_factory=deque)  # next POST outcomes: ok|lost_reply|timeout|429|422
    orders: dict[str, BrokerOrder] = field(default_factory=dict)
    updates: deque[TradeUpdateReport] = field(default_factory=deque)
    posts: list[str] = field(default_factory=list)  # client_order_id of every POST that arrived
    positions_qty: dict[str, Decimal] = field(default_factory=dict)
    _exec: int = 0

    # ---------------------------------------------------------------- VenuePort
    def submit_order(self, client_order_id: str, intent: OrderIntent) -> BrokerOrder:
        self.posts.append(client_order_id)
        outcome = self.script.popleft() if self.script else "ok"
        if outcome == "timeout":
            raise OutcomeUnknown("ReadTimeout talking to the venue")
        if outcome == "429":
            raise RateLimited(None)
        if outcome == "422":
            raise OrderRejectedByVenue(422, 40310000, "insufficient buying power")
        if client_order_id in self.orders:
            raise DuplicateClientOrderId(422, 40010001, "client_order_id must be unique")
        order = BrokerOrder(
            id=f"b{len(self.orders) + 1}",
            client_order_id=client_order_id,
            symbol=intent.symbol,
            side=intent.side.value,
            type=intent.order_type.value,
            time_in_force=intent.time_in_force.value,
            status="new",
            qty=intent.qty,
            filled_qty=Decimal(0),
            filled_avg_price=None,
            limit_price=intent.limit_price,
            stop_price=intent.stop_price,
            submitted_at="2026-12-03T15:00:00Z",
        )
        self.orders[client_order_id] = order
        self.updates.append(TradeUpdateReport("new", order, "t"))
        if intent.limit_price is None:
            self._fill(client_order_id)
        if outcome == "lost_reply":
            raise OutcomeUnknown("HTTP 504: the reply was lost")
        return order  # as accepted: the fill follows on the stream (or a lookup)

    def _fill(self, coid: str) -> None:
        order = self.orders[coid]
        filled = replace(order, status="filled", filled_qty=order.qty, filled_avg_price=PRICE)
        self.orders[coid] = filled
        sign = 1 if order.side == "buy" else -1
        self.positions_qty[order.symbol] = self.positions_qty.get(order.symbol, Decimal(0)) + sign * order.qty
        self._exec += 1
        self.updates.append(
            TradeUpdateReport(
                "fill",
                filled,
                "t",
                price=PRICE,
                qty=order.qty,
                position_qty=self.positions_qty[order.symbol],
                execution_id=f"x{self._exec}",
            )
        )

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        if client_order_id not in self.orders:
            raise NotFound("order not found")
        return self.orders[client_order_id]

    def get_order(self, order_id: str) -> BrokerOrder:
        for order in self.orders.values():
            if order.id == order_id:
                return order
        raise NotFound("order not found")

    def cancel_order(self, order_id: str) -> None:
        raise NotFound("not supported here")

    def cancel_all_orders(self) -> list[tuple[str, int]]:
        done = []
        for coid, order in list(self.orders.items()):
            if order.status == "new":
                self.orders[coid] = replace(order, status="canceled")
                self.updates.append(TradeUpdateReport("canceled", self.orders[coid], "t"))
                done.append((order.id, 200))
        return done

    def list_orders(self, status: str = "open", after: str | None = None, limit: int = 500) -> list[BrokerOrder]:
        return [o for o in self.orders.values() if status != "open" or o.status == "new"]

    def list_all_orders_since(self, after: str | None) -> list[BrokerOrder]:
        return list(self.orders.values())

    def positions(self) -> list[BrokerPosition]:
        return [BrokerPosition(s, q, PRICE, q * PRICE, Decimal(0), PRICE) for s, q in self.positions_qty.items() if q]

    def account(self) -> BrokerAccount:
        return BrokerAccount(Decimal(0), Decimal(0), Decimal(0), "ACTIVE")

    def close_position(self, symbol: str) -> BrokerOrder:
        raise NotFound("not supported here")

    # ---------------------------------------------------------------- test helpers
    def take_updates(self) -> list[TradeUpdateReport]:
        out = list(self.updates)
        self.updates.clear()
        return out

    def position(self, symbol: str) -> Decimal:
        return self.positions_qty.get(symbol, Decimal(0))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)
