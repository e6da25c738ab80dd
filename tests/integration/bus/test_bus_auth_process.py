"""Through a real risk-manager process (review S1): a process without the bus key can
neither send an order intent nor switch the breaker; it is refused, counted in
bus_auth_failures_total and nothing changes. A holder of the key is served, and its
breaker command is audited."""

from __future__ import annotations

import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from pyrt.bus import schema as wire
from pyrt.bus.security import for_config
from pyrt.bus.zmq import RequestClient
from pyrt.config import load_config
from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent
from pyrt.ops.audit import AuditLog
from pyrt.ops.status import read_ready_info
from tests.support.deploy import make_deployment, wait_for

pytestmark = pytest.mark.timeout(90)


def failures(port: int) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("bus_auth_failures_total{") and 'side="server"' in line
    )


def test_a_process_without_the_key_is_refused_counted_and_changes_nothing(tmp_path: Path) -> None:
    config_dir = make_deployment(tmp_path / "root")
    cfg = load_config(config_dir)
    with (tmp_path / "risk.out").open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyrt.services.risk.service", str(config_dir)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        ready = wait_for(lambda: read_ready_info(cfg, "risk_manager") or proc.poll() is not None, 30, "risk ready")
        assert proc.poll() is None, (tmp_path / "risk.out").read_text()
        port = ready["metrics_port"]
        endpoint = cfg.system.risk.intent_endpoint
        audit = AuditLog(cfg.system.execution.journal_path)
        intent = OrderIntent(
            intent_id="evil-1",
            strategy="attacker",
            symbol="AAPL",
            side=OrderSide.BUY,
            qty=Decimal(1590),
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            limit_price=None,
            ts_ns=0,
        )
        with RequestClient(endpoint, timeout_ms=500, security=None) as attacker:
            for payload in (
                wire.ControlCommand("breaker_deactivate", {"force": "true"}, "attack", "attacker"),
                wire.ControlCommand("breaker_activate", {"mode": "HALTED"}, "attack", "attacker"),
                wire.OrderIntentMsg(intent),
            ):
                with pytest.raises(wire.RequestTimeout):
                    attacker.request(payload)
        wait_for(lambda: failures(port) > 0, 10, "refusals counted by the risk manager")
        log = (tmp_path / "root" / "logs" / "risk_manager.log").read_text()
        assert "refused a peer" in log and "without the system key" in log
        assert "risk_checks_performed_total 0.0" in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text

        with RequestClient(endpoint, timeout_ms=5000, security=for_config(cfg)) as operator:
            status = operator.request(wire.ControlCommand("status", {}, "", "pytest")).payload
            assert status.ok and not status.data["breaker"]["active"]  # the attacker changed nothing
            assert audit.entries() == []  # refused commands never reached the handler
            result = operator.request(
                wire.ControlCommand("breaker_activate", {"mode": "HALTED"}, "drill", "pytest")
            ).payload
            assert result.ok and result.data["breaker"]["active"]
        [entry] = audit.entries()
        assert entry["who"] == "pytest" and entry["from"] == "bus -> risk_manager"
        assert entry["action"] == "breaker_activate" and entry["reason"] == "drill"
        assert not entry["before"]["breaker"]["active"] and entry["after"]["breaker"]["active"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def test_a_service_holding_the_journal_audits_through_it(tmp_path: Path) -> None:
    """The execution engine keeps the journal open (one writer per process): its bus
    commands are audited through that writer; reads are not audited."""
    from types import SimpleNamespace

    from pyrt.persistence.journal import Journal
    from pyrt.services.runtime import audit_bus_command

    path = tmp_path / "journal.db"
    cfg = SimpleNamespace(system=SimpleNamespace(execution=SimpleNamespace(journal_path=path)))
    halt, done = wire.ControlCommand("halt", {}, "drill", "ops"), wire.ControlResult(True, "halted")
    with Journal(path) as journal:
        assert audit_bus_command(cfg, "execution_engine", halt, done, {"halted": False}, {"halted": True}, journal)
        assert not audit_bus_command(
            cfg, "execution_engine", wire.ControlCommand("status", {}, "", "ops"), done, journal=journal
        )
    [entry] = AuditLog(path).entries()
    assert (entry["who"], entry["from"], entry["action"], entry["after"]) == (
        "ops",
        "bus -> execution_engine",
        "halt",
        {"halted": True},
    )
