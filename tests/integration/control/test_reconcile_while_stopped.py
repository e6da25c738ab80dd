"""Step 4 of the guide's Restore from Critical Failure runs while the system is stopped:
`python scripts/reconcile_positions.py` reaches the built-in sim broker (started from its
own state for the command, stopped after), instead of failing with a ConnectionError."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pyrt.config import load_config
from pyrt.ops.status import live_pid
from tests.support.deploy import REPO, make_deployment


def test_reconcile_reaches_the_stopped_sim_broker_and_leaves_nothing_running(tmp_path: Path) -> None:
    root = tmp_path / "root"
    config_dir = make_deployment(root)
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "reconcile_positions.py")],
        cwd=root,
        env={**os.environ, "PYRT_CONFIG_DIR": str(config_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "Reconciling positions with Alpaca...",
        "Local positions: 0",
        "Exchange positions: 0",
        "Discrepancies: 0",
        "Status: OK",
    ]
    assert "started the sim broker from its own state for this command" in result.stderr
    assert "(compared journal (execution engine not running))" in result.stderr
    cfg = load_config(config_dir)
    assert live_pid(cfg, "sim_broker") is None and not cfg.system.paths.ready_file("sim_broker").exists()
    assert (root / "data" / "sim_broker").is_dir()  # its own state, kept for the next start
