"""The execution engine as its own process (`python -m pyrt.services.execution.service`),
optionally with failpoints armed: what the crash tests and the fault matrix kill and restart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pyrt.config import load_config
from pyrt.ops.status import read_ready_info
from tests.support.deploy import wait_for


class EngineProcess:
    """`python -m pyrt.services.execution.service` with optional failpoints armed."""

    def __init__(self, config_dir: Path, failpoints: str = "") -> None:
        self.cfg = load_config(config_dir)
        (self.cfg.system.paths.run_dir / "execution_engine.ready").unlink(missing_ok=True)
        self.out = config_dir.parent / "engine.out"
        env = {**os.environ, "PYRT_FAILPOINTS": failpoints}
        with open(self.out, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pyrt.services.execution.service", str(config_dir)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(
            lambda: read_ready_info(self.cfg, "execution_engine") or self.proc.poll() is not None, 60, "engine ready"
        )
        assert self.proc.poll() is None, self.out.read_text()[-2000:]

    def wait_exit(self, timeout: float = 15) -> int:
        return self.proc.wait(timeout)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
