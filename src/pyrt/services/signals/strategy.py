"""The strategy interface of the signal bridge.

A `Strategy` reacts to market data through optional hooks (`on_quote`, `on_trade`,
`on_bar`, `on_intent_closed`); the defaults do nothing, so a strategy overrides only what
it needs. Hooks return outputs: `Signal`s (what the strategy thinks) and `OrderIntent`s
(what it wants to trade). Per-symbol indicator state lives in a `SymbolState` the framework
creates once per (strategy, symbol) via `Strategy.create_state`. A `StrategyContext` gives
read access to the strategy's positions and pending intents, last quotes, the clock and a
deterministic intent-id factory. Everything here is pure: no I/O, time from the clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, Literal

import msgspec

from pyrt.domain.clock import Clock
from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.errors import BadInput
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar, Quote, Trade
from pyrt.domain.money import ZERO, round_price, to_decimal

MAX_INTENT_ID_LEN = 32
MAX_STRATEGY_NAME_LEN = 15  # client_order_id = strategy + separator + intent id <= 48
_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")


class StrategyConfigError(BadInput, ValueError):
    """A strategy spec or its params are invalid; the message names strategy and field."""


class SignalDirection(str, Enum):
    """Where a strategy wants to be in a symbol."""

    LONG = "long"
    SHORT = "short"
    FLAT = "flat"


class Signal(msgspec.Struct, frozen=True, kw_only=True):
    """A strategy's view on a symbol. `strength` is 0..1; `ts_ns` is the market event time
    that produced it; `features` are the indicator values behind it (for logs and audit)."""

    strategy: str
    symbol: str
    direction: SignalDirection
    strength: float
    ts_ns: int
    features: dict[str, float] = {}


Output = Signal | OrderIntent
NO_OUTPUT: tuple[Output, ...] = ()  # hooks may return this shared empty tuple


class SymbolState:
    """Per-(strategy, symbol) holder for a strategy's own state (indicators, flags).
    Subclass it and return the subclass from `Strategy.create_state`."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol


