"""Fees at the simulated venue: commissions and Alpaca's regulatory fees on sells."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pyrt.domain.enums import OrderSide
from pyrt.venues.simulated.fees import FeeModel, rates_on, regulatory_fee

D = Decimal


def ns(y: int, m: int, d: int) -> int:
    return int(datetime(y, m, d, 15, tzinfo=UTC).timestamp()) * 1_000_000_000


def test_buys_pay_no_regulatory_fee() -> None:
    assert regulatory_fee(OrderSide.BUY, D(1000), D(100), ns(2024, 6, 3)) == 0


def test_sec_fee_and_taf_are_each_rounded_up_to_the_cent() -> None:
    # 2024-06-03: SEC $27.80 per million: 100 x $100 = $10,000 -> $0.278 -> $0.28; TAF 100 x 0.000166 -> $0.02
    assert regulatory_fee(OrderSide.SELL, D(100), D(100), ns(2024, 6, 3)) == D("0.30")


def test_taf_is_capped_per_trade() -> None:
    # 100,000 shares x 0.000166 = $16.60 -> capped at $8.30; SEC 2025-06-02 is $0.00 per million
    assert regulatory_fee(OrderSide.SELL, D(100_000), D(1), ns(2025, 6, 2)) == D("8.30")


def test_the_rates_in_force_on_the_fill_day_apply() -> None:
    assert rates_on(ns(2024, 5, 21)).sec_per_million == D("8.00")
    assert rates_on(ns(2024, 5, 22)).sec_per_million == D("27.80")
    assert rates_on(ns(2025, 5, 14)).sec_per_million == D("0.00")


def test_commission_per_share_and_per_order_once_per_order() -> None:
    model = FeeModel(per_share=D("0.005"), per_order=D(1))
    assert model.fill_fee(OrderSide.BUY, D(100), D(50), 0, first_fill=True) == D("1.50")
    assert model.fill_fee(OrderSide.BUY, D(100), D(50), 0, first_fill=False) == D("0.50")


def test_regulatory_fees_add_to_commissions_when_chosen() -> None:
    model = FeeModel(per_share=D("0.01"), regulatory=True)
    assert model.fill_fee(OrderSide.SELL, D(100), D(100), ns(2024, 6, 3), first_fill=True) == D("1.30")
