"""A trained ONNX model backtested as the signal bridge would serve it: gated, attached,
trading through the risk gate; recorded in the report; an in-sample window flagged; a model
the gates refuse refused by name; results repeatable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.backtest import SHARED, run_pyrt
from tests.support.deploy import make_deployment
from tests.support.models import train_tiny

DAILY = SHARED / "data" / "historical"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not DAILY.is_dir():
        pytest.skip(f"{DAILY} not found")
    root = tmp_path_factory.mktemp("mbt")
    model = train_tiny(root / "models", symbol="AAPL")
    config = make_deployment(root)
    system = json.loads((config / "system.json").read_text())
    system["signals"]["model_path"] = str(model)
    system["signals"]["strategies"] = [
        {
            "name": "ml",
            "kind": "onnx_model",
            "symbols": ["AAPL"],
            "params": {"buy_threshold": 0.5, "sell_threshold": 0.5, "order_qty": 10, "max_position_shares": 10},
            "enabled": True,
        }
    ]
    (config / "system.json").write_text(json.dumps(system, indent=2))
    return config


def test_a_model_backtests_like_it_serves(deployment: Path) -> None:
    root = deployment.parent
    args = ("backtest", "--config-dir", str(deployment), "--data", str(DAILY / "AAPL.csv"))
    first = run_pyrt(root, *args, "--out", "m1")
    assert first.returncode == 0, first.stderr
    report = json.loads((root / "m1" / "report.json").read_text())
    [model] = report["config"]["models"]
    assert model["strategy"] == "ml" and len(model["sha256"]) == 64
    assert report["summary"]["orders"] > 0  # the model traded
    assert any("in-sample" in w for w in report["warnings"])  # trained on this very file
    second = run_pyrt(root, *args, "--out", "m2")
    assert second.returncode == 0, second.stderr
    assert (root / "m1" / "report.json").read_bytes() == (root / "m2" / "report.json").read_bytes()


def test_a_model_the_gates_refuse_is_refused_by_name(deployment: Path, tmp_path: Path) -> None:
    root = deployment.parent
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x80\x04not a model")
    system = json.loads((deployment / "system.json").read_text())
    system["signals"]["model_path"] = str(bad)
    cfg = tmp_path / "config"
    shutil.copytree(deployment, cfg)
    (cfg / "system.json").write_text(json.dumps(system))
    run = run_pyrt(root, "backtest", "--config-dir", str(cfg), "--data", str(DAILY / "AAPL.csv"), "--out", "m3")
    assert run.returncode == 2
    assert "ml" in run.stderr and "bad.onnx" in run.stderr
