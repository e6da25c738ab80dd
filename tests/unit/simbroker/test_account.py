"""Paper account bookkeeping: exact conservation through partial closes at awkward ratios."""

from decimal import Decimal as D

from pyrt.domain.enums import OrderSide
from pyrt.venues.simulated.account import PaperAccount


def conserved(acct: PaperAccount) -> D:
    at_cost = sum((p.cost_basis for p in acct.positions.values()), D(0))
    return acct.cash + at_cost - acct.realized_pnl + acct.fees_paid


def test_partial_close_of_a_short_at_a_ratio_with_no_finite_decimal_stays_exact():
    # found by hypothesis in CI: short 9 at two prices, buy back 1 -> cost * 1/9 is not finite
    acct = PaperAccount(D(100000))
    acct.apply_fill("AAPL", "a", OrderSide.SELL, D(1), D("97.52"), D("0.005"))
    acct.apply_fill("AAPL", "a", OrderSide.SELL, D(8), D("49.99"), D("0.04"))
    acct.apply_fill("AAPL", "a", OrderSide.BUY, D(1), D("50.01"), D("0.005"))
    assert conserved(acct) == acct.initial_cash
    assert acct.positions["AAPL"].qty == D(-8)


def test_repeated_thirds_never_drift():
    acct = PaperAccount(D(1000000))
    acct.apply_fill("X", "x", OrderSide.BUY, D(3), D("100.01"), D(0))
    acct.apply_fill("X", "x", OrderSide.BUY, D(3), D("100.02"), D(0))
    for _ in range(6):
        acct.apply_fill("X", "x", OrderSide.SELL, D(1), D("101.37"), D(0))
        assert conserved(acct) == acct.initial_cash
    assert "X" not in acct.positions
