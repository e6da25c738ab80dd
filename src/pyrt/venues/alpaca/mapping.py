"""Pure mapping between Alpaca's JSON (alpaca-py with raw_data=True) and our venue records."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pyrt.domain.enums import OrderType
from pyrt.domain.intents import OrderIntent
from pyrt.venues.port import BrokerAccount, BrokerOrder, BrokerPosition, TradeUpdateReport

MALFORMED = (KeyError, TypeError, ValueError, AttributeError, ArithmeticError)
"""What the functions below raise on JSON that is not of Alpaca's shape (a missing key, a
list for an object, "abc" or "NaN" for a number: decimal.InvalidOperation is an
ArithmeticError). Callers translate these into their own errors."""


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    result = Decimal(str(value))
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r:.40}")
    return result


def items(raw: Any) -> list[Any]:
    """A JSON array answer (an empty body, None, is no items)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TypeError(f"expected a JSON array, got {type(raw).__name__}")
    return raw


def _dec0(value: Any) -> Decimal:
    return _dec(value) or Decimal(0)


def order_from_json(o: dict[str, Any]) -> BrokerOrder:
    return BrokerOrder(
        id=str(o["id"]),
        client_order_id=str(o["client_order_id"]),
        symbol=str(o.get("symbol") or ""),
        side=str(o.get("side") or ""),
        type=str(o.get("type") or o.get("order_type") or ""),
        time_in_force=str(o.get("time_in_force") or ""),
        status=str(o["status"]),
        qty=_dec0(o.get("qty")),
        filled_qty=_dec0(o.get("filled_qty")),
        filled_avg_price=_dec(o.get("filled_avg_price")),
        limit_price=_dec(o.get("limit_price")),
        stop_price=_dec(o.get("stop_price")),
        submitted_at=str(o.get("submitted_at") or ""),
    )


def position_from_json(p: dict[str, Any]) -> BrokerPosition:
    return BrokerPosition(
        symbol=str(p["symbol"]),
        qty=_dec0(p.get("qty")),
        avg_entry_price=_dec0(p.get("avg_entry_price")),
        market_value=_dec0(p.get("market_value")),
        unrealized_pl=_dec0(p.get("unrealized_pl")),
        current_price=_dec0(p.get("current_price")),
    )


def account_from_json(a: dict[str, Any]) -> BrokerAccount:
    return BrokerAccount(
        cash=_dec0(a.get("cash")),
        equity=_dec0(a.get("equity")),
        buying_power=_dec0(a.get("buying_power")),
        status=str(a.get("status") or ""),
    )


def trade_update_from_json(data: dict[str, Any]) -> TradeUpdateReport:
    return TradeUpdateReport(
        event=str(data["event"]),
        order=order_from_json(data["order"]),
        ts=str(data.get("timestamp") or ""),
        price=_dec(data.get("price")),
        qty=_dec(data.get("qty")),
        position_qty=_dec(data.get("position_qty")),
        execution_id=str(data["execution_id"]) if data.get("execution_id") else None,
    )


def order_request_body(client_order_id: str, intent: OrderIntent) -> dict[str, Any]:
    """The POST /v2/orders body for an intent."""
    body: dict[str, Any] = {
        "symbol": intent.symbol,
        "qty": str(intent.qty),
        "side": intent.side.value,
        "type": intent.order_type.value,
        "time_in_force": intent.time_in_force.value,
        "client_order_id": client_order_id,
    }
    if intent.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and intent.limit_price is not None:
        body["limit_price"] = str(intent.limit_price)
    if intent.order_type in (OrderType.STOP, OrderType.STOP_LIMIT) and intent.stop_price is not None:
        body["stop_price"] = str(intent.stop_price)
    return body
