"""`pyrt backtest replay` on a recorded day and a real journal (SQLite): the recorder writes
the day's minute bars, a journal holds what the live system did; the replay of a journal
that traded as the backtest does reports zero mismatches and passes, one whose buys filled
5 bps worse is reported with its price gaps and exit 1; the gauges file is written."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np

from pyrt.bootstrap import load_app
from pyrt.bus.schema import BarMsg
from pyrt.domain.ids import client_order_id
from pyrt.ops.gateway import render_families
from pyrt.ops.replay_metrics import replay_families
from pyrt.persistence.journal import Journal
from pyrt.research.replay_run import replay_backtest
from pyrt.services.market_data.recorder import Recorder
from tests.support.backtest import run_pyrt
from tests.support.deploy import make_deployment

DAY = date(2024, 1, 2)
OPEN = 1_704_205_800_000_000_000  # 09:30 New York
MIN = 60_000_000_000
S = 1_000_000_000


def record_day(folder: Path) -> None:
    rng = np.random.default_rng(7)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, 120)))
    rec = Recorder(folder, 10**9, 1000, 1.0)
    bars = [
        BarMsg("AAPL", c * 0.999, c * 1.002, c * 0.997, float(c), 1000.0, OPEN + i * MIN) for i, c in enumerate(closes)
    ]
    rec.write(bars[:60], now_ns=1)
    rec.write(bars[60:], now_ns=2)
    rec.close()


def write_journal(path: Path, config: Path, slippage_bps: Decimal) -> int:
    """What a live system trading like the backtest would journal: each intent 2 s after its
    bar's close, filled 0.5 s later (buys `slippage_bps` worse)."""
    run, _, _ = replay_backtest(load_app(config), DAY, [])
    path.unlink(missing_ok=True)
    with Journal(path) as journal:
        for o in run.orders:
            coid = client_order_id(o.strategy, o.intent_id)
            ts = o.decided_ns + 2 * S
            intent = {"intent_id": o.intent_id, "strategy": o.strategy, "symbol": o.symbol, "side": o.side,
                      "qty": str(o.qty), "order_type": o.order_type, "time_in_force": "day", "ts_ns": ts}  # fmt: skip
            journal.append("intent", coid, intent, ts_ns=ts)
            assert o.avg_price is not None
            price = o.avg_price * (1 + slippage_bps / 10_000) if o.side == "buy" else o.avg_price
            fill = {"execution_id": f"x-{o.intent_id}", "qty": str(o.qty), "price": str(price)}
            journal.append("fill", coid, fill, ts_ns=ts + S // 2)
    return len(run.orders)


def test_replay_of_a_recorded_day_against_the_journal(tmp_path: Path) -> None:
    recorded = tmp_path / "recorded"
    strategy = {"name": "ref", "kind": "ema_cross_long_only", "symbols": ["AAPL"],
                "params": {"fast": 3, "slow": 8, "trade_size": 10}, "enabled": True}  # fmt: skip
    system = {
        "market_data": {"record": {"enabled": True, "path": str(recorded)}},
        "signals": {"strategies": [strategy]},
    }
    config = make_deployment(tmp_path, system=system)
    record_day(recorded)
    journal = tmp_path / "data" / "journal.db"
    journal.parent.mkdir(parents=True, exist_ok=True)
    orders = write_journal(journal, config, Decimal(0))
    assert orders >= 4

    same = run_pyrt(tmp_path, "backtest", "replay", "--date", "2024-01-02", "--config-dir", str(config))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "PASS: 0 mismatch(es)" in same.stdout
    report = json.loads((tmp_path / "data" / "replay" / "2024-01-02.json").read_text())
    assert report["matched"] == orders and report["total_mismatches"] == 0
    assert report["time_gap_s"]["median"] == 2.5  # live fills came 2.5 s after the bar's close
    assert report["bars"] == 120

    write_journal(journal, config, Decimal(5))
    worse = run_pyrt(tmp_path, "backtest", "replay", "--date", "2024-01-02", "--config-dir", str(config),
                 "--max-price-gap-bps", "2", "--json")  # fmt: skip
    assert worse.returncode == 1, worse.stderr
    result = json.loads(worse.stdout)
    buys = [p for p in result["pairs"] if p["live"]["side"] == "buy"]
    assert result["mismatches"]["price_gap"] == len(buys) > 0
    assert all(abs(p["price_gap_bps"] - 5.0) < 0.01 for p in buys)
    gauges = render_families(replay_families(load_app(config)))
    assert f'backtest_replay_mismatches{{kind="price_gap"}} {len(buys)}' in gauges

    missing = run_pyrt(tmp_path, "backtest", "replay", "--date", "2024-01-03", "--config-dir", str(config))
    assert missing.returncode == 2 and "no recorded bars for 2024-01-03" in missing.stderr
