"""The broker behind `FakeVenue` in the execution core's unit tests: `tests/fakes.py`'s
`InMemoryBroker` (orders taken, found, listed, canceled) that also fills market orders at
once at a fixed price, keeps positions, queues the trade updates for the test to deliver,
drop, duplicate or reorder, and fails each POST as scripted, the ways a real broker fails
(lost reply after acting, timeout before acting, 429, 422)."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from decimal import Decimal
from typing import Any

from pyrt.venues.port import (
    BrokerOrder,
    BrokerPosition,
    OrderRejectedByVenue,
    OutcomeUnknown,
    RateLimited,
    TradeUpdateReport,
)
from tests.fakes import InMemoryBroker, VenueCall

PRICE = Decimal(100)


class ToyBroker(InMemoryBroker):
    def __init__(self) -> None:
        super().__init__()
        self.script: deque[str] = deque()  # next POST outcomes: ok|lost_reply|timeout|429|422
        self.updates: deque[TradeUpdateReport] = deque()
        self.posts: list[str] = []  # client_order_id of every POST that arrived
        self.positions_qty: dict[str, Decimal] = {}
        self._executions = 0

    def __call__(self, call: VenueCall) -> Any:
        if call.method == "submit_order":
            return self._submit(call)
        if call.method == "positions":
            return [
                BrokerPosition(s, q, PRICE, q * PRICE, Decimal(0), PRICE) for s, q in self.positions_qty.items() if q
            ]
        return super().__call__(call)

    def _submit(self, call: VenueCall) -> BrokerOrder:
        self.posts.append(call.args["client_order_id"])
        outcome = self.script.popleft() if self.script else "ok"
        if outcome == "timeout":
            raise OutcomeUnknown("ReadTimeout talking to the venue")
        if outcome == "429":
            raise RateLimited(None)
        if outcome == "422":
            raise OrderRejectedByVenue(422, 40310000, "insufficient buying power")
        order: BrokerOrder = super().__call__(call)  # refuses a duplicate client_order_id
        self.updates.append(TradeUpdateReport("new", order, "t"))
        if order.limit_price is None:
            self._fill(order)
        if outcome == "lost_reply":
            raise OutcomeUnknown("HTTP 504: the reply was lost")
        return order  # as accepted: the fill follows on the stream (or a lookup)

    def _fill(self, order: BrokerOrder) -> None:
        filled = replace(order, status="filled", filled_qty=order.qty, filled_avg_price=PRICE)
        self.orders[order.id] = filled
        sign = 1 if order.side == "buy" else -1
        self.positions_qty[order.symbol] = self.position(order.symbol) + sign * order.qty
        self._executions += 1
        self.updates.append(
            TradeUpdateReport(
                "fill",
                filled,
                "t",
                price=PRICE,
                qty=order.qty,
                position_qty=self.positions_qty[order.symbol],
                execution_id=f"x{self._executions}",
            )
        )

    # ---------------------------------------------------------------- test helpers
    def order(self, client_order_id: str) -> BrokerOrder:
        return self._by_coid(client_order_id)

    def has(self, client_order_id: str) -> bool:
        return any(o.client_order_id == client_order_id for o in self.orders.values())

    def take_updates(self) -> list[TradeUpdateReport]:
        out = list(self.updates)
        self.updates.clear()
        return out

    def position(self, symbol: str) -> Decimal:
        return self.positions_qty.get(symbol, Decimal(0))
