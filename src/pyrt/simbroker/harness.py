"""Run `pyrt sim-broker` as a child process on a free port, for restart and SIGKILL tests
and the benchmarks; it returns once the broker listens. (Tests that want one in a thread
of their own process use tests/support/sim.py's InThreadSimBroker.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyrt.config.secrets import DEFAULT_SIM_KEY_ID, DEFAULT_SIM_SECRET


class SimBrokerProcess:
    """`pyrt sim-broker` as a child process on a free port."""

    def __init__(
        self, data_dir: Path, *args: str, env: dict[str, str] | None = None, log_path: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.env = env
        self.log_path = log_path or data_dir / "sim_broker.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> SimBrokerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ready = self.data_dir / "sim_broker.port"
        ready.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "pyrt",
            "sim-broker",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--ready-file",
            str(ready),
            *self.args,
        ]
        env = {**os.environ, **(self.env or {})}
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout_s
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"sim broker exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("sim broker did not become ready")
            time.sleep(0.02)
        self.port = int(ready.read_text().strip())
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None


DEFAULT_KEYS = (DEFAULT_SIM_KEY_ID, DEFAULT_SIM_SECRET)
"""The local key pair a sim broker accepts by default, as (key id, secret)."""
