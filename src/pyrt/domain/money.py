"""Decimal money and quantity helpers. Money and quantities are Decimal in the domain;
floats stay in indicators and models."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

ZERO = Decimal(0)
CENT = Decimal("0.01")
SUB_PENNY = Decimal("0.0001")


def to_decimal(value: object, field: str = "value") -> Decimal:
    """Convert a wire value (str, int, float) to Decimal; floats go through repr so that
    0.1 stays 0.1. Raises ValueError naming the field on bad input."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"{field}: expected a number, got a boolean")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except Exception:
            raise ValueError(f"{field}: {value!r} is not a number") from None
    else:
        raise ValueError(f"{field}: expected a number, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    return result


def round_price(price: Decimal) -> Decimal:
    """Alpaca prices: cents at or above $1, four decimals below."""
    quantum = CENT if abs(price) >= 1 else SUB_PENNY
    return price.quantize(quantum, rounding=ROUND_HALF_EVEN)


def fmt(value: Decimal | None) -> str | None:
    """Format a Decimal the way Alpaca sends numbers: a plain string, no exponent."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text
