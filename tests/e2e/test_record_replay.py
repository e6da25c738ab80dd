"""The live system records what market data publishes and `pyrt backtest replay` replays
that day against the journal: a strategy on minute bars (a user's strategy file deciding on
every bar) trades on the sim broker for a few minutes with `market_data.record` on; after `pyrt down`
the replay of the recorded bars makes the same intents as the journal (no missed or extra
intent) and fills within the default price-gap threshold. The sim broker emits a bar a
minute, so this test takes two to three minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pyrt.config import load_config
from pyrt.domain.calendar import NEW_YORK
from pyrt.persistence.journal import Journal, RecordKind
from tests.support.deploy import make_deployment, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

# a strategy of the user's own on minute bars that decides on every bar: buy 1 when flat, sell
# what it holds when long (the EMA-cross reference decides only at crosses: too rarely for a test)
FLIPPER = """
from decimal import Decimal

from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent
from pyrt.services.signals.strategy import NO_OUTPUT, Strategy


class Flipper(Strategy):
    kind = "flipper"

    def on_bar(self, ctx, bar):
        if ctx.has_pending(bar.symbol):
            return NO_OUTPUT
        pos = ctx.position(bar.symbol)
        side, qty = (OrderSide.BUY, Decimal(1)) if pos == 0 else (OrderSide.SELL, pos)
        return (OrderIntent(intent_id=ctx.next_intent_id(bar.symbol), strategy=self.name, symbol=bar.symbol,
                            side=side, qty=qty, order_type=OrderType.MARKET, time_in_force=TimeInForce.DAY,
                            ts_ns=ctx.now_ns(), reason="flip"),)
"""
STRATEGY = {"name": "bars_ref", "kind": "flipper:Flipper", "symbols": ["AAPL"], "params": {}, "enabled": True}
INTENTS = 2


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


def trade_and_replay(tmp_path: Path, slippage_bps: float, *replay_args: str) -> tuple[int, dict[str, Any], str]:
    """Run the system until the strategy has `INTENTS` journalled intents, stop it, and
    replay the day (exit code, the replay's JSON, its output)."""
    root = tmp_path / "root"
    system = {
        "signals": {"strategies": [STRATEGY]},
        "market_data": {"record": {"enabled": True, "flush_interval_s": 1.0}, "stale_after_seconds": 30},
        # a loaded test machine can delay a heartbeat by seconds: no breaker trip for that here
        "execution": {"watchdog_risk_silence_s": 30},
        "sim_broker": {"quotes_per_second": 10, "seed": 5, "vol_annual": 1.0, "slippage_bps": slippage_bps},
    }
    config = make_deployment(root, system=system)
    (config / "strategies").mkdir(exist_ok=True)
    (config / "strategies" / "flipper.py").write_text(FLIPPER)
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
    replay = pyrt(root, config, "backtest", "replay", "--date", day, "--json", *replay_args)
    result = json.loads(replay.stdout) if replay.stdout.startswith("{") else {}
    assert result, replay.stdout + replay.stderr
    return replay.returncode, result, replay.stdout


def test_a_recorded_day_replays_to_the_journals_intents_and_shows_the_slippage(tmp_path: Path) -> None:
    """One run (a bar a minute makes each run minutes long): the sim broker adds 5 bps of
    adverse slippage to every market fill. The replay finds the journal's intents, no more
    and no fewer, and reports the fills 5 bps worse than the recorded quote they crossed.
    (Against the backtest's fill at the bar's close the gap also holds the spread and the move
    since the close: a few bps either way.)"""
    _, result, _ = trade_and_replay(tmp_path, 5.0)
    assert result["mismatches"]["missed"] == 0 and result["mismatches"]["extra"] == 0, result
    assert result["matched"] >= INTENTS
    assert 4.0 <= result["fill_vs_quote_bps"]["median"] <= 6.0, result
