"""Hypothesis strategies for Alpaca's JSON as the trading API sends it (orders, positions,
the account, trade_updates events), shared by the REST and stream fuzz tests. Numbers are
strings, as Alpaca sends them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from pyrt.venues.port import BrokerAccount, BrokerOrder, BrokerPosition, TradeUpdateReport

num_text = st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9).map(str)
opt_num = st.none() | num_text
ident = st.text(alphabet="0123456789abcdef-", min_size=1, max_size=12)
symbols = st.sampled_from(["AAPL", "MSFT", "SPY", "BRK.B"])
iso = st.sampled_from(["2026-12-03T14:30:00.123456Z", "2026-12-03T14:30:00Z", ""])

orders = st.fixed_dictionaries({
    "id": ident, "client_order_id": ident, "symbol": symbols, "side": st.sampled_from(["buy", "sell"]),
    "type": st.sampled_from(["market", "limit", "stop", "stop_limit"]),
    "order_type": st.sampled_from(["market", "limit"]), "time_in_force": st.sampled_from(["day", "gtc", "ioc"]),
    "status": st.sampled_from(["new", "accepted", "partially_filled", "filled", "canceled", "rejected"]),
    "qty": num_text, "filled_qty": num_text, "filled_avg_price": opt_num, "limit_price": opt_num,
    "stop_price": opt_num, "submitted_at": iso, "created_at": iso, "extended_hours": st.booleans(),
})  # fmt: skip
positions = st.fixed_dictionaries({
    "symbol": symbols, "qty": num_text, "avg_entry_price": num_text, "market_value": num_text,
    "unrealized_pl": num_text, "current_price": num_text, "side": st.sampled_from(["long", "short"]),
})  # fmt: skip
accounts = st.fixed_dictionaries({
    "cash": num_text, "equity": num_text, "buying_power": num_text,
    "status": st.sampled_from(["ACTIVE", "ACCOUNT_UPDATED"]), "currency": st.just("USD"),
})  # fmt: skip
trade_updates = st.fixed_dictionaries(
    {"event": st.sampled_from(["new", "fill", "partial_fill", "canceled", "rejected", "expired"]),
     "order": orders, "timestamp": iso},
    optional={"price": num_text, "qty": num_text, "position_qty": num_text, "execution_id": ident},
)  # fmt: skip


def _finite(*values: Decimal | None) -> bool:
    return all(v is None or (isinstance(v, Decimal) and v.is_finite()) for v in values)


def check_order(o: Any) -> None:
    """What every BrokerOrder the adapter hands out must be: strings and finite numbers."""
    assert isinstance(o, BrokerOrder), type(o)
    assert all(isinstance(x, str) for x in (o.id, o.client_order_id, o.symbol, o.side, o.type,
                                             o.time_in_force, o.status, o.submitted_at))  # fmt: skip
    assert _finite(o.qty, o.filled_qty, o.filled_avg_price, o.limit_price, o.stop_price), o


def check_position(p: Any) -> None:
    assert isinstance(p, BrokerPosition) and isinstance(p.symbol, str), p
    assert _finite(p.qty, p.avg_entry_price, p.market_value, p.unrealized_pl, p.current_price), p


def check_account(a: Any) -> None:
    assert isinstance(a, BrokerAccount) and isinstance(a.status, str), a
    assert _finite(a.cash, a.equity, a.buying_power), a


def check_trade_update(u: Any) -> None:
    assert isinstance(u, TradeUpdateReport) and isinstance(u.event, str) and isinstance(u.ts, str), u
    assert u.execution_id is None or isinstance(u.execution_id, str), u
    assert _finite(u.price, u.qty, u.position_qty), u
    check_order(u.order)
