"""`pyrt model train --symbols --from --to` downloads daily bars from the configured venue
through alpaca-py: against a sim broker serving the shared AAPL file it trains the same
model as `--data` on that file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pyrt.config.system import SimBrokerConfig
from tests.support.deploy import make_deployment
from tests.support.history import historical_files
from tests.support.sim import InThreadSimBroker


def _train(config_dir: Path, out: Path, *source: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "pyrt", "model", "train", *source, "--name", "m", "--out-dir", str(out),
         "--config-dir", str(config_dir)],
        capture_output=True, text=True, timeout=300, check=False, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads((out / "m-v1.json").read_text())


def test_training_on_venue_history_equals_training_on_the_file(tmp_path: Path) -> None:
    csv = historical_files("AAPL")[0]
    with InThreadSimBroker(SimBrokerConfig(history_paths=(csv,), symbols=("AAPL",))) as sim:
        config_dir = make_deployment(tmp_path / "root", sim_url=sim.url)
        venue = _train(
            config_dir, tmp_path / "venue", "--symbols", "AAPL", "--from", "2024-11-01", "--to", "2025-10-31"
        )
    local = _train(config_dir, tmp_path / "file", "--data", str(csv))
    assert venue["training"]["rows"] == local["training"]["rows"] > 200
    assert venue["training"]["sources"][0].startswith("venue:sim:AAPL:2024-11-01..2025-10-31")
    assert venue["parity"]["inputs"] == local["parity"]["inputs"]
    assert venue["parity"]["expected"] == local["parity"]["expected"]
