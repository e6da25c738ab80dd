"""What the paper account is worth at the current marks: one position's values and the
account's totals. Both faces of the simulated venue report these (the HTTP sim broker as
Alpaca's JSON, the in-process `SimulatedVenue` as port records), so the arithmetic lives
once, here, below both. Values are exact Decimals; each face rounds as it presents them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pyrt.domain.enums import OrderSide
from pyrt.domain.money import ZERO
from pyrt.venues.simulated.matching import MatchingEngine


@dataclass(frozen=True, slots=True)
class PositionValue:
    symbol: str
    asset_id: str
    qty: Decimal  # signed: negative is short
    qty_available: Decimal  # not held by open orders closing it
    avg_entry_price: Decimal
    cost_basis: Decimal
    current_price: Decimal  # the mark (quote mid), or the entry price without a quote
    market_value: Decimal
    unrealized_pl: Decimal
    unrealized_plpc: Decimal


@dataclass(frozen=True, slots=True)
class AccountValue:
    cash: Decimal
    long_market_value: Decimal
    short_market_value: Decimal  # negative
    equity: Decimal
    buying_power: Decimal
    fees_paid: Decimal
    last_equity: Decimal


def value_position(engine: MatchingEngine, symbol: str, marks: dict[str, Decimal] | None = None) -> PositionValue:
    """Raises KeyError if there is no position in `symbol`."""
    pos = engine.account.positions[symbol]
    price = (engine.marks() if marks is None else marks).get(symbol, pos.avg_entry_price)
    market_value = pos.qty * price
    unrealized = market_value - pos.cost_basis
    held = engine.held_for_orders(symbol, OrderSide.SELL if pos.qty > 0 else OrderSide.BUY)
    return PositionValue(
        symbol=symbol,
        asset_id=pos.asset_id,
        qty=pos.qty,
        qty_available=pos.qty - held if pos.qty > 0 else pos.qty + held,
        avg_entry_price=pos.avg_entry_price,
        cost_basis=pos.cost_basis,
        current_price=price,
        market_value=market_value,
        unrealized_pl=unrealized,
        unrealized_plpc=unrealized / abs(pos.cost_basis) if pos.cost_basis else ZERO,
    )


def value_positions(engine: MatchingEngine) -> list[PositionValue]:
    """Every open position, by symbol."""
    marks = engine.marks()
    return [value_position(engine, s, marks) for s in sorted(engine.account.positions)]


def value_account(engine: MatchingEngine) -> AccountValue:
    acct = engine.account
    long_mv, short_mv = acct.market_value(engine.marks())
    return AccountValue(
        cash=acct.cash,
        long_market_value=long_mv,
        short_market_value=short_mv,
        equity=acct.cash + long_mv + short_mv,
        buying_power=engine.buying_power(),
        fees_paid=acct.fees_paid,
        last_equity=acct.initial_cash + acct.realized_pnl,
    )
