"""The one venue interface the execution engine and the operations toolkit trade through,
with the venue's answers translated at the edge into errors grouped by what the caller
should do: reject definitively, resolve an unknown outcome by lookup, wait, or stop and
call a human."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from pyrt.domain.errors import NeedsOperator, PyrtError, Refused, Retryable
from pyrt.domain.intents import OrderIntent


class VenueError(PyrtError):
    """Base of every venue error."""


class OrderRejectedByVenue(VenueError, Refused):
    """A definitive refusal (HTTP 403/422): the order does not exist at the venue."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status, self.code, self.message = status, code, message


class DuplicateClientOrderId(OrderRejectedByVenue):
    """The venue already has an order with this client_order_id: an earlier POST of the
    same order landed. Look it up; never treat it as a rejection of the order."""


class OutcomeUnknown(VenueError):
    """Sent, but we do not know whether the venue acted (timeout, 5xx, dropped connection).
    Resolve by looking the order up by client_order_id, never by sending it again."""


class NotFound(VenueError, Refused):
    """The venue does not know this order or position (HTTP 404)."""


class RateLimited(VenueError, Retryable):
    """HTTP 429: wait until `reset_epoch_s` before non-urgent requests."""

    def __init__(self, reset_epoch_s: float | None) -> None:
        super().__init__("rate limited by the venue")
        self.reset_epoch_s = reset_epoch_s


class VenueUnavailable(VenueError, Retryable):
    """A read failed for a transient reason (timeout, 5xx, connection): safe to retry."""


class AuthFailed(VenueError, NeedsOperator):
    """HTTP 401/403 on authentication: stop and call a human."""


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    status: str
    qty: Decimal
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    submitted_at: str


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    symbol: str
    qty: Decimal
    avg_entry_price: Decimal
    market_value: Decimal
    unrealized_pl: Decimal
    current_price: Decimal


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    status: str


@dataclass(frozen=True, slots=True)
class TradeUpdateReport:
    """One trade_updates event in our terms."""

    event: str
    order: BrokerOrder
    ts: str
    price: Decimal | None = None
    qty: Decimal | None = None
    position_qty: Decimal | None = None
    execution_id: str | None = None


class VenuePort(Protocol):
    def submit_order(self, client_order_id: str, intent: OrderIntent) -> BrokerOrder: ...

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder: ...

    def get_order(self, order_id: str) -> BrokerOrder: ...

    def cancel_order(self, order_id: str) -> None: ...

    def cancel_all_orders(self) -> list[tuple[str, int]]: ...

    def list_orders(self, status: str = "open", after: str | None = None, limit: int = 500) -> list[BrokerOrder]: ...

    def list_all_orders_since(self, after: str | None) -> list[BrokerOrder]:
        """Every order (any status) submitted after `after` (ISO time; None: all), paging
        through the venue's limit: what start-up reconciles the journal against."""
        ...

    def positions(self) -> list[BrokerPosition]: ...

    def account(self) -> BrokerAccount: ...

    def close_position(self, symbol: str) -> BrokerOrder: ...
