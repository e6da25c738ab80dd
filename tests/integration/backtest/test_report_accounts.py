"""The report of a real run adds up: the reversal strategy on the shared daily bars (three
symbols, long and short, Alpaca fees, a per-order commission, spread and slippage) through the
engine, then every file checked against the others and against the venue's account."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pyrt.backtest.data import load_bars
from pyrt.backtest.engine import Backtest
from pyrt.backtest.report import write_report
from pyrt.backtest.settings import BacktestSettings
from pyrt.services.signals.strategies.registry import build_strategies
from tests.support.backtest import SHARED, permissive_limits

DAILY = SHARED / "data" / "historical"
SYMBOLS = ["AAPL", "GOOGL", "MSFT"]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    if not DAILY.is_dir():
        pytest.skip(f"{DAILY} not found")
    spec = {
        "name": "rev",
        "kind": "ema_cross_reversal",
        "symbols": SYMBOLS,
        "params": {"fast": 5, "slow": 12, "trade_size": 10},
        "enabled": True,
    }
    settings = BacktestSettings(fees="alpaca", fee_per_order=Decimal("0.35"), spread_bps=4.0, slippage_bps=Decimal(2))
    result = Backtest(
        build_strategies([spec]), permissive_limits(), load_bars([DAILY], symbols=SYMBOLS), settings
    ).run()
    path = tmp_path_factory.mktemp("report")
    write_report(result, path)
    return path, result


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_trades_add_up_to_the_accounts_profit(out: tuple[Path, Any]) -> None:
    path, result = out
    report = json.loads((path / "report.json").read_text())
    trades = _csv(path / "trades.csv")
    fills = _csv(path / "fills.csv")
    assert {t["side"] for t in trades} == {"long", "short"}
    assert any(t["exit_reason"] == "end of data" for t in trades)
    assert all(t["open"] == "false" for t in trades)  # positions are closed at the end
    net = sum(Decimal(t["net_pnl"]) for t in trades)
    profit = result.final_equity - result.initial_cash
    assert abs(net - profit) < Decimal("0.0001") * len(trades)
    assert report["summary"]["net_profit"] == pytest.approx(float(profit), abs=1e-6)
    assert sum(Decimal(t["fees"]) for t in trades) == pytest.approx(sum(Decimal(f["fee"]) for f in fills))
    assert report["summary"]["trades"] == len(trades)
    assert report["summary"]["fills"] == len(fills) == len(result.fills)


def test_costs_are_separate_lines_that_match_the_fills(out: tuple[Path, Any]) -> None:
    path, _ = out
    report = json.loads((path / "report.json").read_text())
    fills = _csv(path / "fills.csv")
    costs = report["costs"]
    for line, column in (("spread", "spread_cost"), ("slippage", "slippage_cost"), ("fees", "fee")):
        assert costs[line] > 0, line
        assert costs[line] == pytest.approx(float(sum(Decimal(f[column]) for f in fills)), abs=1e-6)
    assert costs["total"] == pytest.approx(costs["spread"] + costs["slippage"] + costs["fees"])
    per_symbol = report["per_symbol"]
    assert sorted(per_symbol) == SYMBOLS
    assert sum(g["net_pnl"] for g in per_symbol.values()) == pytest.approx(report["summary"]["net_profit"], abs=1e-4)


def test_equity_curve_ends_at_the_final_equity_and_the_page_draws_every_symbol(out: tuple[Path, Any]) -> None:
    path, result = out
    equity = _csv(path / "equity.csv")
    assert float(equity[-1]["equity"]) == pytest.approx(float(result.final_equity), abs=0.01)
    assert all(float(r["drawdown"]) <= 0 for r in equity)
    report = json.loads((path / "report.json").read_text())
    assert report["summary"]["trading_days"] == len({r["timestamp"][:10] for r in equity})
    html = (path / "report.html").read_text()
    assert html.count("<svg") == 2 + len(SYMBOLS)
    assert "http://" not in html and "https://" not in html
