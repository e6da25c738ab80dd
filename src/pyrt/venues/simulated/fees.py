"""What a fill costs at the simulated venue: commission (per share, per order, in bps) and,
when chosen, the regulatory fees Alpaca passes on for sells: the SEC's section 31 fee on the
principal and FINRA's trading activity fee (TAF) per share, capped per trade. Each is rounded
up to the cent per fill (Alpaca rounds the day's total up, so this is at most one cent high
per fill). The rates are dated: a fill pays the rates in force on its day.

Sources: Alpaca's "Regulatory Fees" support page and fee schedule (SEC $27.80 per million
from 2024-05-22, $0.00 from 2025-05-14; TAF $0.000166 per share, at most $8.30, from 2024)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

from pyrt.domain.enums import OrderSide
from pyrt.domain.money import CENT, ZERO

_BPS = Decimal(10_000)
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class RegulatoryRates:
    effective_ns: int  # in force from this instant (UTC midnight of the effective date)
    sec_per_million: Decimal  # USD per 1,000,000 USD of sale principal
    taf_per_share: Decimal
    taf_cap: Decimal  # USD per trade


def _day(y: int, m: int, d: int) -> int:
    return int(datetime(y, m, d, tzinfo=UTC).timestamp()) * 1_000_000_000


REGULATORY_SCHEDULE: tuple[RegulatoryRates, ...] = (
    RegulatoryRates(_day(2023, 1, 1), Decimal("8.00"), Decimal("0.000145"), Decimal("7.27")),
    RegulatoryRates(_day(2024, 1, 1), Decimal("8.00"), Decimal("0.000166"), Decimal("8.30")),
    RegulatoryRates(_day(2024, 5, 22), Decimal("27.80"), Decimal("0.000166"), Decimal("8.30")),
    RegulatoryRates(_day(2025, 5, 14), Decimal("0.00"), Decimal("0.000166"), Decimal("8.30")),
)


def rates_on(ts_ns: int) -> RegulatoryRates:
    """The rates in force at `ts_ns` (the earliest known ones before the schedule starts)."""
    current = REGULATORY_SCHEDULE[0]
    for rates in REGULATORY_SCHEDULE:
        if rates.effective_ns <= ts_ns:
            current = rates
    return current


def _up_to_cent(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_CEILING) if x > 0 else ZERO


def regulatory_fee(side: OrderSide, qty: Decimal, price: Decimal, ts_ns: int) -> Decimal:
    """SEC section 31 fee plus FINRA TAF for a sell fill (zero for a buy)."""
    if side is not OrderSide.SELL:
        return ZERO
    r = rates_on(ts_ns)
    sec = _up_to_cent(qty * price * r.sec_per_million / _MILLION)
    taf = min(_up_to_cent(qty * r.taf_per_share), r.taf_cap)
    return sec + taf


@dataclass(frozen=True)
class FeeModel:
    """Commission and regulatory fees of one venue account."""

    per_share: Decimal = ZERO
    per_order: Decimal = ZERO  # charged on an order's first fill
    bps: Decimal = ZERO
    regulatory: bool = False

    def fill_fee(self, side: OrderSide, qty: Decimal, price: Decimal, ts_ns: int, first_fill: bool) -> Decimal:
        fee = qty * self.per_share + qty * price * self.bps / _BPS
        if first_fill:
            fee += self.per_order
        fee = fee.quantize(CENT, rounding=ROUND_HALF_EVEN) if fee else ZERO
        if self.regulatory:
            fee += regulatory_fee(side, qty, price, ts_ns)
        return fee
