"""The operations guide's "Restore from Critical Failure", end to end, exactly as written
(plus the token header the control API needs), on the built-in sim broker:

    1. ./scripts/stop_trading_system.sh
    2. ./scripts/verify_data_integrity.sh
    3. ./scripts/restore_from_backup.sh --date <today> --time <HH:MM>   (answered `y`)
    4. python scripts/reconcile_positions.py
    5. ./scripts/start_trading_system.sh --safe-mode
    6. ./scripts/health_check.sh
    7. curl -X POST .../api/v1/trading/enable

The sim broker is the venue: the stop leaves its state on disk, step 4 reaches it although
the system is stopped, and the restore does not roll it back. A manual trade after the
backup makes the restored journal lag behind the broker, so step 4 shows the discrepancy
and names the command that adopts the broker's positions; step 6 fails with a distinct
code naming it too. The operator runs the named command, step 6 passes, step 7 resumes
trading, and an order is approved and filled, sent with the token read before the restore."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import requests

from tests.support.deploy import REPO, wait_for

from .conftest import System
from .test_emergency import Operator

ADOPT = "python scripts/reconcile_positions.py --apply --yes"


def restore(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    """The guide's step 3 at a terminal-less shell, the operator answering `y`."""
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "restore_from_backup.sh"), *args],
        cwd=system.root,
        env=system.env,
        input="y\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def manual_buy(system: System, qty: int, reason: str) -> str:
    trade = system.script(
        "manual_trade.py", "--symbol", "AAPL", "--action", "buy", "--quantity", str(qty), "--order-type", "market",
        "--reason", reason,
    )  # fmt: skip
    coid = next(line.split()[1] for line in trade.stdout.splitlines() if line.startswith("client_order_id:"))
    wait_for(lambda: "status: filled" in system.script("check_order.py", "--order-id", coid).stdout, 15, "the fill")
    return coid


def test_restore_from_critical_failure(deployment: System) -> None:
    system = deployment
    op = Operator(system)
    system.script("start_trading_system.sh", "--safe-mode", timeout=120)
    manual_buy(system, 3, "before the backup")
    backup = system.script("backup_system.sh")
    assert "backup written" in backup.stdout
    manual_buy(system, 5, "after the backup")  # the broker knows it; the backup does not
    token = (system.root / "data" / "api_token").read_text().strip()

    # 1-3: stop, check, restore the backup of the last minute
    system.script("stop_trading_system.sh")
    system.script("verify_data_integrity.sh")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    restored = restore(system, "--date", until.date().isoformat(), "--time", until.strftime("%H:%M"))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "kept the sim broker's state as it is" in restored.stdout
    assert (system.root / "data" / "api_token").read_text().strip() == token  # the token survived

    # 4: the venue answers while we are stopped; the restored journal lags behind it
    rec = system.script("reconcile_positions.py", check=False)
    assert rec.returncode == 1, rec.stdout + rec.stderr
    lines = rec.stdout.splitlines()
    assert lines[0] == "Reconciling positions with Alpaca..."
    assert "- AAPL local 3" in lines and "+ AAPL broker 8" in lines
    assert "Status: MISMATCH" in lines
    assert lines[-1].startswith("Next: to adopt the broker's positions as ours, start the system") and lines[
        -1
    ].endswith(f"run: {ADOPT}")

    # 5-6: safe mode; the engine halts on the positions it cannot explain: the health check
    # fails with its own code and names the command
    system.script("start_trading_system.sh", "--safe-mode", check=False, timeout=120)
    # (the engine halts first; the risk manager's breaker trips when its integrity alert lands)
    health = wait_for(
        lambda: (
            (h := system.script("health_check.sh", check=False)).returncode == 4
            and f"→ Next: adopt the broker's positions: {ADOPT}" in h.stdout
            and "✗ Trading blocked: circuit breaker active (position_mismatch" in h.stdout
            and h
        ),
        30,
        "the health check to name the breaker and the adoption",
        0.5,
    )
    adopted = system.script("reconcile_positions.py", "--apply", "--yes")  # the command it named
    assert adopted.stdout.splitlines()[-1] == "Status: OK", adopted.stdout
    health = wait_for(
        lambda: (h := system.script("health_check.sh", check=False)).returncode == 0 and h, 30, "a healthy system", 0.5
    )
    assert "Signal bridge in safe mode" in health.stdout

    # 7: resume; nothing else blocks, and an order sent with the pre-restore token fills
    res = op.curl(
        'curl -s -X POST -H "Authorization: Bearer $(cat data/api_token)" localhost:<api>/api/v1/trading/enable'
    )
    enabled = json.loads(res.stdout)
    assert enabled["ok"] is True and enabled["blocked_by"] == [], enabled
    order = requests.post(
        op.api + "/api/v1/orders",
        json={"symbol": "AAPL", "side": "buy", "qty": "1", "order_type": "market", "reason": "after the restore"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert order.status_code == 201, order.text
    coid = order.json()["client_order_id"]
    filled = wait_for(
        lambda: (o := op.get(f"/api/v1/orders/{coid}"))["status"] == "filled" and o, 15, "the order to fill", 0.2
    )
    assert filled["filled_qty"] == "1"
    # trading is on again, so the strategies may trade AAPL too: the position is not 8 + 1 for
    # sure, but ours and the broker's agree (the guide's own check)
    final = wait_for(
        lambda: (r := system.script("reconcile_positions.py", check=False)).returncode == 0 and r, 30, "agreement", 0.5
    )
    assert final.stdout.splitlines()[-1] == "Status: OK", final.stdout
