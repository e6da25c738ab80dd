"""The operator CLI (in process over the control facade) on the real order path: manual
trades through risk with their exit codes, order status with fills, the guide's
reconciliation report, breaker and trading switches, cancel-all, liquidation (dry run and
confirmed), the emergency stop's timed steps, and the audit entries (cli:<user> from
cli@<host>, one per action)."""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Callable
from typing import Any

from click.testing import Result

from pyrt.ops.commands.control import RESUME_ADVICE
from pyrt.ops.commands.trading import reconcile_lines
from pyrt.ops.facade import ControlFacade
from tests.integration.api.order_path import OrderPath
from tests.support.deploy import wait_for

Pyrt = Callable[..., Result]
TRADE = ("trade", "--symbol", "AAPL", "--action", "buy")


def last_audit(system: OrderPath) -> dict[str, Any]:
    return ControlFacade(system.cfg).audit.entries(1)[0]


def coid_of(result: Result) -> str:
    return next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("client_order_id:"))


def test_trade_order_reconcile_liquidate(pyrt: Pyrt, system: OrderPath) -> None:
    count = system.audit_count()
    r = pyrt(*TRADE, "--quantity", "3", "--order-type", "market", "--reason", "cli test")
    assert r.exit_code == 0, r.output
    assert "APPROVED by risk: buy 3 AAPL market" in r.stdout
    coid = coid_of(r)
    entry = last_audit(system)
    assert system.audit_count() == count + 1
    assert entry["action"] == "order.submit" and entry["reason"] == "cli test"
    assert entry["who"] == f"cli:{getpass.getuser()}" and entry["from"] == f"cli@{socket.gethostname()}"
    wait_for(lambda: system.positions().get("AAPL") == 3, 10, "the order filled")

    r = wait_for(
        lambda: (res := pyrt("order", "--order-id", coid)).exit_code == 0 and "fill 3" in res.stdout and res,
        10,
        "the fill in the journal",
    )
    assert "status: filled" in r.stdout and "filled: 3 of 3, average price: 100.02" in r.stdout
    assert pyrt("order", "--order-id", "nope").exit_code == 1

    r = pyrt("reconcile")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        "Reconciling positions with Alpaca...",
        "Local positions: 1",
        "Exchange positions: 1",
        "Discrepancies: 0",
        "Status: OK",
    ]

    count = system.audit_count()
    r = pyrt("liquidate")
    assert r.exit_code == 0 and "DRY RUN" in r.stdout and "sell 3 AAPL" in r.stdout
    assert system.positions() == {"AAPL": 3} and system.audit_count() == count
    r = pyrt("liquidate", "--confirm", "--reason", "cli test")
    assert r.exit_code == 0, r.output
    assert "0 positions left" in r.stdout and "final: cash" in r.stdout
    assert system.positions() == {} and system.audit_count() == count + 1


def test_denied_and_invalid_trades(pyrt: Pyrt, system: OrderPath) -> None:
    before = system.all_order_ids()
    r = pyrt(*TRADE, "--quantity", "5000", "--order-type", "market")
    assert r.exit_code == 1
    assert "DENIED by risk" in r.stdout and "MAX_ORDER_SIZE" in r.stdout
    count = system.audit_count()
    assert pyrt(*TRADE, "--quantity", "1", "--order-type", "limit").exit_code == 2  # no --limit-price
    assert pyrt(*TRADE, "--quantity", "-1", "--order-type", "market").exit_code == 2
    assert pyrt("trade", "--symbol", "AAPL", "--action", "hold", "--quantity", "1").exit_code == 2
    assert system.audit_count() == count and system.all_order_ids() == before


