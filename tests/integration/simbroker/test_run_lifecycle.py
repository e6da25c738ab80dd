"""`pyrt run sim-broker` lives the life every process lives (ServiceRuntime): its pid file
from start to exit, a JSON ready file with its bound port once it listens, the configured
key pair, SIGHUP survived (there is nothing to reload), SIGTERM a clean exit 0 that removes
both files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from pyrt.config import load_config
from tests.support.deploy import make_deployment, wait_for


def test_run_sim_broker_uses_the_process_lifecycle(tmp_path: Path) -> None:
    config_dir = make_deployment(tmp_path, system={"sim_broker": {"port": 0}})
    env = {**os.environ, "APCA_API_KEY_ID": "LIFE-KEY", "APCA_API_SECRET_KEY": "life-secret"}
    cfg = load_config(config_dir, env=env)
    paths = cfg.system.paths
    log = open(tmp_path / "sim_broker.out", "wb")  # noqa: SIM115 - the child's output
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyrt", "run", "sim-broker", "--config-dir", str(config_dir)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        ready = wait_for(
            lambda: paths.ready_file("sim_broker").exists() or proc.poll() is not None, 30, "sim broker ready"
        )
        assert ready is True and proc.poll() is None, (tmp_path / "sim_broker.out").read_text()[-2000:]
        info = json.loads(paths.ready_file("sim_broker").read_text())
        assert info["service"] == "sim_broker" and info["pid"] == proc.pid and info["port"] > 0
        for folder in ("logs", "data", "cache", "models", "backups", "run"):  # created by the first start
            assert (tmp_path / folder).is_dir(), folder
        assert paths.pid_file("sim_broker").read_text().strip() == str(proc.pid)
        url = f"http://127.0.0.1:{info['port']}/v2/account"
        keys = {"APCA-API-KEY-ID": "LIFE-KEY", "APCA-API-SECRET-KEY": "life-secret"}
        assert requests.get(url, headers=keys, timeout=5).status_code == 200
        assert requests.get(url, headers={**keys, "APCA-API-SECRET-KEY": "wrong"}, timeout=5).status_code == 401
        proc.send_signal(signal.SIGHUP)
        assert requests.get(url, headers=keys, timeout=5).status_code == 200
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert not paths.ready_file("sim_broker").exists() and not paths.pid_file("sim_broker").exists()
        assert "sim_broker starting" in (paths.logs_dir / "sim_broker.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
