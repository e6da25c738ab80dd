"""Alpaca's JSON shapes for the sim broker: orders, positions, account, trade updates, and
the parsing of POST /v2/orders bodies (with Alpaca's 422 answers for bad input).

Numbers travel as strings, timestamps as RFC 3339 UTC, absent values as null."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pyrt.domain.clock import iso_utc
from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.money import fmt, round_price
from pyrt.venues.simulated.matching import CODE_INVALID, MatchingEngine
from pyrt.venues.simulated.models import NewOrder, Rejection, SimOrder, TradeUpdate
from pyrt.venues.simulated.valuation import value_account, value_position

ACCOUNT_ID = "8f2c6d0e-5b1a-4c7e-9d3f-0a1b2c3d4e5f"
ACCOUNT_NUMBER = "PA3PYRTSIM01"


def _ts(ns: int | None) -> str | None:
    return None if ns is None else iso_utc(ns)


def order_json(o: SimOrder) -> dict[str, Any]:
    return {
        "id": o.id,
        "client_order_id": o.client_order_id,
        "created_at": iso_utc(o.created_at_ns),
        "updated_at": iso_utc(o.updated_at_ns),
        "submitted_at": iso_utc(o.submitted_at_ns),
        "filled_at": _ts(o.filled_at_ns),
        "expired_at": _ts(o.expired_at_ns),
        "expires_at": None,
        "canceled_at": _ts(o.canceled_at_ns),
        "failed_at": _ts(o.failed_at_ns),
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": o.asset_id,
        "symbol": o.symbol,
        "asset_class": "us_equity",
        "notional": fmt(o.notional),
        "qty": fmt(o.qty),
        "filled_qty": fmt(o.filled_qty),
        "filled_avg_price": fmt(round_price(o.filled_avg_price)) if o.filled_avg_price is not None else None,
        "order_class": "simple",
        "order_type": o.type.value,
        "type": o.type.value,
        "side": o.side.value,
        "position_intent": None,
        "time_in_force": o.time_in_force.value,
        "limit_price": fmt(o.limit_price),
        "stop_price": fmt(o.stop_price),
        "status": o.status.value,
        "extended_hours": o.extended_hours,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "subtag": None,
        "source": None,
    }


def trade_update_json(u: TradeUpdate) -> dict[str, Any]:
    data: dict[str, Any] = {"event": u.event.value, "timestamp": iso_utc(u.ts_ns), "order": order_json(u.order)}
    if u.execution_id is not None:
        data["execution_id"] = u.execution_id
        data["price"] = fmt(u.price)
        data["qty"] = fmt(u.qty)
        data["position_qty"] = fmt(u.position_qty)
    return {"stream": "trade_updates", "data": data}


def position_json(engine: MatchingEngine, symbol: str) -> dict[str, Any]:
    v = value_position(engine, symbol)
    plpc = fmt(v.unrealized_plpc.quantize(Decimal("0.0000000001")))
    return {
        "asset_id": v.asset_id,
        "symbol": symbol,
        "exchange": "NASDAQ",
        "asset_class": "us_equity",
        "asset_marginable": True,
        "avg_entry_price": fmt(round_price(v.avg_entry_price)),
        "qty": fmt(v.qty),
        "qty_available": fmt(v.qty_available),
        "side": "long" if v.qty > 0 else "short",
        "market_value": fmt(round_price(v.market_value)),
        "cost_basis": fmt(round_price(v.cost_basis)),
        "unrealized_pl": fmt(round_price(v.unrealized_pl)),
        "unrealized_plpc": plpc,
        "unrealized_intraday_pl": fmt(round_price(v.unrealized_pl)),
        "unrealized_intraday_plpc": plpc,
        "current_price": fmt(v.current_price),
        "lastday_price": fmt(v.current_price),
        "change_today": "0",
    }


def account_json(engine: MatchingEngine, created_ns: int) -> dict[str, Any]:
    v = value_account(engine)
    return {
        "id": ACCOUNT_ID,
        "account_number": ACCOUNT_NUMBER,
        "status": "ACTIVE",
        "crypto_status": "INACTIVE",
        "currency": "USD",
        "buying_power": fmt(round_price(v.buying_power)),
        "regt_buying_power": fmt(round_price(v.buying_power)),
        "daytrading_buying_power": "0",
        "non_marginable_buying_power": fmt(round_price(v.buying_power)),
        "cash": fmt(round_price(v.cash)),
        "accrued_fees": fmt(v.fees_paid),
        "pending_transfer_in": "0",
        "portfolio_value": fmt(round_price(v.equity)),
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": iso_utc(created_ns),
        "trade_suspended_by_user": False,
        "multiplier": "1",
        "shorting_enabled": engine.config.allow_shorting,
        "equity": fmt(round_price(v.equity)),
        "last_equity": fmt(round_price(v.last_equity)),
        "long_market_value": fmt(round_price(v.long_market_value)),
        "short_market_value": fmt(round_price(v.short_market_value)),
        "initial_margin": "0",
        "maintenance_margin": "0",
        "last_maintenance_margin": "0",
        "sma": "0",
        "daytrade_count": 0,
    }


def _decimal(body: dict[str, Any], name: str) -> Decimal | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise Rejection(422, CODE_INVALID, f"invalid {name}")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise Rejection(422, CODE_INVALID, f"invalid {name}") from None
    if not result.is_finite():
        raise Rejection(422, CODE_INVALID, f"invalid {name}")
    return result


def _enum(body: dict[str, Any], name: str, enum: type, default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None:
        raise Rejection(422, CODE_INVALID, f"{name} is required")
    try:
        return enum(value)
    except ValueError:
        raise Rejection(422, CODE_INVALID, f"invalid {name}: {value!r}") from None


def parse_new_order(body: Any) -> NewOrder:
    """POST /v2/orders body → NewOrder, or Rejection(422) naming the field."""
    if not isinstance(body, dict):
        raise Rejection(422, CODE_INVALID, "request body must be a JSON object")
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise Rejection(422, CODE_INVALID, "symbol is required")
    order_class = body.get("order_class") or "simple"
    if order_class != "simple":
        raise Rejection(422, CODE_INVALID, f"order_class {order_class!r} is not supported by the sim broker")
    cid = body.get("client_order_id")
    if cid is not None and not isinstance(cid, str):
        raise Rejection(422, CODE_INVALID, "client_order_id must be a string")
    ext = body.get("extended_hours", False)
    return NewOrder(
        symbol=symbol.upper(),
        side=_enum(body, "side", OrderSide),
        type=_enum(body, "type", OrderType, body.get("order_type")),
        time_in_force=_enum(body, "time_in_force", TimeInForce),
        qty=_decimal(body, "qty"),
        notional=_decimal(body, "notional"),
        limit_price=_decimal(body, "limit_price"),
        stop_price=_decimal(body, "stop_price"),
        client_order_id=cid or None,
        extended_hours=bool(ext),
    )
