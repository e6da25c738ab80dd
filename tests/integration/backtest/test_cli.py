"""`pyrt backtest` as a user runs it: a config directory with a strategy of their own
(`pyrt strategy new`), the shared daily bars, every report file written, the same inputs
giving a byte-identical report.json, and bad input refused with a message naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.backtest import SHARED, run_pyrt
from tests.support.deploy import make_deployment

DAILY = SHARED / "data" / "historical"
FILES = ("report.json", "report.html", "fills.csv", "trades.csv", "equity.csv", "orders.csv")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not DAILY.is_dir():
        pytest.skip(f"{DAILY} not found")
    root = tmp_path_factory.mktemp("bt")
    config = make_deployment(root)
    assert run_pyrt(root, "strategy", "new", "breakout", "--config-dir", str(config)).returncode == 0
    system = json.loads((config / "system.json").read_text())
    system["signals"]["strategies"].append(
        {
            "name": "breakout",
            "kind": "breakout:Breakout",
            "symbols": ["AAPL", "MSFT"],
            "params": {"lookback": 10, "trade_size": 10},
            "enabled": False,
        }
    )
    (config / "system.json").write_text(json.dumps(system, indent=2))
    return config


def test_a_users_strategy_backtests_into_every_report_file_reproducibly(deployment: Path) -> None:
    root = deployment.parent
    args = ("backtest", "--config-dir", str(deployment), "--strategy", "breakout", "--data", str(DAILY))
    first = run_pyrt(root, *args, "--out", "out1")
    assert first.returncode == 0, first.stderr
    assert "Sharpe" in first.stdout and "Spread" in first.stdout
    for name in FILES:
        assert (root / "out1" / name).is_file(), name
    assert (root / "out1" / "fills.csv").read_text().startswith("timestamp,symbol,side,qty,price")
    report = json.loads((root / "out1" / "report.json").read_text())
    assert report["summary"]["fills"] > 0
    second = run_pyrt(root, *args, "--out", "out2", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["fills"] == report["summary"]["fills"]
    assert (root / "out1" / "report.json").read_bytes() == (root / "out2" / "report.json").read_bytes()
    html = (root / "out1" / "report.html").read_text()
    assert "http://" not in html and "https://" not in html


def test_an_unknown_strategy_and_a_bad_file_are_refused_by_name(deployment: Path, tmp_path: Path) -> None:
    root = deployment.parent
    bad = tmp_path / "AAPL.csv"
    bad.write_text(
        "timestamp,symbol,open,high,low,close,volume\n"
        "2024-01-02T14:30:00Z,AAPL,100,101,99,100.5,1000\n"
        "2024-01-02T14:31:00Z,AAPL,100,99,101,100.5,1000\n"
    )
    run = run_pyrt(
        root, "backtest", "--config-dir", str(deployment), "--strategy", "nope", "--data", str(DAILY), "--out", "o"
    )
    assert run.returncode == 2 and "nope" in run.stderr
    run = run_pyrt(
        root, "backtest", "--config-dir", str(deployment), "--strategy", "breakout", "--data", str(bad), "--out", "o"
    )
    assert run.returncode == 2
    assert "AAPL.csv" in run.stderr and "line 3" in run.stderr
