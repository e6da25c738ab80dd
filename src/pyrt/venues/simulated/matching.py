"""The matching core of the simulated venue: pure and deterministic given a seed and the
times passed in. No I/O, no wall clock; the sim broker server and the backtester drive it.

Rules (as Alpaca paper trading behaves, made explicit):
- market buys fill at the ask and sells at the bid of the current quote, plus slippage;
- limit orders rest until the quote crosses them and fill at the quote (never worse than
  the limit); stop orders trigger when the quote reaches the stop, then act as market
  (stop) or limit (stop_limit) orders;
- each quote offers its displayed size once: fills are bounded by it, so large orders
  fill partially across quotes;
- ioc fills what it can at once and cancels the rest; fok fills entirely at once or is
  canceled; day orders expire at the session close (the caller says when);
- an order cannot match before `latency_ms` after it arrived.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from pyrt.domain.clock import datetime_to_ns
from pyrt.domain.enums import OrderSide, OrderStatus, OrderType, TimeInForce, TradeEvent
from pyrt.domain.market import Quote
from pyrt.domain.money import ZERO, round_price
from pyrt.venues.simulated.account import PaperAccount
from pyrt.venues.simulated.fees import FeeModel
from pyrt.venues.simulated.models import (
    DuplicateClientId,
    Fill,
    NewOrder,
    Rejection,
    SimOrder,
    SimPosition,
    TradeUpdate,
)

MAX_CLIENT_ORDER_ID = 48
_BPS = Decimal(10_000)
_ASSET_NAMESPACE = uuid.UUID("6f1c1c57-7a9e-4d1e-9f43-2b8f3c1e0a10")

# Alpaca's error codes
CODE_FORBIDDEN = 40310000
CODE_INVALID = 40010001
CODE_NOT_FOUND = 40410000
CODE_UNPROCESSABLE = 42210000


def parse_time(value: str | None, name: str) -> int | None:
    """An RFC 3339 request parameter (`after`, `until`, ...) as UTC nanoseconds; None if
    absent; a 422 naming the parameter if malformed. Naive times are UTC."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise Rejection(422, CODE_INVALID, f"invalid {name}: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return datetime_to_ns(dt)


@functools.lru_cache(maxsize=4096)
def asset_id_for(symbol: str) -> str:
    return str(uuid.uuid5(_ASSET_NAMESPACE, symbol))


class IdFactory:
    """Deterministic UUIDs from a seed and a counter (the counter is persisted, so ids
    never repeat across restarts)."""

    def __init__(self, seed: int, counter: int = 0) -> None:
        self.seed = seed
        self.counter = counter

    def next(self) -> str:
        self.counter += 1
        digest = hashlib.blake2b(f"{self.seed}:{self.counter}".encode(), digest_size=16).digest()
        return str(uuid.UUID(bytes=digest, version=4))


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    symbols: tuple[str, ...]
    allow_shorting: bool = False
    latency_ms: float = 0.0
    slippage_bps: Decimal = ZERO
    fee_per_share: Decimal = ZERO
    fee_bps: Decimal = ZERO
    initial_cash: Decimal = Decimal(100_000)
    fee_per_order: Decimal = ZERO
    regulatory_fees: bool = False  # SEC section 31 and FINRA TAF on sells (fees.py)
    not_shortable: frozenset[str] = frozenset()  # symbols no short sale may open, even with allow_shorting


@dataclass
class Changes:
    """What changed since the last `take_changes()`: the store persists exactly this."""

    orders: list[SimOrder] = field(default_factory=list)
    positions: dict[str, SimPosition | None] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    account: dict[str, object] | None = None
    id_counter: int = 0
    seq: int = 0


class _Book:
    """Per-symbol state: the current quote (as Decimal, converted lazily), the size each
    side still offers, and the open orders in time priority."""

    __slots__ = ("_converted", "ask", "ask_left", "bid", "bid_left", "open_ids", "quote")

    def __init__(self) -> None:
        self.quote: Quote | None = None
        self.bid = ZERO
        self.ask = ZERO
        self.bid_left = ZERO
        self.ask_left = ZERO
        self.open_ids: list[str] = []
        self._converted = True

    def set_quote(self, quote: Quote) -> None:
        self.quote = quote
        self._converted = False

    def ensure_decimal(self) -> None:
        if not self._converted and self.quote is not None:
            q = self.quote
            self.bid = Decimal(repr(q.bid_price))
            self.ask = Decimal(repr(q.ask_price))
            self.bid_left = Decimal(repr(q.bid_size))
            self.ask_left = Decimal(repr(q.ask_size))
            self._converted = True


