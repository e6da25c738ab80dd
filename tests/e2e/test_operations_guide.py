"""The operations guide's "Restore from Critical Failure", end to end with its scripts:

    1. ./scripts/stop_trading_system.sh
    2. ./scripts/verify_data_integrity.sh
    3. ./scripts/restore_from_backup.sh --date <today>   (a backup taken while trading)
    4. python scripts/reconcile_positions.py
    5. ./scripts/start_trading_system.sh --safe-mode
    6. ./scripts/health_check.sh
    7. curl -X POST .../api/v1/trading/enable

The broker is a sim broker process of its own (like Alpaca, it is not rolled back by our
restore), and a manual trade after the backup makes the restored journal lag behind it:
step 4 shows the discrepancy, and the operator adopts the broker's positions
(`reconcile_positions.py --apply --yes`) before the health check and resuming."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrt.simbroker.harness import SimBrokerProcess
from tests.support.deploy import FAST_STRATEGIES, make_deployment, wait_for

from .conftest import System
from .test_emergency import Operator, loose_risk_limits


@pytest.fixture
def with_exchange(tmp_path: Path) -> Iterator[System]:
    exchange = SimBrokerProcess(
        tmp_path / "exchange", "--seed", "11", "--quotes-per-second", "10", "--rate-limit", "0"
    ).start()
    root = tmp_path / "root"
    config_dir = make_deployment(
        root, sim_url=exchange.url, risk_toml=loose_risk_limits(), system={"signals": {"strategies": FAST_STRATEGIES}}
    )
    system = System(root, config_dir)
    try:
        yield system
    finally:
        system.pyrt("down", "--grace", "5", check=False, timeout=90)
        exchange.stop()


def test_restore_from_critical_failure(with_exchange: System) -> None:
    system = with_exchange
    op = Operator(system)
    system.script("start_trading_system.sh", timeout=120)
    wait_for(lambda: op.intents() >= 2, 60, "the strategies to trade", 0.2)
    backup = system.script("backup_system.sh")  # while trading
    assert "backup written" in backup.stdout
    trade = system.script(
        "manual_trade.py",
        "--symbol",
        "AAPL",
        "--action",
        "buy",
        "--quantity",
        "5",
        "--order-type",
        "market",
        "--reason",
        "after the backup",
    )
    coid = next(line.split()[1] for line in trade.stdout.splitlines() if line.startswith("client_order_id:"))
    wait_for(lambda: "status: filled" in system.script("check_order.py", "--order-id", coid).stdout, 15, "the fill")

    # 1-3: stop, check, restore the backup of today
    system.script("stop_trading_system.sh")
    system.script("verify_data_integrity.sh")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    system.script("restore_from_backup.sh", "--date", today, "--yes")

    # 4: the restored journal does not know the trades since the backup
    rec = system.script("reconcile_positions.py", check=False)
    assert rec.returncode == 1, rec.stdout + rec.stderr
    lines = rec.stdout.splitlines()
    assert lines[0] == "Reconciling positions with Alpaca..."
    assert lines[-1] == "Status: MISMATCH"
    assert any(line.startswith("- AAPL local") for line in lines)
    assert any(line.startswith("+ AAPL broker") for line in lines)
    assert system.script("reconcile_positions.py", "--apply", check=False).returncode != 0  # nothing runs yet

    # 5: safe mode; adopt the broker's positions (audited), then the health check passes
    system.script("start_trading_system.sh", "--safe-mode", check=False, timeout=120)
    # the engine finds the broker's positions unexplained: it halts and keeps announcing it until
    # adopted, so the risk manager's breaker trips however late its subscription joined
    tripped = wait_for(
        lambda: (b := op.get("/api/v1/status")["circuit_breaker"])["active"] and b,
        15,
        "the breaker to trip on the mismatch",
        0.2,
    )
    assert tripped["trigger"] == "integrity"
    applied = system.script("reconcile_positions.py", "--apply", "--yes")
    assert applied.stdout.splitlines()[-1] == "Status: OK", applied.stdout
    ok = system.script("reconcile_positions.py")
    assert ok.stdout.splitlines()[-2:] == ["Discrepancies: 0", "Status: OK"]
    # the operator's newest audited action is the adoption; the engine audits the command it
    # received too ("from": "bus -> execution_engine"), and every reconcile after it
    audit = op.get("/api/v1/audit", limit=20)
    assert [e["action"] for e in audit if not e["from"].startswith("bus ->")][-1] == "positions.reconcile_apply"
    assert any(
        e["from"] == "bus -> execution_engine"
        and e["action"] == "reconcile"
        and e["result"]["args"].get("apply") == "true"
        for e in audit
    )
    assert op.get("/api/v1/status")["circuit_breaker"]["active"] is False  # the adoption resolved its cause

    # 6-7: healthy; resume automatic trading and the strategies trade again
    health = wait_for(
        lambda: (h := system.script("health_check.sh", check=False)).returncode == 0 and h, 30, "a healthy system", 0.5
    )
    assert "Signal bridge in safe mode" in health.stdout
    before = op.intents()
    res = op.curl(
        'curl -s -X POST -H "Authorization: Bearer $(cat data/api_token)" localhost:<api>/api/v1/trading/enable'
    )
    assert json.loads(res.stdout)["ok"] is True, res
    wait_for(lambda: op.intents() > before, 60, "the strategies to trade again", 0.2)
