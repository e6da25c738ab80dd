"""Commands that travel the order path: a strategy's order intent and the risk manager's
decision on it. These are the bodies of the order-path request/reply messages."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from pyrt.domain.enums import OrderSide, OrderType, TimeInForce


class OrderIntent(msgspec.Struct, frozen=True, kw_only=True):
    """What a strategy (or an operator) wants to trade. `intent_id` is unique per intent
    and, with `strategy`, determines the order's client_order_id."""

    intent_id: str
    strategy: str
    symbol: str
    side: OrderSide
    qty: Decimal
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    ts_ns: int = 0  # when the intent was created
    reason: str = ""  # human-readable why (signal description, "manual", ...)


class RiskDecision(msgspec.Struct, frozen=True, kw_only=True):
    """The risk manager's explicit answer to an intent. A denial is an event with a
    reason code, not an exception."""

    intent_id: str
    approved: bool
    reason_code: str  # "OK" when approved, else e.g. "MAX_ORDER_VALUE"
    message: str = ""
    ts_ns: int = 0
