"""What a backtest records as it runs: every intent and what became of it, every fill the
venue executed (with its fee and its spread and slippage costs), and the equity curve.

The venue's account is the authority on cash and positions; the ledger keeps a float copy
only to sample the equity curve at every bar close cheaply, and `engine.py` checks the two
agree at the end."""

from __future__ import annotations

from array import array
from decimal import Decimal

from pyrt.backtest.results import FillRow, OrderRow
from pyrt.bus import schema as wire
from pyrt.domain.ids import client_order_id
from pyrt.domain.intents import OrderIntent, RiskDecision
from pyrt.venues.simulated.models import Fill

_ZERO = Decimal(0)


class Ledger:
    def __init__(self, symbols: tuple[str, ...], cash: float) -> None:
        self.orders: dict[str, OrderRow] = {}
        self.by_coid: dict[str, OrderRow] = {}
        self.fills: list[FillRow] = []
        self.cash = cash
        self.index = {s: i for i, s in enumerate(symbols)}
        n = len(symbols)
        self.pos = [0.0] * n  # shares per symbol index (float copy of the venue's)
        self.mark = [0.0] * n  # last close per symbol index
        self.value = 0.0  # sum(pos * mark)
        self.gross = 0.0  # sum(|pos| * mark)
        self._pos_dec: dict[str, Decimal] = {}
        self.equity_ts: array[int] = array("q")
        self.equity: array[float] = array("d")
        self.exposure: array[float] = array("d")

    # ------------------------------------------------------------------ orders
    def intent(self, intent: OrderIntent, decision: RiskDecision | None) -> OrderRow:
        row = OrderRow(
            intent_id=intent.intent_id,
            strategy=intent.strategy,
            symbol=intent.symbol,
            side=intent.side.value,
            qty=intent.qty,
            order_type=intent.order_type.value,
            time_in_force=intent.time_in_force.value,
            limit_price=intent.limit_price,
            stop_price=intent.stop_price,
            decided_ns=intent.ts_ns,
            reason=intent.reason,
        )
        self.orders[intent.intent_id] = row
        self.by_coid[client_order_id(intent.strategy, intent.intent_id)] = row
        if decision is not None and not decision.approved:
            self.deny(row, decision.reason_code, decision.message)
        return row

    @staticmethod
    def deny(row: OrderRow, code: str, message: str) -> None:
        row.status = "denied"
        row.reason_code = code
        row.message = message

    def report(self, r: wire.ExecutionReport) -> None:
        row = self.by_coid.get(r.client_order_id)
        if row is None:
            return
        row.status = r.status
        row.filled_qty = r.filled_qty
        row.avg_price = r.avg_price
        if r.status == "rejected":
            row.reason_code = "BROKER_REJECTED"
            row.message = r.reason

    # ------------------------------------------------------------------ fills
    def fill(self, f: Fill, coid: str, ts_ns: int, side_px: float, mid: float) -> None:
        """One venue execution. `side_px` is the quote side it met (ask for a buy, bid for a
        sell) and `mid` the bar price that quote was built around."""
        row = self.by_coid.get(coid)
        buy = f.side.value == "buy"
        qty = f.qty
        i = self.index[f.symbol]
        q = float(qty) if buy else -float(qty)
        self.cash -= q * float(f.price) + float(f.fee)
        self.pos[i] += q
        self.value += q * self.mark[i]
        self.gross = sum(abs(p) * m for p, m in zip(self.pos, self.mark, strict=True))
        pos_after = self._pos_dec.get(f.symbol, _ZERO) + (qty if buy else -qty)
        self._pos_dec[f.symbol] = pos_after
        side = Decimal(repr(side_px))
        spread = abs(side - Decimal(repr(mid))) * qty
        slippage = abs(f.price - side) * qty
        self.fills.append(
            FillRow(
                ts_ns=ts_ns,
                symbol=f.symbol,
                side=f.side.value,
                qty=qty,
                price=f.price,
                fee=f.fee,
                spread_cost=spread.quantize(Decimal("0.0001")),
                slippage_cost=slippage.quantize(Decimal("0.0001")),
                strategy=row.strategy if row else "",
                intent_id=row.intent_id if row else "",
                client_order_id=coid,
                reason=row.reason if row else "",
                position_after=pos_after,
            )
        )

    # ------------------------------------------------------------------ marks
    def sample(self, ts_ns: int) -> None:
        """One point of the equity curve (after every bar closing at `ts_ns`)."""
        self.equity_ts.append(ts_ns)
        self.equity.append(self.cash + self.value)
        self.exposure.append(self.gross)