class MatchingEngine:
    """Orders, quotes and the paper account of one simulated venue account."""

    def __init__(self, config: SimConfig, seed: int) -> None:
        self.config = config
        self.account = PaperAccount(config.initial_cash)
        self.ids = IdFactory(seed)
        self.orders: dict[str, SimOrder] = {}
        self.by_client_id: dict[str, str] = {}
        self.market_open = True
        self._symbols = set(config.symbols)
        self._books: dict[str, _Book] = {s: _Book() for s in config.symbols}
        self._latency_ns = int(config.latency_ms * 1_000_000)
        self._slip = config.slippage_bps / _BPS
        self._fees = FeeModel(config.fee_per_share, config.fee_per_order, config.fee_bps, config.regulatory_fees)
        self._seq = 0
        self._changes = Changes()
        self._hold: dict[str, Decimal] = {}  # open buy (or short-sell) order id -> price held

    # ----------------------------------------------------------------- queries

    def add_symbol(self, symbol: str) -> None:
        """Trade `symbol` too (a venue that lists it learnt it: the sim broker, on subscription)."""
        if symbol not in self._symbols:
            self._symbols.add(symbol)
            self._books[symbol] = _Book()

    def quote(self, symbol: str) -> Quote | None:
        book = self._books.get(symbol)
        return book.quote if book else None

    def marks(self) -> dict[str, Decimal]:
        """Mark prices (quote mids) for every symbol with a quote."""
        out: dict[str, Decimal] = {}
        for sym, book in self._books.items():
            if book.quote is not None:
                out[sym] = round_price(Decimal(repr(book.quote.mid)))
        return out

    def open_orders(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.is_open]

    def open_orders_unsorted(self) -> list[SimOrder]:
        return [self.orders[oid] for book in self._books.values() for oid in book.open_ids]

    def forget(self, order_id: str) -> None:
        """Drop a finished order from memory (the account already holds its effects)."""
        order = self.orders.get(order_id)
        if order is not None and not order.is_open:
            del self.orders[order_id]
            self.by_client_id.pop(order.client_order_id, None)

    def has_any_open(self) -> bool:
        return any(book.open_ids for book in self._books.values())

    def has_open(self, symbol: str) -> bool:
        """True when the symbol has an open order (a quote for it may fill something)."""
        book = self._books.get(symbol)
        return bool(book and book.open_ids)

    def open_orders_of(self, symbol: str) -> list[SimOrder]:
        book = self._books.get(symbol)
        return [self.orders[oid] for oid in book.open_ids] if book else []

    def held_for_orders(self, symbol: str, side: OrderSide) -> Decimal:
        book = self._books.get(symbol)
        if book is None:
            return ZERO
        total = ZERO
        for oid in book.open_ids:
            o = self.orders[oid]
            if o.side is side:
                total += o.remaining
        return total

    def buying_power(self) -> Decimal:
        """Cash less twice the short market value less what open orders hold (a cash-like
        account with multiplier 1: a short's proceeds do not add buying power)."""
        _, short_mv = self.account.market_value(self.marks())
        held = sum((self.orders[oid].remaining * px for oid, px in self._hold.items()), ZERO)
        return max(ZERO, self.account.cash + 2 * short_mv - held)

    def get_order(self, order_id: str) -> SimOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise Rejection(404, CODE_NOT_FOUND, "order not found")
        return order

    def get_by_client_id(self, client_order_id: str) -> SimOrder:
        oid = self.by_client_id.get(client_order_id)
        if oid is None:
            raise Rejection(404, CODE_NOT_FOUND, "order not found")
        return self.orders[oid]

    def select_orders(
        self,
        status: str = "open",
        after_ns: int | None = None,
        until_ns: int | None = None,
        symbols: frozenset[str] | set[str] = frozenset(),
        side: str | None = None,
        ascending: bool = False,
        limit: int | None = None,
    ) -> list[SimOrder]:
        """GET /v2/orders: orders by status ("open", "closed", "all") submitted strictly
        between `after_ns` and `until_ns`, compared at microseconds as timestamps travel,
        sorted by submission time (ties by arrival), at most `limit`."""
        if status not in ("open", "closed", "all"):
            raise Rejection(422, CODE_INVALID, f"invalid status: {status!r}")
        out = []
        # open orders are the books' (a long history need not be walked to find them)
        candidates = self.open_orders_unsorted() if status == "open" else self.orders.values()
        for o in candidates:
            if (status == "open" and not o.is_open) or (status == "closed" and o.is_open):
                continue
            submitted_us = o.submitted_at_ns // 1000 * 1000
            if (after_ns is not None and submitted_us <= after_ns) or (
                until_ns is not None and submitted_us >= until_ns
            ):
                continue
            if (symbols and o.symbol not in symbols) or (side and o.side.value != side):
                continue
            out.append(o)
        out.sort(key=lambda o: (o.submitted_at_ns, o.seq), reverse=not ascending)
        return out if limit is None else out[:limit]

    # ----------------------------------------------------------------- commands
    def submit(
        self, req: NewOrder, now_ns: int, reject_reason: str | None = None
    ) -> tuple[SimOrder, list[TradeUpdate]]:
        """Accept an order (or raise Rejection as Alpaca would answer it). Returns the order as
        acknowledged (status accepted) and the events that followed (new, fills...).
        With `reject_reason` the order is acknowledged and then rejected on the stream, as
        Alpaca does for orders its downstream refuses."""
        qty = self._validate(req)
        hold_price = self._check_funds(req, qty)
        client_id = req.client_order_id or self.ids.next()
        self._seq += 1
        order = SimOrder(
            id=self.ids.next(),
            client_order_id=client_id,
            asset_id=asset_id_for(req.symbol),
            symbol=req.symbol,
            side=req.side,
            type=req.type,
            time_in_force=req.time_in_force,
            qty=qty,
            notional=req.notional,
            limit_price=req.limit_price,
            stop_price=req.stop_price,
            extended_hours=req.extended_hours,
            status=OrderStatus.ACCEPTED,
            created_at_ns=now_ns,
            updated_at_ns=now_ns,
            submitted_at_ns=now_ns,
            active_at_ns=now_ns + self._latency_ns,
            seq=self._seq,
        )
        self.orders[order.id] = order
        self.by_client_id[client_id] = order.id
        if reject_reason is not None:
            ack = order.snapshot()
            order.status = OrderStatus.REJECTED
            order.failed_at_ns = now_ns
            self._touch(order)
            return ack, [TradeUpdate(event=TradeEvent.REJECTED, order=order.snapshot(), ts_ns=now_ns)]
        if hold_price is not None:
            self._hold[order.id] = hold_price
        self._books[req.symbol].open_ids.append(order.id)
        ack = order.snapshot()
        order.status = OrderStatus.NEW
        events = [TradeUpdate(event=TradeEvent.NEW, order=order.snapshot(), ts_ns=now_ns)]
        events.extend(self._match_order(order, now_ns))
        self._touch(order)
        return ack, events

    def cancel(self, order_id: str, now_ns: int) -> list[TradeUpdate]:
        order = self.get_order(order_id)
        if not order.is_open:
            raise Rejection(422, CODE_UNPROCESSABLE, f'order is already in "{order.status.value}" state')
        return [self._close(order, OrderStatus.CANCELED, now_ns)]

    def cancel_all(self, now_ns: int) -> list[tuple[SimOrder, list[TradeUpdate]]]:
        results = []
        for order in sorted(self.open_orders(), key=lambda o: o.seq):
            results.append((order, [self._close(order, OrderStatus.CANCELED, now_ns)]))
        return results

    def close_position(
        self, symbol: str, now_ns: int, qty: Decimal | None = None, percentage: Decimal | None = None
    ) -> tuple[SimOrder, list[TradeUpdate]]:
        """Submit the market order that closes (part of) a position, as DELETE
        /v2/positions/{symbol} does."""
        pos = self.account.positions.get(symbol)
        if pos is None or pos.qty == 0:
            raise Rejection(404, CODE_NOT_FOUND, "position does not exist")
        size = abs(pos.qty)
        if qty is not None:
            if qty <= 0 or qty > size:
                raise Rejection(422, CODE_UNPROCESSABLE, "qty must be > 0 and <= position qty")
            size = qty
        elif percentage is not None:
            if not (ZERO < percentage <= 100):
                raise Rejection(422, CODE_UNPROCESSABLE, "percentage must be in (0, 100]")
            size = (size * percentage / 100).quantize(Decimal("0.000000001"))
        side = OrderSide.SELL if pos.qty > 0 else OrderSide.BUY
        return self.submit(
            NewOrder(symbol=symbol, side=side, type=OrderType.MARKET, time_in_force=TimeInForce.DAY, qty=size),
            now_ns,
        )

    def check_quote(self, quote: Quote) -> None:
        """A quote from outside the market generator (an operator, a test, a backtest):
        a 422 unless its symbol is traded here and 0 < bid <= ask with sizes >= 0."""
        if quote.symbol not in self._symbols:
            raise Rejection(422, CODE_INVALID, f"quote: unknown symbol {quote.symbol}")
        if not 0 < quote.bid_price <= quote.ask_price:
            raise Rejection(422, CODE_INVALID, "quote: need 0 < bid <= ask")
        if not (quote.bid_size >= 0 and quote.ask_size >= 0):
            raise Rejection(422, CODE_INVALID, "quote: sizes must be >= 0")

    def on_quote(self, quote: Quote, now_ns: int | None = None) -> list[TradeUpdate]:
        """A new quote: it replaces the offered sizes and may fill resting orders."""
        book = self._books.get(quote.symbol)
        if book is None:
            return []
        book.set_quote(quote)
        if not book.open_ids:
            return []
        return self._match_book(book, quote.ts_ns if now_ns is None else now_ns)

    def advance(self, now_ns: int) -> list[TradeUpdate]:
        """Time passed: orders whose latency elapsed may now match the current quote."""
        events: list[TradeUpdate] = []
        for book in self._books.values():
            if book.open_ids and book.quote is not None:
                events.extend(self._match_book(book, now_ns))
        return events

    def set_market_open(self, is_open: bool, now_ns: int) -> list[TradeUpdate]:
        was_open = self.market_open
        self.market_open = is_open
        if is_open and not was_open:
            return self.advance(now_ns)
        return []

    def change_session(self, is_open: bool, now_ns: int) -> list[TradeUpdate]:
        """The session opened or closed (no-op if unchanged): at the close every open day
        order expires, at the open resting orders may match the current quote."""
        if is_open == self.market_open:
            return []
        events = [] if is_open else self.expire_day_orders(now_ns)
        events.extend(self.set_market_open(is_open, now_ns))
        return events

    def expire_day_orders(self, now_ns: int) -> list[TradeUpdate]:
        """At the session close: every open day order expires."""
        events = []
        for order in sorted(self.open_orders(), key=lambda o: o.seq):
            if order.time_in_force is TimeInForce.DAY:
                events.append(self._close(order, OrderStatus.EXPIRED, now_ns))
        return events

    # ----------------------------------------------------------------- persistence
    def has_changes(self) -> bool:
        ch = self._changes
        return bool(ch.orders or ch.fills or ch.positions or ch.account)

    def take_changes(self) -> Changes:
        changes = self._changes
        changes.id_counter = self.ids.counter
        changes.seq = self._seq
        self._changes = Changes()
        return changes

    def load(
        self,
        orders: list[SimOrder],
        positions: list[SimPosition],
        account_state: dict[str, str] | None,
        id_counter: int,
        seq: int,
    ) -> None:
        """Restore persisted state (after a restart)."""
        if account_state is not None:
            self.account.load_state(account_state, positions)
        self.ids.counter = id_counter
        self._seq = seq
        for order in sorted(orders, key=lambda o: o.seq):
            self.orders[order.id] = order
            self.by_client_id[order.client_order_id] = order.id
            if order.is_open and order.symbol in self._books:
                self._books[order.symbol].open_ids.append(order.id)
                hold = self._hold_price_for(order)
                if hold is not None:
                    self._hold[order.id] = hold

    # ----------------------------------------------------------------- internals
    def _validate(self, req: NewOrder) -> Decimal:
        def invalid(msg: str) -> Rejection:
            return Rejection(422, CODE_INVALID, msg)

        if req.symbol not in self._symbols:
            raise Rejection(422, CODE_UNPROCESSABLE, f'asset "{req.symbol}" not found')
        cid = req.client_order_id
        if cid is not None:
            if len(cid) > MAX_CLIENT_ORDER_ID:
                raise invalid("client_order_id must be no more than 48 characters")
            if cid in self.by_client_id:
                raise DuplicateClientId(422, CODE_INVALID, "client_order_id must be unique")
        if req.qty is not None and req.notional is not None:
            raise invalid("qty and notional cannot both be specified")
        if req.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            if req.limit_price is None:
                raise invalid("limit_price is required for limit orders")
            if req.limit_price <= 0:
                raise invalid("limit_price must be > 0")
        elif req.limit_price is not None:
            raise invalid(f"limit_price must not be given for {req.type.value} orders")
        if req.type in (OrderType.STOP, OrderType.STOP_LIMIT):
            if req.stop_price is None:
                raise invalid("stop_price is required for stop orders")
            if req.stop_price <= 0:
                raise invalid("stop_price must be > 0")
        elif req.stop_price is not None:
            raise invalid(f"stop_price must not be given for {req.type.value} orders")
        if req.extended_hours and not (req.type is OrderType.LIMIT and req.time_in_force is TimeInForce.DAY):
            raise invalid("extended hours order must be DAY limit orders")
        if req.notional is not None:
            if req.type is not OrderType.MARKET or req.time_in_force is not TimeInForce.DAY:
                raise invalid("notional orders must be market day orders")
            if req.notional <= 0:
                raise invalid("notional must be > 0")
            book = self._books[req.symbol]
            book.ensure_decimal()
            if book.quote is None:
                raise Rejection(422, CODE_UNPROCESSABLE, f"no quote available for {req.symbol}")
            price = book.ask if req.side is OrderSide.BUY else book.bid
            return (req.notional / price).quantize(Decimal("0.000000001"), rounding=ROUND_HALF_EVEN)
        if req.qty is None:
            raise invalid("qty or notional is required")
        if req.qty <= 0:
            raise invalid("qty must be > 0")
        if req.qty != req.qty.to_integral_value() and (
            req.type is not OrderType.MARKET or req.time_in_force is not TimeInForce.DAY
        ):
            raise invalid("fractional orders must be market day orders")
        return req.qty

    def _hold_price_for(self, order: SimOrder | NewOrder) -> Decimal | None:
        book = self._books[order.symbol]
        book.ensure_decimal()
        if order.limit_price is not None:
            return order.limit_price
        if order.stop_price is not None:
            return order.stop_price * (1 + self._slip)
        if book.quote is None:
            return None
        base = book.ask if order.side is OrderSide.BUY else book.bid
        return base * (1 + self._slip)

    def _check_funds(self, req: NewOrder, qty: Decimal) -> Decimal | None:
        """403 as Alpaca answers: buying power for buys and short sales, shares for sells.
        Returns the price at which the order holds buying power (None if it holds none)."""
        position = self.account.position_qty(req.symbol)
        if req.side is OrderSide.SELL:
            available = max(ZERO, position) - self.held_for_orders(req.symbol, OrderSide.SELL)
            if qty <= available:
                return None
            if not self.config.allow_shorting:
                raise Rejection(
                    403,
                    CODE_FORBIDDEN,
                    f"insufficient qty available for order (requested: {qty}, available: {max(ZERO, available)})",
                    {
                        "symbol": req.symbol,
                        "requested": str(qty),
                        "available": str(max(ZERO, available)),
                        "existing_qty": str(position),
                        "held_for_orders": str(self.held_for_orders(req.symbol, OrderSide.SELL)),
                    },
                )
            short_qty = qty - max(ZERO, available)
            if req.symbol in self.config.not_shortable:
                raise Rejection(403, CODE_FORBIDDEN, f"asset {req.symbol} is not shortable")
        else:
            short_qty = qty
        price = self._hold_price_for(req)
        if price is None:
            raise Rejection(422, CODE_UNPROCESSABLE, f"no quote available for {req.symbol}")
        cost = short_qty * price
        if cost > self.buying_power():
            raise Rejection(403, CODE_FORBIDDEN, "insufficient buying power")
        return price

    def _touch(self, order: SimOrder) -> None:
        ch = self._changes
        if not ch.orders or ch.orders[-1] is not order:
            ch.orders.append(order)

    def _close(self, order: SimOrder, status: OrderStatus, now_ns: int) -> TradeUpdate:
        order.status = status
        order.updated_at_ns = now_ns
        if status is OrderStatus.CANCELED:
            order.canceled_at_ns = now_ns
        elif status is OrderStatus.EXPIRED:
            order.expired_at_ns = now_ns
        book = self._books[order.symbol]
        if order.id in book.open_ids:
            book.open_ids.remove(order.id)
        self._hold.pop(order.id, None)
        self._touch(order)
        event = TradeEvent.CANCELED if status is OrderStatus.CANCELED else TradeEvent.EXPIRED
        return TradeUpdate(event=event, order=order.snapshot(), ts_ns=now_ns)

    def _match_book(self, book: _Book, now_ns: int) -> list[TradeUpdate]:
        events: list[TradeUpdate] = []
        for oid in list(book.open_ids):
            order = self.orders[oid]
            if order.is_open:
                events.extend(self._match_order(order, now_ns))
        return events

    def _match_order(self, order: SimOrder, now_ns: int) -> list[TradeUpdate]:
        if not order.is_open or now_ns < order.active_at_ns:
            return []
        if not self.market_open and not order.extended_hours:
            return []
        book = self._books[order.symbol]
        if book.quote is None:
            return []
        book.ensure_decimal()
        buy = order.side is OrderSide.BUY
        price = book.ask if buy else book.bid
        if order.type in (OrderType.STOP, OrderType.STOP_LIMIT) and not order.triggered:
            assert order.stop_price is not None
            if (buy and price >= order.stop_price) or (not buy and price <= order.stop_price):
                order.triggered = True
                self._touch(order)
            else:
                return []
        immediate = order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
        limit = order.limit_price
        marketable = limit is None or (price <= limit if buy else price >= limit)
        available = book.ask_left if buy else book.bid_left
        if not marketable or available <= 0 or price <= 0:
            return [self._close(order, OrderStatus.CANCELED, now_ns)] if immediate else []
        if order.time_in_force is TimeInForce.FOK and available < order.remaining:
            return [self._close(order, OrderStatus.CANCELED, now_ns)]
        fill_qty = min(order.remaining, available)
        if self._slip:
            price = round_price(price * (1 + self._slip) if buy else price * (1 - self._slip))
            if limit is not None:
                price = min(price, limit) if buy else max(price, limit)
        if buy:
            book.ask_left -= fill_qty
        else:
            book.bid_left -= fill_qty
        events = [self._fill(order, fill_qty, price, now_ns)]
        if immediate and order.is_open:
            events.append(self._close(order, OrderStatus.CANCELED, now_ns))
        return events

    def _fill(self, order: SimOrder, qty: Decimal, price: Decimal, now_ns: int) -> TradeUpdate:
        prev = order.filled_qty
        fee = self._fees.fill_fee(order.side, qty, price, now_ns, first_fill=prev == 0)
        order.filled_qty = prev + qty
        old_avg = order.filled_avg_price or ZERO
        order.filled_avg_price = (prev * old_avg + qty * price) / order.filled_qty
        order.fees += fee
        order.updated_at_ns = now_ns
        done = order.filled_qty >= order.qty
        order.status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        if done:
            order.filled_at_ns = now_ns
            self._books[order.symbol].open_ids.remove(order.id)
            self._hold.pop(order.id, None)
        position_qty = self.account.apply_fill(order.symbol, order.asset_id, order.side, qty, price, fee)
        execution_id = self.ids.next()
        ch = self._changes
        ch.fills.append(
            Fill(
                execution_id=execution_id,
                order_id=order.id,
                symbol=order.symbol,
                side=order.side,
                qty=qty,
                price=price,
                fee=fee,
                ts_ns=now_ns,
            )
        )
        ch.positions[order.symbol] = self.account.positions.get(order.symbol)
        ch.account = self.account.to_state()
        self._touch(order)
        return TradeUpdate(
            event=TradeEvent.FILL if done else TradeEvent.PARTIAL_FILL,
            order=order.snapshot(),
            ts_ns=now_ns,
            price=price,
            qty=qty,
            position_qty=position_qty,
            execution_id=execution_id,
        )
