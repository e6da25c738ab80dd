"""Money in the status answers is rounded to cents."""

from __future__ import annotations

from decimal import Decimal

from pyrt.ops.facade import cents


def test_cents_rounds_money_and_passes_the_rest() -> None:
    assert cents(Decimal("100123.4567890123456789012345678")) == "100123.46"
    assert cents("-12.345") == "-12.34"  # half to even, as the broker's accounting
    assert cents(7) == "7.00"
    assert cents(None) is None and cents("n/a") == "n/a" and cents("NaN") == "NaN"
