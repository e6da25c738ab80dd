"""Records of the simulated venue: orders as Alpaca describes them, fills, and the
trade_updates events the matching core emits."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pyrt.domain.enums import OrderSide, OrderStatus, OrderType, TimeInForce, TradeEvent
from pyrt.domain.money import ZERO


@dataclass(frozen=True, kw_only=True)
class NewOrder:
    """A validated-shape order request (the body of POST /v2/orders, parsed)."""

    symbol: str
    side: OrderSide
    type: OrderType
    time_in_force: TimeInForce
    qty: Decimal | None = None
    notional: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    client_order_id: str | None = None
    extended_hours: bool = False


@dataclass(kw_only=True)
class SimOrder:
    """An order at the simulated venue. Timestamps are UTC nanoseconds."""

    id: str
    client_order_id: str
    asset_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    time_in_force: TimeInForce
    qty: Decimal
    notional: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    extended_hours: bool
    status: OrderStatus
    created_at_ns: int
    updated_at_ns: int
    submitted_at_ns: int
    active_at_ns: int  # created + simulated latency: the order cannot match before this
    filled_qty: Decimal = ZERO
    filled_avg_price: Decimal | None = None
    filled_at_ns: int | None = None
    canceled_at_ns: int | None = None
    expired_at_ns: int | None = None
    failed_at_ns: int | None = None
    triggered: bool = False  # stop and stop_limit orders once their stop is reached
    fees: Decimal = ZERO
    seq: int = 0  # arrival order, for time priority

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)

    def snapshot(self) -> SimOrder:
        """A shallow copy (every field is immutable), made without copy.copy's protocol:
        one per trade update."""
        new = object.__new__(SimOrder)
        new.__dict__.update(self.__dict__)
        return new


@dataclass(frozen=True, kw_only=True)
class Fill:
    execution_id: str
    order_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts_ns: int


@dataclass(frozen=True, kw_only=True)
class TradeUpdate:
    """One trade_updates event, with the order as it was right after the event."""

    event: TradeEvent
    order: SimOrder
    ts_ns: int
    price: Decimal | None = None
    qty: Decimal | None = None
    position_qty: Decimal | None = None
    execution_id: str | None = None


@dataclass(kw_only=True)
class SimPosition:
    """A position at average cost. `cost_basis` (signed, like qty) is kept exactly; the
    average entry price is derived from it, so no rounding leaks into cash accounting."""

    symbol: str
    asset_id: str
    qty: Decimal = ZERO  # signed: negative is short
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    @property
    def avg_entry_price(self) -> Decimal:
        return self.cost_basis / self.qty if self.qty else ZERO


@dataclass
class Rejection(Exception):
    """An order or request the venue refuses, answered as Alpaca does: 403 for buying
    power or shares, 404 unknown, 422 invalid."""

    http_status: int
    code: int
    message: str
    extra: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.http_status} {self.message}"

    def body(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, **self.extra}


class DuplicateClientId(Rejection):
    """422 "client_order_id must be unique": its own class so callers (the in-process
    venue) can tell it from other 422s without matching the message."""
