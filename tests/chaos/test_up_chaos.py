"""`pyrt up --chaos PROFILE`: the whole system on the embedded sim broker with a fault profile
applied, the invariant summary in logs/chaos.log and `pyrt chaos status`, and `pyrt down`
stopping the monitor and clearing the faults. Refused when the venue is not the sim broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

from pyrt.config import load_config
from pyrt.ops.chaos import pid_path, status_path
from pyrt.simbroker.harness import DEFAULT_KEYS
from tests.support.deploy import FAST_STRATEGIES, make_deployment, wait_for

HEADERS = {"APCA-API-KEY-ID": DEFAULT_KEYS[0], "APCA-API-SECRET-KEY": DEFAULT_KEYS[1]}


def pyrt(config_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYRT_CONFIG_DIR": str(config_dir), "PYRT_CHAOS_INTERVAL_S": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pyrt", *args, "--config-dir", str(config_dir)],
        cwd=config_dir.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_up_with_a_chaos_profile_reports_the_invariants_and_down_clears_it(tmp_path: Path):
    config_dir = make_deployment(
        tmp_path / "root",
        system={"signals": {"strategies": FAST_STRATEGIES}, "sim_broker": {"quotes_per_second": 10, "seed": 11}},
    )
    cfg = load_config(config_dir)
    try:
        up = pyrt(config_dir, "up", "--detach", "--chaos", "stream_drops")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "chaos profile stream_drops on" in up.stdout
        faults = lambda: requests.get(cfg.venue.trading_url + "/admin/faults", headers=HEADERS, timeout=5).json()  # noqa: E731
        wait_for(lambda: faults()["trade_stream"]["drop"] == 0.1, 30, "the profile applied at the sim broker", 0.2)

        def checked() -> dict | None:
            try:
                body = json.loads(status_path(cfg).read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                return None
            return body if body["checks"] >= 3 and body["last"].get("orders", 0) > 0 else None

        body = wait_for(checked, 120, "three invariant checks with orders traded", interval=0.5)
        assert body["checks_violated"] == 0, body
        assert body["last"]["ok"] is True and body["last"]["lost"] == [] and body["last"]["duplicated"] == []
        status = pyrt(config_dir, "chaos", "status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "chaos profile stream_drops" in status.stdout and "OK orders=" in status.stdout
        assert "invariants OK orders=" in (cfg.system.paths.logs_dir / "chaos.log").read_text()
    finally:
        down = pyrt(config_dir, "down", "--grace", "5", timeout=90)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "chaos" in down.stdout and not pid_path(cfg).exists()
    assert "chaos profile stream_drops cleared" in (cfg.system.paths.logs_dir / "chaos.log").read_text()


def test_chaos_is_refused_unless_the_venue_is_the_sim_broker(tmp_path: Path):
    config_dir = make_deployment(tmp_path / "root", sim_url="http://127.0.0.1:9")  # an external venue
    refused = pyrt(config_dir, "up", "--detach", "--chaos", "flaky_network")
    assert refused.returncode == 2
    assert "refused, the venue is http://127.0.0.1:9" in refused.stderr
    unknown = pyrt(make_deployment(tmp_path / "other"), "up", "--detach", "--chaos", "typhoon")
    assert unknown.returncode == 2 and "unknown profile (known: flaky_network, rejections" in unknown.stderr
    assert not (tmp_path / "root" / "run").exists() or not any((tmp_path / "root" / "run").iterdir())
