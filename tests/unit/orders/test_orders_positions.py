"""Average-cost positions: adds, reductions, closes and flips, and cash conservation."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrt.domain.enums import OrderSide
from pyrt.domain.orders import Position, apply_fill_to_position

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def run(*fills: tuple[OrderSide, str, str]) -> Position:
    p = Position(symbol="AAPL")
    for side, qty, price in fills:
        p = apply_fill_to_position(p, side, D(qty), D(price))
    return p


def test_buys_average_the_entry() -> None:
    p = run((BUY, "10", "100"), (BUY, "30", "104"))
    assert (p.qty, p.avg_entry_price, p.realized_pnl) == (40, D(103), 0)


def test_partial_sell_realises_against_the_average() -> None:
    p = run((BUY, "10", "100"), (BUY, "10", "110"), (SELL, "5", "120"))
    assert (p.qty, p.avg_entry_price, p.realized_pnl) == (15, D(105), D(75))
    assert p.unrealized_pnl(D(100)) == D(-75)


def test_close_to_flat_resets_the_average() -> None:
    p = run((BUY, "10", "100"), (SELL, "10", "90"))
    assert (p.qty, p.avg_entry_price, p.realized_pnl) == (0, 0, D(-100))


def test_flip_long_to_short_opens_the_rest_at_the_fill_price() -> None:
    p = run((BUY, "10", "100"), (SELL, "25", "110"))
    assert (p.qty, p.avg_entry_price, p.realized_pnl) == (-15, D(110), D(100))
    p = apply_fill_to_position(p, BUY, D(5), D(100))
    assert (p.qty, p.avg_entry_price, p.realized_pnl) == (-10, D(110), D(150))


def test_flip_short_to_long() -> None:
    p = run((SELL, "10", "50"), (SELL, "10", "52"), (BUY, "30", "48"))
    assert (p.qty, p.avg_entry_price, p.realized_pnl) == (10, D(48), D(60))


def test_zero_qty_fill_is_refused() -> None:
    with pytest.raises(ValueError):
        apply_fill_to_position(Position(symbol="AAPL"), BUY, D(0), D(1))


fills = st.lists(
    st.tuples(
        st.sampled_from([BUY, SELL]),
        st.integers(1, 500).map(D),
        st.decimals(min_value=D("0.01"), max_value=D(900), places=2),
    ),
    max_size=30,
)


@settings(max_examples=120, deadline=None)
@given(fills, st.decimals(min_value=D("0.01"), max_value=D(900), places=2))
def test_pnl_conserves_cash(fill_list: list[tuple[OrderSide, D, D]], mark: D) -> None:
    """realized + unrealized at any mark == cash flow of all fills + position value at mark."""
    p = Position(symbol="AAPL")
    cash = D(0)
    signed_qty = D(0)
    for side, qty, price in fill_list:
        p = apply_fill_to_position(p, side, qty, price)
        signed = qty if side == BUY else -qty
        cash -= signed * price
        signed_qty += signed
    assert p.qty == signed_qty
    total = p.realized_pnl + p.unrealized_pnl(mark)
    assert abs(total - (cash + signed_qty * mark)) < D("1e-12")
    if p.qty == 0:
        assert p.avg_entry_price == 0 and p.realized_pnl == cash