class SymbolBook:
    """Framework-owned book for one (strategy, symbol): the position known from execution
    reports and the intents sent but not yet finished. Only the core writes it."""

    __slots__ = ("pending", "position", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.position: Decimal = ZERO
        self.pending: dict[str, OrderIntent] = {}


class IntentIdFactory:
    """Deterministic unique intent ids: ``{epoch}-{seq}-{symbol}``, at most 32 chars.

    `epoch` (1-12 alphanumerics) distinguishes runs, so ids never repeat across restarts
    when each run has its own epoch; `seq` (base 36) counts up within the run. The symbol
    is only for readers and is cut to fit; uniqueness comes from epoch and seq."""

    __slots__ = ("_seq", "epoch")

    def __init__(self, epoch: str) -> None:
        if not (1 <= len(epoch) <= 12 and epoch.isascii() and epoch.isalnum()):
            raise ValueError(f"epoch: expected 1-12 ASCII letters/digits, got {epoch!r}")
        self.epoch = epoch
        self._seq = 0

    @classmethod
    def from_clock(cls, clock: Clock) -> IntentIdFactory:
        """An epoch from the clock's current time in microseconds (base 36, 10 chars)."""
        return cls(to_base36(clock.now_ns() // 1000))

    def next(self, symbol: str) -> str:
        """Return the next id."""
        self._seq += 1
        clean = "".join(c if c.isalnum() or c == "." else "_" for c in symbol)
        return f"{self.epoch}-{to_base36(self._seq)}-{clean}"[:MAX_INTENT_ID_LEN]


def to_base36(n: int) -> str:
    """Non-negative integer in lower-case base 36."""
    if n < 0:
        raise ValueError("n: must be >= 0")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


class StrategyContext:
    """What one strategy may see: its positions and pending intents per symbol, the last
    quote of any symbol, its per-symbol state, the clock and the intent-id factory."""

    __slots__ = ("_books", "_ids", "_last_quotes", "_states", "clock", "strategy")

    def __init__(
        self,
        strategy: str,
        clock: Clock,
        books: Mapping[str, SymbolBook],
        states: Mapping[str, SymbolState],
        last_quotes: Mapping[str, Quote],
        ids: IntentIdFactory,
    ) -> None:
        self.strategy = strategy
        self.clock = clock
        self._books = books
        self._states = states
        self._last_quotes = last_quotes
        self._ids = ids

    def position(self, symbol: str) -> Decimal:
        """The strategy's current position (shares, negative when short)."""
        book = self._books.get(symbol)
        return book.position if book is not None else ZERO

    def has_pending(self, symbol: str) -> bool:
        """True while an intent for this symbol is awaiting risk or execution."""
        book = self._books.get(symbol)
        return bool(book.pending) if book is not None else False

    def pending(self, symbol: str) -> tuple[OrderIntent, ...]:
        """The intents for this symbol not yet denied, filled, canceled or expired."""
        book = self._books.get(symbol)
        return tuple(book.pending.values()) if book is not None else ()

    def last_quote(self, symbol: str) -> Quote | None:
        """The most recent quote seen for any symbol, or None."""
        return self._last_quotes.get(symbol)

    def state(self, symbol: str) -> SymbolState:
        """This strategy's state for a subscribed symbol (KeyError for others)."""
        return self._states[symbol]

    def now_ns(self) -> int:
        """Current time from the injected clock."""
        return self.clock.now_ns()

    def next_intent_id(self, symbol: str) -> str:
        """A fresh intent id (unique within the run, at most 32 chars)."""
        return self._ids.next(symbol)


class OrderSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Sizing and order-shape params shared by the built-in strategies.

    `order_qty` shares per entry, clipped so the position never exceeds
    `max_position_shares` (long, or short when `allow_short`). `order_type` "market" or
    "limit"; a limit buys at the ask and sells at the bid of the last quote."""

    order_qty: Decimal = Decimal(10)
    max_position_shares: Decimal = Decimal(100)
    allow_short: bool = False
    order_type: Literal["market", "limit"] = "market"
    time_in_force: Literal["day", "gtc", "ioc", "fok"] = "day"

    def __post_init__(self) -> None:
        if self.order_qty <= 0:
            raise ValueError("order_qty: must be > 0")
        if self.max_position_shares <= 0:
            raise ValueError("max_position_shares: must be > 0")


def buy_entry_qty(position: Decimal, order_qty: Decimal, max_position: Decimal) -> Decimal:
    """Shares to buy for a long entry so that position + qty <= max_position (>= 0)."""
    room = max_position - position
    return max(ZERO, min(order_qty, room))


def sell_entry_qty(position: Decimal, order_qty: Decimal, max_position: Decimal, allow_short: bool) -> Decimal:
    """Shares to sell short so that position - qty >= -max_position; 0 unless shorting
    is allowed."""
    if not allow_short:
        return ZERO
    return max(ZERO, min(order_qty, max_position + position))


class Strategy:
    """Base class. Subclasses set `kind` and `params_type`, override the hooks they need,
    and build intents with `make_intent` / `step_toward` so sizing stays within limits.

    `allow_concurrent_intents` False (the default) makes the core drop any intent for a
    symbol that already has one pending."""

    kind: ClassVar[str] = "base"
    params_type: ClassVar[type[Any]] = OrderSettings
    allow_concurrent_intents: ClassVar[bool] = False

    def __init__(self, name: str, symbols: Sequence[str], params: Mapping[str, Any] | None = None) -> None:
        self.name = validate_strategy_name(name)
        if isinstance(symbols, str) or not symbols:
            raise StrategyConfigError(f"strategy {name!r}: symbols: expected a non-empty list")
        for s in symbols:
            if not isinstance(s, str) or not s:
                raise StrategyConfigError(f"strategy {name!r}: symbols: bad symbol {s!r}")
        self.symbols: tuple[str, ...] = tuple(dict.fromkeys(symbols))
        self.params = parse_params(name, self.params_type, params)
        cls = type(self)
        self.wants_quotes = cls.on_quote is not Strategy.on_quote
        self.wants_trades = cls.on_trade is not Strategy.on_trade
        self.wants_bars = cls.on_bar is not Strategy.on_bar

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, symbols={list(self.symbols)})"

    # --- hooks (all optional) -------------------------------------------------------

    def create_state(self, symbol: str) -> SymbolState:
        """Make the per-symbol state; called once per subscribed symbol."""
        return SymbolState(symbol)

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> Sequence[Output]:
        """A new quote for a subscribed symbol."""
        return NO_OUTPUT

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> Sequence[Output]:
        """A new trade print for a subscribed symbol."""
        return NO_OUTPUT

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Sequence[Output]:
        """A completed bar for a subscribed symbol."""
        return NO_OUTPUT

    def on_intent_closed(self, ctx: StrategyContext, intent: OrderIntent, outcome: str) -> None:
        """An intent finished: outcome is "denied", the order's final state ("filled",
        "canceled", "expired", "rejected", "replaced"), or "ended" when the order ended and
        its final report never arrived (the position is then read from the engine)."""

    # --- helpers for subclasses --------------------------------------------------

    def make_intent(
        self,
        ctx: StrategyContext,
        symbol: str,
        side: OrderSide,
        qty: Decimal,
        reason: str,
        ref_price: float | None = None,
    ) -> OrderIntent | None:
        """Build an intent shaped by `self.params` (an OrderSettings). For limit orders
        the price is the ask (buy) or bid (sell) of the last quote, else `ref_price`;
        returns None when a limit order cannot be priced."""
        settings: OrderSettings = self.params
        limit_price = None
        if settings.order_type == "limit":
            quote = ctx.last_quote(symbol)
            px = None
            if quote is not None:
                px = quote.ask_price if side is OrderSide.BUY else quote.bid_price
            if px is None or not px > 0:
                px = ref_price
            if px is None or not px > 0:
                return None
            limit_price = round_price(to_decimal(px, "limit_price"))
        return OrderIntent(
            intent_id=ctx.next_intent_id(symbol),
            strategy=self.name,
            symbol=symbol,
            side=side,
            qty=qty,
            order_type=OrderType(settings.order_type),
            time_in_force=TimeInForce(settings.time_in_force),
            limit_price=limit_price,
            ts_ns=ctx.now_ns(),
            reason=reason,
        )

    def step_toward(
        self,
        ctx: StrategyContext,
        symbol: str,
        want: SignalDirection,
        *,
        add: bool,
        reason: str,
        ref_price: float | None = None,
    ) -> tuple[OrderIntent | None, bool]:
        """One position-aware step toward `want`; returns (intent or None, done).

        Does nothing while an intent is pending (done=False, so the caller retries later).
        An opposite position is first closed exactly (done=False when an entry should
        follow). An entry buys or sells `order_qty` clipped to `max_position_shares`;
        with `add` False no entry is made when a same-side position already exists.
        SHORT is treated as FLAT unless `allow_short`."""
        if ctx.has_pending(symbol):
            return None, False
        s: OrderSettings = self.params
        pos = ctx.position(symbol)
        if want is SignalDirection.SHORT and not s.allow_short:
            want = SignalDirection.FLAT
        done = True
        if want is SignalDirection.FLAT:
            if pos == 0:
                return None, True
            side, qty = (OrderSide.SELL, pos) if pos > 0 else (OrderSide.BUY, -pos)
        elif want is SignalDirection.LONG:
            if pos < 0:
                side, qty, done = OrderSide.BUY, -pos, False
            elif pos > 0 and not add:
                return None, True
            else:
                side, qty = OrderSide.BUY, buy_entry_qty(pos, s.order_qty, s.max_position_shares)
        else:
            if pos > 0:
                side, qty, done = OrderSide.SELL, pos, False
            elif pos < 0 and not add:
                return None, True
            else:
                side = OrderSide.SELL
                qty = sell_entry_qty(pos, s.order_qty, s.max_position_shares, s.allow_short)
        if qty <= 0:
            return None, True
        intent = self.make_intent(ctx, symbol, side, qty, reason, ref_price)
        return (intent, done) if intent is not None else (None, False)


def validate_strategy_name(name: object) -> str:
    """Strategy names are 1-15 chars of letters, digits and '_' (they go into ids)."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > MAX_STRATEGY_NAME_LEN:
        raise StrategyConfigError(f"strategy {name!r}: name: expected 1-{MAX_STRATEGY_NAME_LEN} letters, digits or '_'")
    return name


def parse_params(name: str, params_type: type[Any], params: Mapping[str, Any] | None) -> Any:
    """Convert a params dict into `params_type`, raising StrategyConfigError that names
    the strategy and the field."""
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise StrategyConfigError(f"strategy {name!r}: params: expected a mapping")
    try:
        return msgspec.convert(dict(params), params_type)
    except msgspec.ValidationError as exc:
        msg = str(exc).replace("`$.", "`params.")
        raise StrategyConfigError(f"strategy {name!r}: invalid params: {msg}") from None
