"""What the execution core takes in and what it asks its shell to do.

Inputs from the shell's threads (broker workers; the trade_updates stream's own types come
from `pyrt.venues.stream_events`) are frozen dataclasses, one per kind of answer, so a new
kind of broker answer is a type the core's `match` must name, never a string one typo away
from being dropped. Effects are what the
core decided; the shell executes them in order (a failed `Journal` stops the rest, so no
order is sent when its journal write failed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pyrt.domain.events import OrderEvent, RecordKind
from pyrt.domain.intents import OrderIntent
from pyrt.venues.port import (
    BrokerOrder,
    BrokerPosition,
    DuplicateClientOrderId,
    NotFound,
    OrderRejectedByVenue,
    OutcomeUnknown,
    RateLimited,
    VenueError,
    VenuePort,
)
from pyrt.venues.stream_events import MalformedTradeUpdate, StreamDown, StreamUp, TradeUpdateSeen

Entry = tuple[RecordKind, str, OrderEvent]  # a journal record to be
ReadKind = Literal["open_orders", "positions"]


# ---------------------------------------------------------------- inputs (from threads)
@dataclass(frozen=True, slots=True)
class SubmitAcked:
    coid: str
    order: BrokerOrder
    t_call_ns: int


@dataclass(frozen=True, slots=True)
class SubmitRefused:
    """A definitive refusal (403/422): the order does not exist at the venue."""

    coid: str
    status: int
    message: str


@dataclass(frozen=True, slots=True)
class SubmitDuplicate:
    """The venue already has this client_order_id: an earlier POST landed; look it up."""

    coid: str


@dataclass(frozen=True, slots=True)
class SubmitRateLimited:
    """HTTP 429: the POST was refused; the same client_order_id may be sent again."""

    coid: str
    reset_epoch_s: float | None


@dataclass(frozen=True, slots=True)
class SubmitUnknown:
    """Sent, outcome unknown (timeout, 5xx, dropped connection): resolve by lookup."""

    coid: str
    reason: str


@dataclass(frozen=True, slots=True)
class LookupFound:
    coid: str
    order: BrokerOrder


@dataclass(frozen=True, slots=True)
class LookupMissing:
    """A definitive 404 for this client_order_id."""

    coid: str


@dataclass(frozen=True, slots=True)
class LookupFailed:
    """A transient read failure: the lookup is retried with backoff."""

    coid: str
    reason: str


@dataclass(frozen=True, slots=True)
class BrokerOpenOrders:
    orders: list[BrokerOrder]


@dataclass(frozen=True, slots=True)
class BrokerPositions:
    positions: list[BrokerPosition]


@dataclass(frozen=True, slots=True)
class BrokerReadFailed:
    kind: ReadKind
    reason: str


BrokerResult = (
    SubmitAcked
    | SubmitRefused
    | SubmitDuplicate
    | SubmitRateLimited
    | SubmitUnknown
    | LookupFound
    | LookupMissing
    | LookupFailed
    | TradeUpdateSeen
    | MalformedTradeUpdate
    | StreamUp
    | StreamDown
    | BrokerOpenOrders
    | BrokerPositions
    | BrokerReadFailed
)


def submit_result(coid: str, call: Callable[[], BrokerOrder], t_call_ns: int = 0) -> BrokerResult:
    """Run one POST and say what came of it, in the core's terms (never raises)."""
    try:
        return SubmitAcked(coid, call(), t_call_ns)
    except DuplicateClientOrderId:
        return SubmitDuplicate(coid)
    except OrderRejectedByVenue as exc:
        return SubmitRefused(coid, exc.status, exc.message)
    except RateLimited as exc:
        return SubmitRateLimited(coid, exc.reset_epoch_s)
    except OutcomeUnknown as exc:
        return SubmitUnknown(coid, str(exc))
    except Exception as exc:  # anything else after sending: the outcome is unknown
        return SubmitUnknown(coid, f"{type(exc).__name__}: {exc}")


def lookup_result(coid: str, venue: VenuePort) -> BrokerResult:
    try:
        return LookupFound(coid, venue.get_order_by_client_id(coid))
    except NotFound:
        return LookupMissing(coid)
    except VenueError as exc:
        return LookupFailed(coid, str(exc))


def read_result(kind: ReadKind, venue: VenuePort) -> BrokerResult:
    try:
        if kind == "positions":
            return BrokerPositions(venue.positions())
        return BrokerOpenOrders(venue.list_orders("open"))
    except VenueError as exc:
        return BrokerReadFailed(kind, str(exc))


# ---------------------------------------------------------------- effects (for the shell)
@dataclass(frozen=True, slots=True)
class Journal:
    """Append these records in one commit, then hand them back to `ExecutionCore.apply`."""

    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class Submit:
    """POST this order now (its budget token is already taken)."""

    coid: str
    intent: OrderIntent
    tick_ns: int = 0


@dataclass(frozen=True, slots=True)
class Lookup:
    """GET the order by client_order_id now (budget taken)."""

    coid: str


@dataclass(frozen=True, slots=True)
class ReadBroker:
    """A periodic read (budget taken): answered with BrokerOpenOrders / BrokerPositions."""

    kind: ReadKind


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    message: Any
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class Alert:
    """An integrity or liveness alert: logged and published on the alert topic."""

    kind: str
    symbol: str
    detail: str


@dataclass(frozen=True, slots=True)
class Halted:
    """Trading was halted by the core (logged and counted by the shell)."""

    reason: str
    kind: str


@dataclass(frozen=True, slots=True)
class Count:
    """Increment a metric of the execution engine (`name` as in observability.metrics)."""

    name: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class CancelAll:
    """Cancel every open order at the broker (the watchdog's last resort)."""

    reason: str


Effect = Journal | Submit | Lookup | ReadBroker | Publish | Alert | Halted | Count | CancelAll
