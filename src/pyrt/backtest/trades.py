"""Round trips from a run's fills, FIFO per (strategy, symbol), long and short.

Rules (what `trades.csv` and the trade statistics mean):
- A fill that adds to the position (or opens it) becomes an open lot: its quantity, price,
  time, reason and the share of its fee that belongs to that quantity.
- A fill that reduces the position closes lots first in, first out. Each closing fill gives
  ONE closed trade for the part it closes: its quantity is that part, its entry time is the
  oldest lot it consumed, its entry price the quantity-weighted average of the lots' prices,
  its exit price the fill's price. A position closed in three partial sells is three trades.
- A fill that crosses zero (long 100, sell 150) closes the whole position (one trade) and
  opens a lot on the other side with the rest (50 short); its fee is split between the two
  parts in proportion to their quantities.
- Fees: the entry lots' shares of their fills' fees plus the closing part's share of the
  closing fill's fee. Spread and slippage are already in the fill prices, so they are in the
  gross P&L (and reported separately in the costs).
- What is still open at the end is one trade per (strategy, symbol), flagged `is_open`,
  marked at the symbol's last close when a mark is given (else its P&L is 0); its exit fee
  is 0 and its exit reason is "open at end".
Pure: no I/O, Decimal money throughout."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from pyrt.backtest.results import FillRow

_ZERO = Decimal(0)
OPEN_AT_END = "open at end"


@dataclass(frozen=True, slots=True)
class Trade:
    strategy: str
    symbol: str
    side: str  # "long" | "short"
    qty: Decimal
    entry_ns: int
    exit_ns: int  # the closing fill's time; for an open trade, the mark's time (or entry_ns)
    entry_price: Decimal  # quantity-weighted average of the consumed lots
    exit_price: Decimal  # the closing fill's price; for an open trade, the mark (or entry)
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    return_pct: float  # net_pnl / (entry_price * qty) * 100
    entry_reason: str
    exit_reason: str
    is_open: bool = False

    @property
    def duration_ns(self) -> int:
        return self.exit_ns - self.entry_ns


@dataclass(slots=True)
class _Lot:
    qty: Decimal  # > 0, on the position's side
    price: Decimal
    ts_ns: int
    fee: Decimal  # this lot's remaining share of its fill's fee
    reason: str


class _Book:
    """The open lots of one (strategy, symbol)."""

    __slots__ = ("lots", "sign")

    def __init__(self) -> None:
        self.lots: deque[_Lot] = deque()
        self.sign = 0  # +1 long, -1 short, 0 flat


def round_trips(fills: Iterable[FillRow], marks: Mapping[str, tuple[int, float]] | None = None) -> list[Trade]:
    """Closed trades in the order they closed, then the open ones (sorted by strategy, symbol).
    `marks` maps a symbol to (time, last close) for pricing what is still open."""
    books: dict[tuple[str, str], _Book] = {}
    closed: list[Trade] = []
    for fill in fills:
        if fill.qty <= 0:
            continue
        book = books.setdefault((fill.strategy, fill.symbol), _Book())
        sign = 1 if fill.side == "buy" else -1
        remaining = fill.qty
        if book.sign not in (0, sign):
            held = sum((lot.qty for lot in book.lots), _ZERO)
            closing = min(remaining, held)
            fee_part = fill.fee * closing / fill.qty
            closed.append(_close(book, fill, closing, fee_part))
            remaining -= closing
            if not book.lots:
                book.sign = 0
        if remaining > 0:
            book.sign = sign
            fee_part = fill.fee * remaining / fill.qty
            book.lots.append(_Lot(remaining, fill.price, fill.ts_ns, fee_part, fill.reason))
    still_open = [_open_trade(key, book, marks) for key, book in sorted(books.items()) if book.lots]
    return closed + still_open


def _close(book: _Book, fill: FillRow, qty: Decimal, exit_fee: Decimal) -> Trade:
    left = qty
    cost = _ZERO
    entry_fee = _ZERO
    entry_ns = book.lots[0].ts_ns
    entry_reason = book.lots[0].reason
    while left > 0:
        lot = book.lots[0]
        take = min(left, lot.qty)
        fee_share = lot.fee if take == lot.qty else lot.fee * take / lot.qty
        cost += take * lot.price
        entry_fee += fee_share
        lot.fee -= fee_share
        lot.qty -= take
        left -= take
        if lot.qty == 0:
            book.lots.popleft()
    return _trade(
        fill.strategy,
        fill.symbol,
        book.sign,
        qty,
        entry_ns,
        fill.ts_ns,
        cost,
        fill.price,
        entry_fee + exit_fee,
        entry_reason,
        fill.reason,
        is_open=False,
    )


def _open_trade(key: tuple[str, str], book: _Book, marks: Mapping[str, tuple[int, float]] | None) -> Trade:
    strategy, symbol = key
    qty = sum((lot.qty for lot in book.lots), _ZERO)
    cost = sum((lot.qty * lot.price for lot in book.lots), _ZERO)
    fees = sum((lot.fee for lot in book.lots), _ZERO)
    first = book.lots[0]
    mark = marks.get(symbol) if marks else None
    if mark is None:
        exit_ns, exit_price = first.ts_ns, cost / qty
    else:
        exit_ns, exit_price = mark[0], Decimal(repr(mark[1]))
    return _trade(
        strategy, symbol, book.sign, qty, first.ts_ns, exit_ns, cost, exit_price, fees,
        first.reason, OPEN_AT_END, is_open=True,
    )  # fmt: skip


def _trade(
    strategy: str,
    symbol: str,
    sign: int,
    qty: Decimal,
    entry_ns: int,
    exit_ns: int,
    cost: Decimal,
    exit_price: Decimal,
    fees: Decimal,
    entry_reason: str,
    exit_reason: str,
    *,
    is_open: bool,
) -> Trade:
    entry_price = cost / qty
    gross = (exit_price * qty - cost) * sign
    net = gross - fees
    return Trade(
        strategy=strategy,
        symbol=symbol,
        side="long" if sign > 0 else "short",
        qty=qty,
        entry_ns=entry_ns,
        exit_ns=exit_ns,
        entry_price=entry_price,
        exit_price=exit_price,
        gross_pnl=gross,
        fees=fees,
        net_pnl=net,
        return_pct=float(net / cost * 100) if cost else 0.0,
        entry_reason=entry_reason,
        exit_reason=exit_reason,
        is_open=is_open,
    )
