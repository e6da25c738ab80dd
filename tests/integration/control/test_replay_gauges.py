"""The last replay's mismatches on the control process's /metrics: none before a replay,
then `backtest_replay_mismatches{kind}` as `run/last_replay.json` says, read at each scrape."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from pyrt.ops.control_process import ControlProcess
from pyrt.ops.replay_metrics import write_last_replay
from tests.support.deploy import make_deployment


def test_the_gateway_serves_the_last_replays_mismatches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYRT_API_TOKEN", raising=False)
    proc = ControlProcess(make_deployment(tmp_path))
    proc.start()
    try:
        assert proc.gateway is not None
        url = f"http://127.0.0.1:{proc.gateway.port}/metrics"
        assert "backtest_replay_mismatches" not in requests.get(url, timeout=10).text
        write_last_replay(proc.cfg, "2024-01-02", {"missed": 0, "extra": 2, "price_gap": 1, "time_gap": 0}, False)
        text = requests.get(url, timeout=10).text
        assert 'backtest_replay_mismatches{kind="extra"} 2' in text
        assert 'backtest_replay_mismatches{kind="missed"} 0' in text
        assert "backtest_replay_passed 0" in text
    finally:
        proc.stop()
