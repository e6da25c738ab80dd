"""The control process serves the control API next to the metrics gateway: its port in the
ready file, /health and /ready open, the token file created 0600, everything freed on stop;
and it refuses to start on a non-loopback host without an explicit PYRT_API_TOKEN."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from pyrt.ops.control_process import ControlProcess
from pyrt.ops.status import ready_file
from tests.support.deploy import make_deployment


def test_serves_the_api_and_stops_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYRT_API_TOKEN", raising=False)
    proc = ControlProcess(make_deployment(tmp_path))
    proc.start()
    try:
        info = json.loads(ready_file(proc.cfg, "control").read_text())
        assert info["api_port"] == proc.cfg.system.api.port
        url = f"http://127.0.0.1:{info['api_port']}"
        assert requests.get(url + "/health", timeout=5).json() == {"status": "ok"}
        ready = requests.get(url + "/ready", timeout=5)
        assert ready.status_code == 503 and ready.json()["services"]["control"] is True
        token_file = tmp_path / "data" / "api_token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        assert requests.get(url + "/api/v1/audit", timeout=5).status_code == 401
        assert requests.get(url + "/api/v1/audit", headers={"Authorization": f"Bearer {token}"}, timeout=5).json() == []
        assert requests.get(url + "/docs", timeout=5).status_code == 200
    finally:
        proc.stop()
    assert not ready_file(proc.cfg, "control").exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/health", timeout=2)


def test_refuses_a_non_loopback_host_without_an_explicit_token(tmp_path: Path) -> None:
    config_dir = make_deployment(
        tmp_path, system={"api": {"host": "0.0.0.0"}, "security": {"allow_non_loopback": True}}
    )
    env = {k: v for k, v in os.environ.items() if k != "PYRT_API_TOKEN"}
    res = subprocess.run(
        [sys.executable, "-m", "pyrt", "run", "control", "--config-dir", str(config_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 2
    assert "refusing to serve the control API on non-loopback host '0.0.0.0'" in res.stderr + res.stdout
    assert "PYRT_API_TOKEN" in res.stderr + res.stdout
