"""`pyrt health` and `pyrt monitor` (through their scripts) against a fake running system."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.health.fake_system import FakeSystem
from tests.support.deploy import REPO, free_port, make_deployment

TITLES = ("Market Data Service", "Risk Manager", "Execution Engine", "Signal Bridge")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return make_deployment(tmp_path)


@pytest.fixture
def system(config_dir: Path) -> Iterator[FakeSystem]:
    fake = FakeSystem(config_dir)
    try:
        yield fake.start()
    finally:
        fake.close()


def run(args: list[str], timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def health(config_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "pyrt", "health", "--config-dir", str(config_dir), *extra])


def test_healthy_system_passes_through_the_script(system: FakeSystem, config_dir: Path) -> None:
    result = run([str(REPO / "scripts" / "health_check.sh"), "--config-dir", str(config_dir)])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == [f"✓ {t}: HEALTHY (uptime: 1h 1m)" for t in TITLES]
    assert lines[4] == "✓ ZeroMQ Connections: 4/4 active"
    assert re.fullmatch(r"✓ Prometheus Metrics: \d+ data points", lines[5])
    assert all(line.startswith("⚠ Warning: ") for line in lines[6:])


def test_missing_heartbeat_is_unhealthy(config_dir: Path) -> None:
    fake = FakeSystem(config_dir, silent=("execution_engine",)).start()
    try:
        result = health(config_dir, "--probe", "1")
    finally:
        fake.close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ Execution Engine: UNHEALTHY (no heartbeat on the bus in 1.0s)" in result.stdout
    assert "✓ Risk Manager: HEALTHY (uptime: 1h 1m)" in result.stdout
    assert "✗ ZeroMQ Connections: 3/4 active" in result.stdout  # the probe listens to heartbeats, not reports


def test_json_and_warnings(config_dir: Path) -> None:
    fake = FakeSystem(config_dir, status={"signal_bridge": "safe_mode", "execution_engine": "halted"}).start()
    try:
        result = health(config_dir, "--json")
    finally:
        fake.close()
    assert result.returncode == 4, result.stdout + result.stderr  # alive, but a halted engine blocks trading
    data = json.loads(result.stdout)
    assert data["status"] == "degraded" and data["healthy"] is True and data["exit_code"] == 4
    assert data["blocked"] == ["Execution Engine degraded: halted"]
    assert data["services"]["execution_engine"]["state"] == "DEGRADED"
    assert data["services"]["execution_engine"]["reasons"] == ["halted"]
    assert data["services"]["market_data"]["uptime"] == "1h 1m"
    assert data["zmq"] == {"active": 4, "total": 4}
    assert data["metrics"]["source"] == "gateway" and data["metrics"]["data_points"] > 0
    assert "Signal bridge in safe mode (no new orders)" in data["warnings"]
    assert data["duration_s"] < 3.5


def test_nothing_running_fails_fast(config_dir: Path) -> None:
    result = health(config_dir)
    assert result.returncode == 1
    assert "✗ Market Data Service: UNHEALTHY (not running)" in result.stdout
    assert "✗ ZeroMQ Connections: 0/4 active" in result.stdout


def _rates(block: str) -> dict[str, float]:
    found = {}
    for line in block.splitlines():
        m = re.fullmatch(r"(.+): ([\d.]+) msgs/sec, avg latency: ([\d.]+)ms", line)
        assert m, line
        found[m[1]] = float(m[2])
    return found


def test_monitor_script_prints_rates(system: FakeSystem, config_dir: Path) -> None:
    md_port = system.cfg.system.market_data.zmq_publish_address.rsplit(":", 1)[1]
    result = run(
        [
            sys.executable,
            str(REPO / "scripts" / "monitor_zmq.py"),
            "--port",
            md_port,
            "--interval",
            "0.5",
            "--count",
            "2",
            "--config-dir",
            str(config_dir),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    blocks = [b for b in result.stdout.split("\n\n") if b.strip()]
    assert len(blocks) == 2
    rates = _rates(blocks[1])  # the first interval may include the connection set-up
    assert list(rates) == ["Market Data", "Signals", "Risk Checks", "Executions"]
    assert all(rate > 0 for rate in rates.values()), blocks[1]


def test_monitor_port_overrides_only_market_data(config_dir: Path) -> None:
    from pyrt.config import load_config
    from pyrt.ops.monitor import monitor_endpoints

    cfg = load_config(config_dir)
    configured = monitor_endpoints(cfg)
    assert monitor_endpoints(cfg, int(configured["market_data"].rsplit(":", 1)[1])) == configured
    port = free_port()
    moved = monitor_endpoints(cfg, port)
    assert moved["market_data"] == f"tcp://127.0.0.1:{port}"
    assert {k: v for k, v in moved.items() if k != "market_data"} == {
        k: v for k, v in configured.items() if k != "market_data"
    }