def test_breaker_and_trading_switches(pyrt: Pyrt, system: OrderPath) -> None:
    facade = ControlFacade(system.cfg)
    r = pyrt("breaker", "activate", "--reason", "cli test")
    assert r.exit_code == 0 and "active" in r.stdout, r.output
    r = pyrt(*TRADE, "--quantity", "1", "--order-type", "market")
    assert r.exit_code == 1 and "CIRCUIT_BREAKER_ACTIVE" in r.stdout
    count = system.audit_count()
    r = pyrt("breaker", "deactivate")
    assert r.exit_code == 1 and "reason is required" in r.stderr
    assert system.audit_count() == count
    r = pyrt("breaker", "deactivate", "--reason", "resolved", "--force")
    assert r.exit_code == 0, r.output
    assert facade.command("risk_manager", "status").data["breaker"]["active"] is False

    assert pyrt("trading", "disable", "--reason", "cli test").exit_code == 0
    assert facade.command("signal_bridge", "status").data["trading_enabled"] is False
    assert pyrt("trading", "enable").exit_code == 0
    assert facade.command("signal_bridge", "status").data["trading_enabled"] is True
    entries = facade.audit.entries(10)  # the services audit each command they receive over the bus, too
    actions = [e["action"] for e in entries if not e["from"].startswith("bus -> ")]
    assert actions[-3:] == ["circuit_breaker.deactivate", "trading.disable", "trading.enable"]
    assert [e["action"] for e in entries if e["from"] == "bus -> signal_bridge"][-2:] == ["set_trading_enabled"] * 2


def test_cancel_all_and_emergency_stop(pyrt: Pyrt, system: OrderPath) -> None:
    facade = ControlFacade(system.cfg)
    for price in ("96", "97"):
        r = pyrt(*TRADE, "--quantity", "1", "--order-type", "limit", "--limit-price", price, "--tif", "gtc")
        assert r.exit_code == 0, r.output
    wait_for(lambda: len(system.open_order_ids()) == 2, 10, "two resting orders")
    r = pyrt("cancel-all", "--reason", "cli test")
    assert r.exit_code == 0 and r.stdout.startswith("0 open orders left"), r.output
    assert system.open_order_ids() == []

    assert pyrt(*TRADE, "--quantity", "1", "--order-type", "limit", "--limit-price", "96").exit_code == 0
    wait_for(lambda: len(system.open_order_ids()) == 1, 10, "a resting order")
    try:
        r = pyrt("emergency-stop", "--keep-services", "--reason", "cli test")
        assert r.exit_code == 0, r.output
        lines = r.stdout.splitlines()
        assert lines[0] == "EMERGENCY STOP: cli test"
        assert [line.split()[1] for line in lines[1:4]] == ["halt_trading", "cancel_orders", "notify"]
        assert all(line.split()[3] == "ms" and line.split()[4] == "ok" for line in lines[1:4])
        assert "0 open orders left at the broker" in lines[2]
        assert lines[4].endswith("the broker confirms zero open orders")
        assert lines[5:] == list(RESUME_ADVICE)  # then how to resume
        assert system.open_order_ids() == []
        assert last_audit(system)["action"] == "emergency_stop"
    finally:
        facade.command("execution_engine", "resume", reason="test over")
        facade.command("risk_manager", "breaker_deactivate", reason="test over", force="true")
        facade.command("signal_bridge", "set_trading_enabled", reason="test over", enabled="true")


def test_audit_listing(pyrt: Pyrt, system: OrderPath) -> None:
    assert pyrt("trading", "enable", "--reason", "for the audit").exit_code == 0
    r = pyrt("audit", "-n", "2", "--json")
    assert r.exit_code == 0
    entries = json.loads(r.stdout)
    assert len(entries) == 2 and entries[-1]["action"] == "trading.enable"
    assert entries[-1]["reason"] == "for the audit" and entries[-1]["who"].startswith("cli:")
    r = pyrt("audit", "-n", "2")
    assert len(r.stdout.splitlines()) == 2 and "trading.enable" in r.stdout.splitlines()[-1]


def test_reconcile_report_lines() -> None:
    lines, count = reconcile_lines(
        {
            "ok": False,
            "local_positions": {"AAPL": "10", "MSFT": "5"},
            "broker_positions": {"AAPL": "12", "MSFT": "5"},
            "position_diffs": {"AAPL": {"local": "10", "broker": "12"}},
            "orders_only_local": ["ours-1"],
            "orders_only_broker": ["theirs-1"],
        }
    )
    assert count == 3
    assert lines == [
        "Reconciling positions with Alpaca...",
        "Local positions: 2",
        "Exchange positions: 2",
        "Discrepancies: 3",
        "- AAPL local 10",
        "+ AAPL broker 12",
        "- order ours-1 open locally, not at the broker",
        "+ order theirs-1 open at the broker, not locally",
        "Status: MISMATCH",
    ]
