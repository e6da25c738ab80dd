"""Run a sim broker for tests, benchmarks and the supervisor: in a thread of this process
(fast, for tests) or as its own process (for restart and SIGKILL tests). Both bind a free
port and return once it is listening."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import uvicorn

from pyrt.simbroker.app import build_app, build_source
from pyrt.simbroker.broker import DEFAULT_KEY_ID, DEFAULT_SECRET, SimBroker, SimBrokerOptions


class InThreadSimBroker:
    """A sim broker on a free port in a background thread; use as a context manager."""

    def __init__(self, opts: SimBrokerOptions) -> None:
        self.opts = replace(opts, port=0)
        self.broker = SimBroker(self.opts, build_source(self.opts))
        config = uvicorn.Config(
            build_app(self.broker),
            host=self.opts.host,
            port=0,
            log_level="error",
            ws="websockets-sansio",
            http="httptools",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="sim-broker", daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> InThreadSimBroker:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("sim broker did not start")
            time.sleep(0.005)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self.broker.close()


class SimBrokerProcess:
    """`pyrt sim-broker` as a child process on a free port."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
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
        cmd = [sys.executable, "-m", "pyrt", "sim-broker", "--port", str(self.port), "--data-dir", str(self.data_dir),
               "--ready-file", str(ready), *self.args]
        env = {**os.environ, **(self.env or {})}
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout_s
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"sim broker exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
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


DEFAULT_KEYS = (DEFAULT_KEY_ID, DEFAULT_SECRET)
