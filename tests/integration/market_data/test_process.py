"""The service as its own process: ready file, metrics, SIGHUP reload, SIGTERM exit 0."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.deploy import wait_for

from .conftest import Sim


def _metrics(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def test_process_lifecycle_with_signals(tmp_path: Path, sim: Sim, config_dir: Path):
    run_dir = tmp_path / "run"
    out = open(tmp_path / "md.out", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "pyrt.services.market_data.service", str(config_dir)],
                            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for(lambda: (run_dir / "market_data.ready").exists() or proc.poll() is not None, 20, "ready file")
        assert proc.poll() is None, (tmp_path / "md.out").read_text()[-2000:]
        ready = json.loads((run_dir / "market_data.ready").read_text())
        assert ready["connected"] is True and ready["pid"] == proc.pid
        port = ready["metrics_port"]
        assert "market_data_websocket_connected 1" in _metrics(port)

        path = config_dir / "system.json"
        cfg = json.loads(path.read_text())
        cfg["market_data"]["symbols"].append("NVDA")
        path.write_text(json.dumps(cfg))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "market_data_symbols 4.0" in _metrics(port), 10, "reloaded symbols")
        wait_for(lambda: "NVDA" in sim.subscribed_quotes(), 5, "NVDA subscribed")

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert not (run_dir / "market_data.ready").exists() and not (run_dir / "market_data.pid").exists()
        log = (tmp_path / "logs" / "market_data.log").read_text()
        assert "config reloaded" in log and "market data stopped" in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        out.close()
        print((tmp_path / "md.out").read_text()[-3000:])  # shown by pytest if the test failed
