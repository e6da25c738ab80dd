"""Golden backtests: every bundled strategy on the shared daily bars, with the shipped risk
limits and the default fill and cost rules, pinned by its statistics and the sha256 of its
fill list. A change to strategy, risk, order or fill logic fails here until the golden files
are rewritten on purpose:

    PYRT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/integration/backtest/test_golden.py

(`onnx_model` is left out: it needs a trained model, and its parity is tested in tests/*/ml.)"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pyrt.backtest.data import load_bars
from pyrt.backtest.engine import Backtest
from pyrt.backtest.report import write_report
from pyrt.backtest.settings import BacktestSettings
from pyrt.bootstrap import load_app
from pyrt.services.signals.strategies.registry import build_strategies
from tests.support.backtest import ROOT, SHARED

GOLDEN = Path(__file__).resolve().parent / "golden"
DAILY = SHARED / "data" / "historical"
REFERENCE = {"fast": 10, "slow": 20, "trade_size": 10}


def cases() -> dict[str, dict[str, Any]]:
    """Each bundled strategy with pinned params (not the shipped config's, which may be tuned
    for the live demo without touching these): on bars, sized by the shipped sizing."""
    sizing = {"order_qty": 10, "max_position_shares": 100}
    return {
        "ema_crossover": {
            "name": "ema", "kind": "ema_crossover", "symbols": ["AAPL", "MSFT"],
            "params": {"fast": 12, "slow": 26, **sizing},
        },
        "rsi_mean_reversion": {
            "name": "rsi", "kind": "rsi_mean_reversion", "symbols": ["GOOGL"],
            "params": {"period": 14, "oversold": 30.0, "overbought": 70.0, **sizing},
        },
        "benchmark_every_n": {"name": "bench", "kind": "benchmark_every_n", "symbols": ["AAPL"], "params": {}},
        "ema_cross_long_only": {
            "name": "ref_long", "kind": "ema_cross_long_only", "symbols": ["AAPL", "MSFT", "GOOGL"], "params": REFERENCE,
        },
        "ema_cross_reversal": {
            "name": "ref_rev", "kind": "ema_cross_reversal", "symbols": ["AAPL", "MSFT", "GOOGL"], "params": REFERENCE,
        },
    }  # fmt: skip


def pinned(kind: str, spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    cfg = load_app(ROOT / "config")
    data = load_bars([DAILY], symbols=spec["symbols"])
    result = Backtest(build_strategies([{**spec, "enabled": True}]), cfg.risk, data, BacktestSettings()).run()
    report = write_report(result, tmp)
    s = report["summary"]
    return {
        "strategy": kind,
        "fills": len(result.fills),
        "fills_sha256": hashlib.sha256((tmp / "fills.csv").read_bytes()).hexdigest(),
        "orders": len(result.orders),
        "statuses": dict(sorted(Counter(o.status for o in result.orders).items())),
        "denials": dict(sorted(Counter(o.reason_code for o in result.orders if o.status == "denied").items())),
        "final_equity": str(result.final_equity),
        "total_return": round(s["total_return"], 6),
        "sharpe": None if s["sharpe"] is None else round(s["sharpe"], 6),
        "max_drawdown": round(s["max_drawdown"], 6),
    }


@pytest.mark.parametrize("kind", sorted(cases()))
def test_golden(kind: str, tmp_path: Path) -> None:
    if not DAILY.is_dir():
        pytest.skip(f"{DAILY} not found")
    got = pinned(kind, cases()[kind], tmp_path)
    path = GOLDEN / f"{kind}.json"
    if os.environ.get("PYRT_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert path.is_file(), f"no golden file {path}: run with PYRT_UPDATE_GOLDEN=1 to write it"
    assert got == json.loads(path.read_text()), f"{kind} changed: if on purpose, rerun with PYRT_UPDATE_GOLDEN=1"
