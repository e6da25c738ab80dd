"""Fixtures: a temporary deployment whose services are the fake service module, a `pyrt`
runner, and a clean-up that kills every process started for the deployment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.deploy import REPO, make_deployment, wait_for

FAKE = "tests.integration.supervisor.fake_service"
SERVICES = ("market_data", "risk_manager", "execution_engine", "signal_bridge")


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains `text` (this process excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


@dataclass
class Deployment:
    """A deployment in a temporary directory, with helpers to drive it through `pyrt`."""

    root: Path
    config_dir: Path
    events: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def module_args(self) -> list[str]:
        return [arg for s in SERVICES for arg in ("--service-module", f"{s}={FAKE}")]

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "pyrt", *args, "--config-dir", str(self.config_dir)]

    def pyrt(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a pyrt command to completion."""
        return subprocess.run(
            self.command(*args), check=False, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """Start a pyrt command in the background (killed at clean-up)."""
        proc = subprocess.Popen(
            self.command(*args), cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.procs.append(proc)
        return proc

    def up(self, *extra: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return self.pyrt("up", *self.module_args(), *extra, timeout=timeout)

    def spawn_up(self, *extra: str) -> subprocess.Popen[str]:
        return self.spawn("up", *self.module_args(), *extra)

    def event_list(self) -> list[tuple[str, str]]:
        """(event, service) in the order they happened."""
        if not self.events.exists():
            return []
        rows = [line.split() for line in self.events.read_text().splitlines() if line.strip()]
        return [(r[0], r[1]) for r in sorted(rows, key=lambda r: float(r[2]))]

    def pid(self, name: str) -> int:
        return int((self.run_dir / f"{name}.pid").read_text())

    def ready(self, name: str) -> bool:
        return (self.run_dir / f"{name}.ready").exists()

    def pid_files(self) -> list[str]:
        return sorted(p.name for p in self.run_dir.glob("*.pid")) if self.run_dir.exists() else []

    def set_system(self, **sections: dict[str, object]) -> None:
        """Replace fields of system.json sections (before `up`)."""
        path = self.config_dir / "system.json"
        cfg = json.loads(path.read_text())
        for name, fields in sections.items():
            cfg.setdefault(name, {}).update(fields)
        path.write_text(json.dumps(cfg, indent=2))

    def wait_ready(self, *names: str, timeout: float = 20) -> None:
        for name in names:
            wait_for(lambda n=name: self.ready(n), timeout, f"{name} ready")


def _deployment(root: Path, embedded_sim: bool) -> Deployment:
    config_dir = make_deployment(root, sim_url=None if embedded_sim else "http://127.0.0.1:9")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_", "PYRT_", "APCA_", "ALPACA_"))}
    events = root / "events.txt"
    env.update(FAKE_EVENTS=str(events), PYTHONPATH=str(REPO))
    return Deployment(root, config_dir, events, env)


def _kill_everything(dep: Deployment) -> None:
    for proc in dep.procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    for pid in processes_mentioning(str(dep.config_dir)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not processes_mentioning(str(dep.config_dir)), 10, "leftover processes to die")


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    """Fake services, no sim broker (the venue points elsewhere): five processes."""
    dep = _deployment(tmp_path, embedded_sim=False)
    yield dep
    _kill_everything(dep)


@pytest.fixture
def sim_deployment(tmp_path: Path) -> Iterator[Deployment]:
    """Fake services and the real embedded sim broker: six processes."""
    dep = _deployment(tmp_path, embedded_sim=True)
    yield dep
    _kill_everything(dep)
