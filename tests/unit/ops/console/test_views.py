"""The console's view models: positions with totals, order filters, fills from journal
records, realised P&L by average cost, limit utilisation, venue and service rows."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from pyrt.ops.console import views as v

DAY = 86_400 * 10**9
T0 = 1_796_000_000 * 10**9  # 2026-11-30


@dataclass
class Rec:
    kind: str
    client_order_id: str
    payload: dict[str, Any]
    ts_ns: int = T0


def fill(ts: int, symbol: str, side: str, qty: str, price: str) -> v.Fill:
    return v.Fill(ts, "c", "s", symbol, side, Decimal(qty), Decimal(price), "e")


def test_positions_view_sorts_and_totals() -> None:
    view = v.positions_view(
        [
            {"symbol": "MSFT", "qty": "2", "market_value": "600.50", "unrealized_pl": "-1.25", "avg_entry_price": "1"},
            {"symbol": "AAPL", "qty": "1", "market_value": "200", "unrealized_pl": "3.5", "avg_entry_price": "1"},
        ]
    )
    assert [r["symbol"] for r in view["rows"]] == ["AAPL", "MSFT"]
    assert view["totals"] == {"market_value": "800.50", "unrealized_pl": "2.25"}
    assert v.positions_view([])["totals"] == {"market_value": "0.00", "unrealized_pl": "0.00"}


def test_orders_view_filters_since_and_sorts() -> None:
    orders = [
        {"client_order_id": "b", "submitted_at": "2026-12-03T10:00:00Z", "status": "new"},
        {"client_order_id": "a", "submitted_at": "2026-12-01T10:00:00Z", "status": "filled"},
        {"client_order_id": "c", "submitted_at": None, "status": "pending_new"},
    ]
    assert [r["client_order_id"] for r in v.orders_view(orders)] == ["c", "a", "b"]
    assert [r["client_order_id"] for r in v.orders_view(orders, "2026-12-02")] == ["b"]
    with pytest.raises(ValueError, match="not an ISO date"):
        v.orders_view(orders, "yesterday")


def test_fills_from_records_joins_the_intent() -> None:
    records = [
        Rec("intent", "o1", {"symbol": "AAPL", "side": "buy", "strategy": "ema"}),
        Rec("fill", "o1", {"qty": "3", "price": "101.5", "execution_id": "x1"}, T0 + 5),
        Rec("fill", "orphan", {"qty": "1", "price": "1", "execution_id": "x2"}),
        Rec("audit", "", {"who": "admin"}),
    ]
    (f,) = v.fills_from_records(records)
    assert (f.symbol, f.side, f.strategy, f.qty, f.price) == ("AAPL", "buy", "ema", Decimal(3), Decimal("101.5"))
    assert f.row()["time"].startswith("2026-11-") and f.row()["time"].endswith("Z")


def test_realized_by_average_cost_long_short_and_crossing() -> None:
    fills = [
        fill(T0, "A", "buy", "10", "100"),
        fill(T0 + 1, "A", "buy", "10", "110"),  # avg 105
        fill(T0 + 2, "A", "sell", "5", "115"),  # +50
        fill(T0 + DAY, "A", "sell", "20", "100"),  # closes 15 at -5 each = -75, opens short 5 @ 100
        fill(T0 + DAY + 1, "A", "buy", "5", "90"),  # short covered: +50
    ]
    days = v.realized_by_day(fills)
    first, second = days.values()
    assert first["realized"] == Decimal(50) and first["fills"] == 3
    assert second["realized"] == Decimal(-25) and second["notional"] == Decimal(2450)


def test_pnl_view_covers_every_day_and_today_carries_unrealised() -> None:
    fills = [fill(T0, "A", "buy", "1", "10"), fill(T0 + DAY, "A", "sell", "1", "12")]
    today = v.iso_ns(T0 + 2 * DAY)[:10]
    rows = v.pnl_view(fills, 3, today, Decimal("1.5"))
    assert [r["day"] for r in rows] == [v.iso_ns(T0)[:10], v.iso_ns(T0 + DAY)[:10], today]
    assert [r["realized"] for r in rows] == ["0.00", "2.00", "0.00"]
    assert [r["unrealized"] for r in rows] == ["", "", "1.50"]


def limits() -> Any:
    return SimpleNamespace(
        position_limits=SimpleNamespace(
            max_total_exposure=Decimal(10000),
            max_notional_per_position=Decimal(5000),
            max_shares=100,
            max_open_positions=4,
        ),
        loss_limits=SimpleNamespace(max_daily_loss=Decimal(500)),
        circuit_breaker=SimpleNamespace(max_trades_per_day=50, max_consecutive_losses=5, max_consecutive_rejections=10),
    )


def test_limits_view_used_against_allowed() -> None:
    risk = {
        "total_exposure": "2500",
        "open_positions": 1,
        "daily_pnl": "-125",
        "breaker": {"trades_today": 5, "consecutive_losses": 1, "consecutive_rejections": 0},
    }
    rows = {r["name"]: r for r in v.limits_view(limits(), risk, [{"qty": "-20", "market_value": "-2500"}])}
    assert rows["total exposure ($)"] == {"name": "total exposure ($)", "used": "2500", "allowed": "10000", "pct": 25.0}
    assert rows["largest position ($)"]["pct"] == 50.0
    assert rows["largest position (shares)"]["used"] == "20"
    assert rows["daily loss ($)"]["pct"] == 25.0
    assert rows["trades today"]["pct"] == 10.0
    profit = {r["name"]: r for r in v.limits_view(limits(), {"daily_pnl": "40"}, [])}
    assert profit["daily loss ($)"]["used"] == "0"


def test_venue_view_is_unmistakable() -> None:
    def venue(live: bool, sim: bool, url: str) -> Any:
        return SimpleNamespace(live=live, embedded_sim=sim, trading_url=url)

    assert v.venue_view(venue(False, True, "http://127.0.0.1:1"))["kind"] == "sim"
    assert v.venue_view(venue(False, False, "https://paper-api.alpaca.markets"))["kind"] == "paper"
    assert v.venue_view(venue(True, False, "https://api.alpaca.markets"))["kind"] == "live"


def test_services_view_heartbeat_age_and_counters() -> None:
    rows = v.services_view(
        {"risk_manager": {"running": True, "ready": True, "pid": 7, "uptime_s": 12.0}},
        {"risk_manager": (T0 - 1_500_000_000, "ok")},
        {"risk_manager": {"bus_seq_gaps_total": 2.0, "bus_messages_dropped_total": 1.0, "trading_errors_total": 3.0}},
        T0,
        ["risk_manager", "market_data"],
    )
    assert rows[0] | {} == {
        "name": "risk_manager",
        "up": True,
        "pid": 7,
        "uptime_s": 12.0,
        "heartbeat_age_s": 1.5,
        "heartbeat": "ok",
        "bus_gaps": 2,
        "bus_drops": 1,
        "errors": 3,
    }
    assert rows[1]["up"] is False and rows[1]["heartbeat_age_s"] is None
