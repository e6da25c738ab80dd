"""`SimulatedVenue`: the venue port over the matching core and paper account, in-process,
synchronous and driven by an injected clock. It is what the backtester trades through,
and what a test uses when it wants real matching without a sim broker process.

It answers as the HTTP sim broker does through `AlpacaVenue` (same core, same rules, same
rounding; the arithmetic both need lives below both, in `matching` and `valuation`), minus
the transport: no threads, no I/O, no wall clock, no faults. An answer that would be an
HTTP error becomes the port's error: 404 `NotFound`, a repeated client_order_id
`DuplicateClientOrderId`, any other 403/422 `OrderRejectedByVenue`.

Time comes only from the clock: every command and market input acts at `clock.now_ns()`.
The driver moves the clock, then feeds quotes (`on_quote`, `on_quote_event`) or lets time
pass (`advance`), and collects the trade_updates the venue would have streamed with
`drain_updates()`. The core matches quotes only; a bar-driven backtest turns its bars into
quotes itself, by a rule it states.
The same seed, clock and inputs give the same ids, fills and events, byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyrt.domain.clock import Clock, iso_utc
from pyrt.domain.enums import OrderStatus, OrderType
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Quote
from pyrt.domain.money import round_price
from pyrt.venues.port import (
    BrokerAccount,
    BrokerOrder,
    BrokerPosition,
    DuplicateClientOrderId,
    NotFound,
    OrderRejectedByVenue,
    TradeUpdateReport,
)
from pyrt.venues.simulated.matching import CODE_INVALID, MatchingEngine, SimConfig, parse_time
from pyrt.venues.simulated.models import DuplicateClientId, Fill, NewOrder, Rejection, SimOrder, TradeUpdate
from pyrt.venues.simulated.valuation import value_account, value_positions

MAX_LIST_LIMIT = 500  # Alpaca's page size cap for GET /v2/orders
FINAL_STATUSES = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED})


@contextmanager
def _as_venue_errors() -> Iterator[None]:
    """The core's Rejection (an HTTP answer) as the port's error tree."""
    try:
        yield
    except DuplicateClientId as rej:
        raise DuplicateClientOrderId(rej.http_status, rej.code, rej.message) from None
    except Rejection as rej:
        if rej.http_status == 404:
            raise NotFound(rej.message) from None
        raise OrderRejectedByVenue(rej.http_status, rej.code, rej.message) from None


def order_record(o: SimOrder) -> BrokerOrder:
    """A core order as the port's record, rounded as the sim broker's JSON rounds it."""
    return BrokerOrder(
        id=o.id,
        client_order_id=o.client_order_id,
        symbol=o.symbol,
        side=o.side.value,
        type=o.type.value,
        time_in_force=o.time_in_force.value,
        status=o.status.value,
        qty=o.qty,
        filled_qty=o.filled_qty,
        filled_avg_price=round_price(o.filled_avg_price) if o.filled_avg_price is not None else None,
        limit_price=o.limit_price,
        stop_price=o.stop_price,
        submitted_at=iso_utc(o.submitted_at_ns),
    )


def update_report(u: TradeUpdate) -> TradeUpdateReport:
    return TradeUpdateReport(
        event=u.event.value,
        order=order_record(u.order),
        ts=iso_utc(u.ts_ns),
        price=u.price,
        qty=u.qty,
        position_qty=u.position_qty,
        execution_id=u.execution_id,
    )


def new_order(client_order_id: str, intent: OrderIntent) -> NewOrder:
    """The order an intent asks for. Prices the order type does not take are left out,
    as `AlpacaVenue` leaves them out of the POST body."""
    takes_limit = intent.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    takes_stop = intent.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    return NewOrder(
        symbol=intent.symbol,
        side=intent.side,
        type=intent.order_type,
        time_in_force=intent.time_in_force,
        qty=intent.qty,
        limit_price=intent.limit_price if takes_limit else None,
        stop_price=intent.stop_price if takes_stop else None,
        client_order_id=client_order_id,
    )


class SimulatedVenue:
    """`VenuePort` over one `MatchingEngine`. Not thread-safe by design: one driver."""

    def __init__(self, config: SimConfig, clock: Clock, seed: int = 42) -> None:
        self.engine = MatchingEngine(config, seed=seed)
        self.clock = clock
        self._updates: list[TradeUpdateReport] = []
        self._fills: list[Fill] = []
        self._finished: list[str] = []

    # ------------------------------------------------------------- market side (the driver)
    def on_quote(self, symbol: str, bid: float, ask: float, bid_size: float = 100.0, ask_size: float = 100.0) -> None:
        """A quote at the clock's time: it replaces the offered sizes and may fill resting
        orders. Raises ValueError for an unknown symbol or a crossed or non-positive quote."""
        now = self.clock.now_ns()
        self.on_quote_event(Quote(symbol, float(bid), float(bid_size), float(ask), float(ask_size), now))

    def on_quote_event(self, quote: Quote) -> None:
        """A recorded quote (a backtest's history). Matching happens at the clock's time,
        which the driver has moved to the quote's; a quote stamped later than the clock
        would be trading on the future, so it is a ValueError, as is a bad quote."""
        now = self.clock.now_ns()
        if quote.ts_ns > now:
            raise ValueError(
                f"quote for {quote.symbol} at {iso_utc(quote.ts_ns)} is later than the clock ({iso_utc(now)})"
            )
        try:
            self.engine.check_quote(quote)
        except Rejection as rej:
            raise ValueError(rej.message) from None
        self._emit(self.engine.on_quote(quote, now))

    def advance(self) -> None:
        """The clock moved without a quote: orders whose latency has elapsed may now match
        the current quote (only matters with `latency_ms`)."""
        self._emit(self.engine.advance(self.clock.now_ns()))

    def set_market_open(self, is_open: bool) -> None:
        """Open or close the session: at the close open day orders expire."""
        self._emit(self.engine.change_session(is_open, self.clock.now_ns()))

    def drain_updates(self) -> list[TradeUpdateReport]:
        """The trade_updates streamed since the last drain, in the order they happened."""
        out, self._updates = self._updates, []
        return out

    def drain_fills(self) -> list[Fill]:
        """The executions (with their fees) since the last drain: the account's own record,
        as Alpaca's account activities give it."""
        out, self._fills = self._fills, []
        return out

    def forget_finished(self) -> int:
        """Drop the orders that reached a final state since the last call (and whose trade
        updates and fills have been drained): a long backtest need not hold every order
        it ever matched. The account, positions and open orders are untouched; a finished
        order is then unknown to lookups, as one past a broker's retention is."""
        done, self._finished = self._finished, []
        for oid in done:
            self.engine.forget(oid)
        return len(done)

    def resting(self, symbol: str) -> list[SimOrder]:
        """The open orders of a symbol in time priority (what the next quotes may fill)."""
        return self.engine.open_orders_of(symbol)

    def _emit(self, events: list[TradeUpdate]) -> None:
        if not events:
            return
        self._updates.extend(update_report(u) for u in events)
        self._finished.extend(u.order.id for u in events if u.order.status in FINAL_STATUSES)
        self._fills.extend(self.engine.take_changes().fills)  # nothing persists the rest here

    # ------------------------------------------------------------- orders
    def submit_order(self, client_order_id: str, intent: OrderIntent) -> BrokerOrder:
        with _as_venue_errors():
            ack, events = self.engine.submit(new_order(client_order_id, intent), self.clock.now_ns())
        self._emit(events)
        return order_record(ack)

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        with _as_venue_errors():
            return order_record(self.engine.get_by_client_id(client_order_id))

    def get_order(self, order_id: str) -> BrokerOrder:
        with _as_venue_errors():
            return order_record(self.engine.get_order(order_id))

    def cancel_order(self, order_id: str) -> None:
        with _as_venue_errors():
            events = self.engine.cancel(order_id, self.clock.now_ns())
        self._emit(events)

    def cancel_all_orders(self) -> list[tuple[str, int]]:
        results = self.engine.cancel_all(self.clock.now_ns())
        self._emit([e for _, events in results for e in events])
        return [(o.id, 200) for o, _ in results]

    def list_orders(self, status: str = "open", after: str | None = None, limit: int = 500) -> list[BrokerOrder]:
        """Oldest first (as `AlpacaVenue` asks for them), at most `limit` (1..500)."""
        with _as_venue_errors():
            if not 1 <= limit <= MAX_LIST_LIMIT:
                raise Rejection(422, CODE_INVALID, f"limit must be between 1 and {MAX_LIST_LIMIT}")
            orders = self.engine.select_orders(status, parse_time(after, "after"), ascending=True, limit=limit)
        return [order_record(o) for o in orders]

    def list_all_orders_since(self, after: str | None) -> list[BrokerOrder]:
        """Every order submitted after `after` (None: all), oldest first; no paging needed
        in-process."""
        with _as_venue_errors():
            orders = self.engine.select_orders("all", parse_time(after, "after"), ascending=True)
        return [order_record(o) for o in orders]

    # ------------------------------------------------------------- positions, account
    def positions(self) -> list[BrokerPosition]:
        return [
            BrokerPosition(
                symbol=v.symbol,
                qty=v.qty,
                avg_entry_price=round_price(v.avg_entry_price),
                market_value=round_price(v.market_value),
                unrealized_pl=round_price(v.unrealized_pl),
                current_price=v.current_price,
            )
            for v in value_positions(self.engine)
        ]

    def account(self) -> BrokerAccount:
        v = value_account(self.engine)
        return BrokerAccount(
            cash=round_price(v.cash),
            equity=round_price(v.equity),
            buying_power=round_price(v.buying_power),
            status="ACTIVE",
        )

    def close_position(self, symbol: str) -> BrokerOrder:
        with _as_venue_errors():
            ack, events = self.engine.close_position(symbol, self.clock.now_ns())
        self._emit(events)
        return order_record(ack)
