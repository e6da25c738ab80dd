"""The process names, their start order and their pid/ready files have one home
(config.system); ops.status and the service runtime use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pyrt.config.system import CONTROL, SERVICE_NAMES, SIM_BROKER, START_ORDER, TRADING_SERVICES, PathsConfig


def test_start_order_holds_every_service_once_between_venue_and_control() -> None:
    assert START_ORDER[0] == SIM_BROKER and START_ORDER[-1] == CONTROL
    assert sorted(START_ORDER[1:-1]) == sorted(SERVICE_NAMES)
    assert START_ORDER[1:-1] == TRADING_SERVICES


def test_pid_and_ready_files_are_named_by_the_paths_config(tmp_path: Path) -> None:
    paths = PathsConfig.model_validate({"run_dir": "run"}, context={"root": tmp_path})
    assert paths.pid_file("risk_manager") == tmp_path / "run" / "risk_manager.pid"
    assert paths.ready_file(CONTROL) == tmp_path / "run" / "control.ready"


def test_the_service_runtime_does_not_import_ops_status() -> None:
    """Every service process imports the runtime; it must not pull in ops (and its gateway)."""
    code = "import sys, pyrt.services.runtime; print(sorted(m for m in sys.modules if m.startswith('pyrt.ops')))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"
