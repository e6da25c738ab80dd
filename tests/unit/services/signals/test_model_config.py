"""The shipped config's onnx_model strategy runs exactly when signals.model_path is set
(the guide's one edit), with that path as its model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pyrt.config import load_config
from pyrt.services.signals.strategies.onnx_model import OnnxModelStrategy
from pyrt.services.signals.strategies.registry import build_strategies, strategies_dir, strategy_specs

REPO_CONFIG = Path(__file__).resolve().parents[4] / "config"


def _deployment(tmp_path: Path, model_path: str | None) -> Path:
    config_dir = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, config_dir)
    path = config_dir / "system.json"
    data = json.loads(path.read_text())
    data["signals"]["model_path"] = model_path
    path.write_text(json.dumps(data, indent=2))
    return config_dir


def _model_strategies(config_dir: Path) -> list[OnnxModelStrategy]:
    cfg = load_config(config_dir, env={})
    built = build_strategies(strategy_specs(cfg), strategies_dir(cfg))
    return [s for s in built if isinstance(s, OnnxModelStrategy)]


def test_without_model_path_the_shipped_model_strategy_is_idle(tmp_path: Path) -> None:
    assert _model_strategies(_deployment(tmp_path, None)) == []


def test_setting_model_path_alone_runs_the_shipped_model_strategy(tmp_path: Path) -> None:
    [s] = _model_strategies(_deployment(tmp_path, "models/trading_model_v2.onnx"))
    assert s.name == "ml_model"
    assert s.params.model_path == str(tmp_path / "models" / "trading_model_v2.onnx")
    assert s.model is None  # building a strategy never loads onnxruntime: the bridge attaches it
