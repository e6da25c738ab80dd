"""The risk manager's book-keeping: the book of positions plus approved-but-not-yet-filled
orders from which every projection is made. Pure: no I/O, no clock of its own. (Trading
states and breaker triggers are domain enums, the trading day is the domain calendar's.)"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pyrt.domain.enums import OrderSide
from pyrt.domain.money import ZERO, to_decimal

CLOSED_ORDERS_KEPT = 2_000  # closed intents remembered to catch fills after the close (minutes)


def side_sign(side: OrderSide) -> int:
    """+1 for a buy, -1 for a sell."""
    return 1 if side is OrderSide.BUY else -1


@dataclass
class RoundTrip:
    """A signed position as the breaker needs it: qty > 0 long, qty < 0 short, and the P&L
    realized so far by the round trip still open (reset when it closes or flips).

    Not `pyrt.domain.orders.Position`: that one carries the cumulative realized P&L of a
    symbol, while the consecutive-losses rule needs the P&L of each round trip, and an
    authoritative position report (which may flip or flatten it) resets that."""

    qty: Decimal = ZERO
    avg_entry_price: Decimal = ZERO
    trade_pnl: Decimal = ZERO  # realized so far by the round trip still open


@dataclass
class PendingOrder:
    """An approved intent whose order is not yet closed. `price` is the valuation price
    it was approved at (a mark of last resort after a restart)."""

    intent_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    filled: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        return max(self.qty - self.filled, ZERO)


@dataclass(frozen=True)
class FillOutcome:
    """What a fill did to the book. `closed_trade_pnl` is set when the fill ended a round
    trip (the position went to zero or flipped); `overfill` is the quantity filled beyond
    what was approved for the intent."""

    closed_trade_pnl: Decimal | None
    overfill: Decimal


class Book:
    """Positions and open approved orders, keyed by symbol and intent id; recently closed
    orders are kept (bounded) so that a late fill beyond the approval is still seen."""

    def __init__(self) -> None:
        self.positions: dict[str, RoundTrip] = {}
        self.pending: dict[str, PendingOrder] = {}
        self.closed: OrderedDict[str, PendingOrder] = OrderedDict()

    # -- projections ----------------------------------------------------------------
    def position_qty(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.qty if pos else ZERO

    def pending_qty(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Remaining (buy, sell) quantity of open approved orders in `symbol`."""
        buy = sell = ZERO
        for order in self.pending.values():
            if order.symbol == symbol:
                if order.side is OrderSide.BUY:
                    buy += order.remaining
                else:
                    sell += order.remaining
        return buy, sell

    def worst_abs_qty(self, symbol: str, extra_buy: Decimal = ZERO, extra_sell: Decimal = ZERO) -> Decimal:
        """The largest |position| reachable if any subset of the open approved orders
        (plus the extra quantities) fills: max(|p + buys|, |p - sells|)."""
        p = self.position_qty(symbol)
        buy, sell = self.pending_qty(symbol)
        return max(abs(p + buy + extra_buy), abs(p - sell - extra_sell))

    def symbols(self) -> set[str]:
        """Every symbol with a position or an open approved order."""
        held = {s for s, pos in self.positions.items() if pos.qty != 0}
        return held | {o.symbol for o in self.pending.values() if o.remaining > 0}

    def fallback_price(self, symbol: str) -> Decimal:
        """A mark when no quote was ever seen: average entry, else a pending order's price."""
        pos = self.positions.get(symbol)
        if pos and pos.avg_entry_price > 0:
            return pos.avg_entry_price
        prices = [o.price for o in self.pending.values() if o.symbol == symbol]
        return max(prices, default=ZERO)

    # -- changes --------------------------------------------------------------------
    def add_pending(self, order: PendingOrder) -> None:
        self.pending[order.intent_id] = order

    def release(self, intent_id: str) -> PendingOrder | None:
        """Stop counting an approved order as open (cancelled, rejected, expired, done)."""
        order = self.pending.pop(intent_id, None)
        if order is not None:
            self.closed[intent_id] = order
            if len(self.closed) > CLOSED_ORDERS_KEPT:
                self.closed.popitem(last=False)
        return order

    def set_position(self, symbol: str, qty: Decimal, avg_entry_price: Decimal) -> None:
        """Overwrite a position with an authoritative report."""
        pos = self.positions.setdefault(symbol, RoundTrip())
        if qty == 0 or (pos.qty != 0 and (qty > 0) != (pos.qty > 0)):
            pos.trade_pnl = ZERO
        pos.qty = qty
        pos.avg_entry_price = avg_entry_price if qty != 0 else ZERO

    def apply_fill(self, symbol: str, side: OrderSide, qty: Decimal, price: Decimal, intent_id: str) -> FillOutcome:
        """Move a fill from the intent's open quantity into the position (average cost)."""
        overfill = ZERO
        order = self.pending.get(intent_id) or self.closed.get(intent_id)
        if order is not None:
            before = max(order.filled - order.qty, ZERO)
            order.filled += qty
            overfill = max(order.filled - order.qty, ZERO) - before
            if order.remaining == 0:
                self.release(intent_id)
        return FillOutcome(self._apply_to_position(symbol, side_sign(side) * qty, price), overfill)

    def _apply_to_position(self, symbol: str, signed_qty: Decimal, price: Decimal) -> Decimal | None:
        pos = self.positions.setdefault(symbol, RoundTrip())
        old = pos.qty
        new = old + signed_qty
        if old == 0 or (old > 0) == (signed_qty > 0):  # opening or adding
            pos.avg_entry_price = (abs(old) * pos.avg_entry_price + abs(signed_qty) * price) / abs(new)
            pos.qty = new
            return None
        closed = min(abs(signed_qty), abs(old))
        direction = 1 if old > 0 else -1
        pos.trade_pnl += (price - pos.avg_entry_price) * closed * direction
        pos.qty = new
        if new != 0 and (new > 0) == (old > 0):  # reduced, round trip still open
            return None
        trade_pnl = pos.trade_pnl
        pos.trade_pnl = ZERO
        pos.avg_entry_price = price if new != 0 else ZERO  # a flip opens at the fill price
        return trade_pnl

    # -- persistence ----------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        return {
            "positions": {
                s: {"qty": str(p.qty), "avg_entry_price": str(p.avg_entry_price), "trade_pnl": str(p.trade_pnl)}
                for s, p in self.positions.items()
                if p.qty != 0
            },
            "pending": [
                {
                    "intent_id": o.intent_id,
                    "symbol": o.symbol,
                    "side": o.side.value,
                    "qty": str(o.qty),
                    "price": str(o.price),
                    "filled": str(o.filled),
                }
                for o in self.pending.values()
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Book:
        book = cls()
        for symbol, p in data.get("positions", {}).items():
            book.positions[symbol] = RoundTrip(
                to_decimal(p["qty"]), to_decimal(p["avg_entry_price"]), to_decimal(p.get("trade_pnl", "0"))
            )
        for o in data.get("pending", []):
            book.add_pending(
                PendingOrder(
                    o["intent_id"],
                    o["symbol"],
                    OrderSide(o["side"]),
                    to_decimal(o["qty"]),
                    to_decimal(o["price"]),
                    to_decimal(o["filled"]),
                )
            )
        return book


def saved_positions(snapshot: dict[str, Any]) -> dict[str, Decimal]:
    """Nonzero position quantity per symbol in a saved risk state (`RiskCore.snapshot()`,
    risk_state.json), for readers outside the risk manager (`pyrt verify`): the snapshot's
    layout stays this module's business. Raises ValueError, KeyError or TypeError when
    the state is malformed. Only the quantities are read, as `Book.from_dict` writes them."""
    positions = snapshot.get("book", {}).get("positions", {})
    qty = {symbol: to_decimal(p["qty"], f"book.positions.{symbol}.qty") for symbol, p in positions.items()}
    return {symbol: q for symbol, q in qty.items() if q != 0}
