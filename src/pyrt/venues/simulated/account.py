"""The paper account: cash, positions at average cost, realized P&L and fees.

Invariant (checked by property tests): initial_cash ==
cash + sum(cost_basis) - realized_pnl + fees_paid, exactly: cash plus position value at
cost is conserved up to realized P&L and fees."""

from __future__ import annotations

from decimal import Decimal

from pyrt.domain.enums import OrderSide
from pyrt.domain.money import ZERO
from pyrt.venues.simulated.models import SimPosition

_COST_SCALE = Decimal("1e-10")


class PaperAccount:
    def __init__(self, initial_cash: Decimal) -> None:
        self.initial_cash = initial_cash
        self.cash = initial_cash
        self.positions: dict[str, SimPosition] = {}
        self.realized_pnl = ZERO
        self.fees_paid = ZERO

    def position_qty(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.qty if pos is not None else ZERO

    def apply_fill(
        self, symbol: str, asset_id: str, side: OrderSide, qty: Decimal, price: Decimal, fee: Decimal
    ) -> Decimal:
        """Book a fill; return the position quantity after it (signed)."""
        signed = qty if side is OrderSide.BUY else -qty
        self.cash -= signed * price + fee
        self.fees_paid += fee
        pos = self.positions.get(symbol)
        if pos is None:
            pos = SimPosition(symbol=symbol, asset_id=asset_id)
            self.positions[symbol] = pos
        old = pos.qty
        new = old + signed
        if old == 0 or (old > 0) == (signed > 0):
            pos.cost_basis += signed * price  # opening or adding
        else:
            closed = min(abs(signed), abs(old))
            # cost of the closed part, rounded to a fixed scale so every later sum is exact
            # (an unrounded 28-digit quotient would make cash + cost drift by rounding)
            removed = (pos.cost_basis * closed / abs(old)).quantize(_COST_SCALE)
            direction = Decimal(1) if old > 0 else Decimal(-1)
            pnl = closed * price * direction - removed
            pos.realized_pnl += pnl
            self.realized_pnl += pnl
            pos.cost_basis -= removed
            if new != 0 and (new > 0) != (old > 0):
                pos.cost_basis = new * price  # flipped: the remainder opened at this price
        pos.qty = new
        if new == 0:
            del self.positions[symbol]
        return new

    def market_value(self, marks: dict[str, Decimal]) -> tuple[Decimal, Decimal]:
        """(long market value, short market value) at the given marks (short is negative)."""
        long_mv = ZERO
        short_mv = ZERO
        for pos in self.positions.values():
            mark = marks.get(pos.symbol, pos.avg_entry_price)
            value = pos.qty * mark
            if pos.qty > 0:
                long_mv += value
            else:
                short_mv += value
        return long_mv, short_mv

    def equity(self, marks: dict[str, Decimal]) -> Decimal:
        long_mv, short_mv = self.market_value(marks)
        return self.cash + long_mv + short_mv

    def to_state(self) -> dict[str, object]:
        return {
            "initial_cash": str(self.initial_cash),
            "cash": str(self.cash),
            "realized_pnl": str(self.realized_pnl),
            "fees_paid": str(self.fees_paid),
        }

    def load_state(self, state: dict[str, str], positions: list[SimPosition]) -> None:
        self.initial_cash = Decimal(state["initial_cash"])
        self.cash = Decimal(state["cash"])
        self.realized_pnl = Decimal(state["realized_pnl"])
        self.fees_paid = Decimal(state["fees_paid"])
        self.positions = {p.symbol: p for p in positions}
