"""Self-healing under `pyrt up` (issue 14): each process of the real system is killed in turn
(SIGKILL) and the supervisor brings it back by itself; after each, an order goes through
risk, the execution engine and the broker and is filled, and at the end the invariant
checker finds nothing lost, duplicated or drifted between the journal and the broker."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from decimal import Decimal
from typing import Any

from pyrt.config import load_config
from pyrt.domain.orders import OrderState
from pyrt.ops.audit import Caller
from pyrt.ops.facade import ControlFacade
from pyrt.ops.invariants import check_deployment, read_journal
from pyrt.ops.status import read_pid, read_ready_info
from tests.support.deploy import wait_for

from .conftest import System

KILLED_IN_TURN = ("execution_engine", "risk_manager", "market_data", "signal_bridge", "control", "sim_broker")
TESTER = Caller("e2e-self-healing", "tests")


def _pid(cfg: Any, name: str) -> int | None:
    return read_pid(cfg.system.paths.pid_file(name))


def _back(cfg: Any, name: str, old: int) -> bool:
    """`name` runs again in a new process that is ready."""
    info = read_ready_info(cfg, name) or {}
    pid = _pid(cfg, name)
    return pid is not None and pid != old and (name == "sim_broker" or info.get("pid") == pid)


def _filled(cfg: Any, coid: str) -> bool:
    order = read_journal(cfg.system.execution.journal_path).proj.orders.get(coid)
    return order is not None and order.state == OrderState.FILLED


def _strategy_orders(cfg: Any) -> list[str]:
    return [c for c in read_journal(cfg.system.execution.journal_path).proj.orders if not c.startswith("manual-")]


def _trade(cfg: Any, facade: ControlFacade, side: str) -> str:
    """An order approved by risk and filled at the broker (retried while a restarted
    service is still catching up: stale prices, a reconnecting stream)."""

    def approved() -> str | None:
        try:
            res = facade.submit_order(TESTER, "AAPL", side, Decimal(1), reason="self-healing e2e")
        except Exception:  # noqa: BLE001 - the risk manager is still starting
            return None
        return str(res["client_order_id"]) if res.get("outcome") == "approved" else None

    coid: str = wait_for(approved, 30, f"a {side} order to be approved", interval=0.3)
    wait_for(lambda: _filled(cfg, coid), 30, f"{coid} to be filled", interval=0.1)
    return coid


def test_each_process_killed_in_turn_comes_back_and_trades(deployment: System) -> None:
    path = deployment.config_dir / "system.json"
    system = json.loads(path.read_text())
    system["supervisor"].update(restart_delay_s=0.1, restart_limit=2)
    path.write_text(json.dumps(system, indent=2))
    cfg = load_config(deployment.config_dir, env=deployment.env)
    deployment.pyrt("up", "--detach", timeout=120)
    facade = ControlFacade(cfg)

    manual = [_trade(cfg, facade, "buy")]
    for i, name in enumerate(KILLED_IN_TURN):
        old = _pid(cfg, name)
        assert old is not None, f"{name} is not running"
        os.kill(old, signal.SIGKILL)
        wait_for(lambda n=name, o=old: _back(cfg, n, o), 60, f"{name} to be back", interval=0.05)
        if name == "execution_engine":  # it replayed its journal and reconciled before it was ready
            assert not (read_ready_info(cfg, name) or {}).get("halted", "?")
        manual.append(_trade(cfg, facade, "sell" if i % 2 == 0 else "buy"))

    # ... and the strategies trade by themselves after all of it
    before = set(_strategy_orders(cfg))
    wait_for(lambda: set(_strategy_orders(cfg)) - before, 60, "a strategy order after the restarts", interval=0.2)

    status = json.loads(deployment.pyrt("status", "--json").stdout)
    assert status["all_running"]
    assert {s["name"]: s["restarts"] for s in status["services"]} == dict.fromkeys(KILLED_IN_TURN, 1)
    gateway = f"http://127.0.0.1:{cfg.system.metrics.gateway}/metrics"
    with urllib.request.urlopen(gateway, timeout=5) as response:
        lines = response.read().decode().splitlines()
    assert 'supervisor_restarts_total{service="execution_engine"} 1' in lines

    report = check_deployment(cfg)
    assert report.ok, report.line()
    journal = read_journal(cfg.system.execution.journal_path).proj
    assert all(journal.orders[c].state == OrderState.FILLED for c in manual)
    log = (cfg.system.paths.logs_dir / "execution_engine.log").read_text()
    assert log.count("journal replayed") == 2 and log.count("reconciliation done") == 2
