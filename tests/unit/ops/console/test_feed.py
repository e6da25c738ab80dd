"""The console feed: what each bus message does to the state (a fill, a denial and an alert
are there at once with a new version; heartbeats feed the service rows), and one refresh
through a facade."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from pyrt.bus import schema as wire
from pyrt.domain.enums import OrderSide, ReportEvent
from pyrt.domain.intents import RiskDecision
from pyrt.ops.console.feed import ConsoleFeed, sum_counters

T = 1_796_000_000 * 10**9


class FakeAudit:
    def entries(self, limit: int) -> list[dict[str, Any]]:
        return [{"action": "trading.disable", "who": "admin"}, {"action": "trading.enable", "who": "admin"}][:limit]


class FakeFacade:
    audit = FakeAudit()

    def status(self) -> dict[str, Any]:
        return {
            "services": {"risk_manager": {"running": True, "ready": True, "pid": 1, "uptime_s": 3.0}},
            "risk": {"total_exposure": "100", "daily_pnl": "-10", "breaker": {"active": False, "daily_pnl": "-10"}},
            "trading_state": "ACTIVE",
            "automatic_trading": False,
            "account": {"equity": "1000", "cash": "900", "buying_power": "900"},
        }

    def positions(self) -> list[dict[str, Any]]:
        return [{"symbol": "AAPL", "qty": "1", "market_value": "100", "unrealized_pl": "1"}]

    def orders(self, status: str, limit: int) -> list[dict[str, Any]]:
        raise RuntimeError("engine down")  # one failed read leaves its panel empty

    def journal_fills(self) -> list[Any]:
        return []

    def command(self, service: str, action: str, timeout_ms: int | None = None) -> wire.ControlResult:
        assert (service, action) == ("risk_manager", "recent")
        denial = {"ts_ns": T, "intent_id": "i0", "strategy": "ema", "symbol": "MSFT", "side": "sell", "qty": "3",
                  "reason_code": "REDUCE_ONLY", "message": "held"}  # fmt: skip
        alert = {"ts_ns": T, "kind": "circuit_breaker daily_loss", "mode": "HALTED", "reason": "lost 101"}
        return wire.ControlResult(True, data={"denials": [denial], "alerts": [alert]})


def feed() -> ConsoleFeed:
    limits = SimpleNamespace(
        position_limits=SimpleNamespace(
            max_total_exposure=Decimal(1000),
            max_notional_per_position=Decimal(500),
            max_shares=10,
            max_open_positions=2,
        ),
        loss_limits=SimpleNamespace(max_daily_loss=Decimal(100)),
        circuit_breaker=SimpleNamespace(max_trades_per_day=5, max_consecutive_losses=3, max_consecutive_rejections=3),
    )
    strategies = [SimpleNamespace(name="ml", kind="onnx_model", params={})]
    cfg = SimpleNamespace(
        venue=SimpleNamespace(live=False, embedded_sim=True, trading_url="http://127.0.0.1:1"),
        system=SimpleNamespace(signals=SimpleNamespace(strategies=strategies, model_path="models/m.onnx")),
        risk=limits,
    )
    return ConsoleFeed(cfg, FakeFacade())


def fill_report(coid: str) -> wire.ExecutionReport:
    return wire.ExecutionReport(
        client_order_id=coid,
        strategy="manual",
        symbol="AAPL",
        side=OrderSide.BUY,
        event=ReportEvent.FILL,
        status="filled",
        qty=Decimal(2),
        filled_qty=Decimal(2),
        fill_qty=Decimal(2),
        fill_price=Decimal("101.5"),
    )


def test_a_fill_is_in_the_state_at_once_with_a_new_version() -> None:
    f = feed()
    before = f.version
    f.on_message(fill_report("c1"), T)
    assert f.version == before + 1
    state = f.state()
    assert state["fills"][0] | {} == {
        "time": "2026-11-30T00:53:20.000Z",
        "symbol": "AAPL",
        "side": "buy",
        "qty": "2",
        "price": "101.5",
        "strategy": "manual",
        "client_order_id": "c1",
        "execution_id": "",
    }


def test_a_report_without_a_fill_only_wakes_the_refresh() -> None:
    f = feed()
    report = wire.ExecutionReport(
        client_order_id="c", symbol="AAPL", side=OrderSide.BUY, event=ReportEvent.NEW, status="new", qty=Decimal(1)
    )
    f.on_message(report, T)
    assert f.version == 0 and not f._wake.is_set()  # nobody watches: no refresh
    f.touch()
    f._wake.clear()
    f.on_message(report, T)
    assert f._wake.is_set()  # a page watches: refresh now


def test_denials_alerts_and_heartbeats() -> None:
    f = feed()
    f.on_message(wire.RiskDecisionMsg(RiskDecision(intent_id="i1", approved=True, reason_code="OK")), T)
    f.on_message(
        wire.RiskDecisionMsg(
            RiskDecision(intent_id="i2", approved=False, reason_code="MAX_ORDER_VALUE", message="big"),
            strategy="ema_cross",
            symbol="AAPL",
            side="buy",
            qty=Decimal(500),
        ),
        T,
    )
    f.on_message(wire.IntegrityAlert("overfill", "AAPL", "filled 3 of 2"), T)
    f.on_message(wire.RiskState("HALTED", "daily loss", True, Decimal(-200)), T)
    f.on_message(wire.RiskState("HALTED", "daily loss", True, Decimal(-210)), T)  # still active: no new alert
    f.on_message(wire.Heartbeat("risk_manager", "ok", T), T)
    state = f.state()
    assert [d["reason_code"] for d in state["denials"]] == ["MAX_ORDER_VALUE"]
    assert state["denials"][0]["strategy"] == "ema_cross" and state["denials"][0]["order"] == "buy 500 AAPL"
    assert [a["kind"] for a in state["alerts"]] == ["circuit_breaker", "overfill"]  # newest first
    risk = next(s for s in state["services"] if s["name"] == "risk_manager")
    assert risk["heartbeat"] == "ok" and risk["heartbeat_age_s"] is not None


def test_refresh_reads_the_facade_once_and_keeps_going_past_a_failed_read() -> None:
    f = feed()
    state = f.state()  # not started: reads once
    assert state["trading"]["state"] == "ACTIVE" and state["trading"]["safe_mode"] is True
    assert state["positions"]["totals"] == {"market_value": "100.00", "unrealized_pl": "1.00"}
    assert state["orders"] == []
    assert state["pnl"]["daily"] == "-10.00" and state["pnl"]["loss_used_pct"] == 10.0
    assert state["audit"][0]["action"] == "trading.enable"  # newest first
    assert state["equity_curve"][0][1] == "1000"
    assert state["venue"]["kind"] == "sim"
    assert state["model"] == {"strategies": [{"strategy": "ml", "model_path": "models/m.onnx"}]}
    assert {r["name"] for r in state["limits"]} >= {"total exposure ($)", "daily loss ($)"}


def test_sum_counters_over_labels() -> None:
    text = """# TYPE bus_seq_gaps_total counter
bus_seq_gaps_total 2.0
# TYPE bus_messages_dropped_total counter
bus_messages_dropped_total{reason="malformed"} 1.0
bus_messages_dropped_total{reason="oversized"} 2.0
# TYPE trading_errors_total counter
trading_errors_total{service="x",kind="a"} 4.0
"""
    assert sum_counters(text) == {
        "bus_seq_gaps_total": 2.0,
        "bus_messages_dropped_total": 3.0,
        "trading_errors_total": 4.0,
    }


def test_a_started_feed_shows_the_risk_managers_recent_denials_and_breaker_trips() -> None:
    """After a restart of the control process its own lists are empty: it starts from the
    denials and breaker trips the risk manager keeps."""
    f = feed()
    f.load_history()  # what start() does first
    state = f.state()
    [d] = state["denials"]
    assert (d["strategy"], d["order"], d["reason_code"]) == ("ema", "sell 3 MSFT", "REDUCE_ONLY")
    [a] = state["alerts"]
    assert a["kind"] == "circuit_breaker daily_loss" and a["detail"] == "HALTED: lost 101"
