"""The live system records what market data publishes and `pyrt backtest replay` replays
that day against the journal: a strategy on minute bars (the EMA-cross reference, 1/2 bars)
trades on the sim broker for a few minutes with `market_data.record` on; after `pyrt down`
the replay of the recorded bars makes the same intents as the journal (no missed or extra
intent) and fills within the default price-gap threshold. The sim broker emits a bar a
minute, so this test takes about five minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from pyrt.config import load_config
from pyrt.domain.calendar import NEW_YORK
from pyrt.persistence.journal import Journal, RecordKind
from tests.support.deploy import make_deployment, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

STRATEGY = {"name": "bars_ref", "kind": "ema_cross_long_only", "symbols": ["AAPL"],
            "params": {"fast": 1, "slow": 2, "trade_size": 1}, "enabled": True}  # fmt: skip
INTENTS = 3


def pyrt(root: Path, config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyrt", *args, "--config-dir", str(config)], cwd=root,
                          env={**os.environ, "PYRT_CONFIG_DIR": str(config)}, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip


def intents(path: Path) -> int:
    try:
        with Journal(path, read_only=True) as j:
            return sum(
                1 for r in j.iter_records() if r.kind == RecordKind.INTENT and r.payload["strategy"] == "bars_ref"
            )
    except Exception:  # noqa: BLE001 - not created yet
        return 0


def test_a_recorded_day_replays_to_the_journals_intents(tmp_path: Path) -> None:
    root = tmp_path / "root"
    system = {
        "signals": {"strategies": [STRATEGY]},
        "market_data": {"record": {"enabled": True, "flush_interval_s": 1.0}, "stale_after_seconds": 30},
        # a loaded test machine can delay a heartbeat by seconds: no breaker trip for that here
        "execution": {"watchdog_risk_silence_s": 30},
        "sim_broker": {"quotes_per_second": 10, "seed": 5, "vol_annual": 1.0},
    }
    config = make_deployment(root, system=system)
    cfg = load_config(config)
    up = pyrt(root, config, "up", "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        wait_for(lambda: intents(cfg.system.execution.journal_path) >= INTENTS, 420, "bar decisions", interval=2)
    finally:
        down = pyrt(root, config, "down", "--grace", "10", timeout=90)
    assert down.returncode == 0, down.stdout + down.stderr
    day = datetime.now(NEW_YORK).date().isoformat()
    assert list((root / "data" / "market_data" / day).glob("bars-*.parquet"))
    replay = pyrt(root, config, "backtest", "replay", "--date", day, "--json")
    result = json.loads(replay.stdout) if replay.stdout.startswith("{") else {}
    assert result, replay.stdout + replay.stderr
    assert result["mismatches"]["missed"] == 0 and result["mismatches"]["extra"] == 0, result
    assert result["matched"] >= INTENTS
    assert replay.returncode == 0, result
