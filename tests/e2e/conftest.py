"""The whole system as processes (`pyrt up --detach`) in a temporary deployment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.deploy import FAST_STRATEGIES, REPO, make_deployment

PYRT = [sys.executable, "-m", "pyrt"]


class System:
    def __init__(self, root: Path, config_dir: Path) -> None:
        self.root = root
        self.config_dir = config_dir
        self.env = {**os.environ, "PYRT_CONFIG_DIR": str(config_dir)}

    def pyrt(
        self, *args: str, timeout: float = 120, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*PYRT, *args, "--config-dir", str(self.config_dir)],
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"pyrt {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def script(
        self, name: str, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = (
            ["bash", str(REPO / "scripts" / name)]
            if name.endswith(".sh")
            else [sys.executable, str(REPO / "scripts" / name)]
        )
        result = subprocess.run(
            [*cmd, *args], cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{name} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[System]:
    root = tmp_path / "root"
    config_dir = make_deployment(
        root, system={"signals": {"strategies": FAST_STRATEGIES}, "sim_broker": {"quotes_per_second": 10, "seed": 11}}
    )
    system = System(root, config_dir)
    try:
        yield system
    finally:
        system.pyrt("down", "--grace", "5", check=False, timeout=90)


def fast_system_overrides() -> dict[str, Any]:
    return {"signals": {"strategies": FAST_STRATEGIES}}
