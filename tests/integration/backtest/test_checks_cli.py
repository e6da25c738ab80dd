"""`pyrt backtest check-lookahead` / `check-warmup` as a user runs them on the shipped
reference config and the shared daily bars: the reference strategies pass, a strategy that
peeks at the next bar fails with exit 1 naming the first changed decision, EMA(20) reports
its warm-up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.backtest import ROOT, SHARED, run_pyrt

DAILY = SHARED / "data" / "historical"
REFERENCE = ROOT / "examples" / "reference"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not DAILY.is_dir():
        pytest.skip(f"{DAILY} not found")
    root = tmp_path_factory.mktemp("checks")
    config = root / "config"
    shutil.copytree(REFERENCE, config)
    system = json.loads((config / "system.json").read_text())
    system["signals"]["strategies"].append(
        {"name": "peeker", "kind": "tests.support.peeking:PeekNextBar", "symbols": ["MSFT"], "params": {},
         "enabled": False}
    )  # fmt: skip
    (config / "system.json").write_text(json.dumps(system))
    return config


def test_reference_strategies_pass_and_a_peeking_one_fails_naming_its_decision(config: Path) -> None:
    base = ("backtest", "check-lookahead", "--config-dir", str(config), "--data", str(DAILY), "--cuts", "4")
    ok = run_pyrt(config.parent, *base, "--strategy", "ref_long", "--strategy", "ref_reversal")
    assert ok.returncode == 0, ok.stderr
    assert "look-ahead check passed: ref_long, ref_reversal" in ok.stdout
    bad = run_pyrt(config.parent, *base, "--strategy", "peeker", "--to", "2025-01-31", "--json")
    assert bad.returncode == 1, bad.stderr
    report = json.loads(bad.stdout)
    assert report["cuts_failed"] == report["cuts_checked"] == 4
    first = report["first_difference"]
    assert first["strategy"] == "peeker" and first["symbol"] == "MSFT" and first["bar_ns"] == first["cut_ns"]
    text = run_pyrt(config.parent, *base, "--strategy", "peeker", "--to", "2025-01-31")
    assert text.returncode == 1
    assert "LOOK-AHEAD: 4 of 4 cuts" in text.stdout and "strategy peeker, symbol MSFT" in text.stdout


def test_warmup_of_ema20_and_bad_input(config: Path) -> None:
    out = run_pyrt(config.parent, "backtest", "check-warmup", "--config-dir", str(config), "--data", str(DAILY),
               "--strategy", "ref_long", "--starts", "4", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    (ema,) = json.loads(out.stdout)["strategies"]
    assert ema["strategy"] == "ref_long" and ema["silent_bars"] == 20 and ema["warmup_bars"] >= 20
    missing = run_pyrt(config.parent, "backtest", "check-warmup", "--config-dir", str(config))
    assert missing.returncode == 2 and "--data" in missing.stderr
