"""A model strategy idle at start (the shipped `ml_model` before any model is set) is started
by the running signal bridge when its first model is loaded over the control endpoint (what
`pyrt model deploy` sends), instead of answering "no onnx_model strategy"."""

from __future__ import annotations

from pathlib import Path

from pyrt.bus import schema as wire
from tests.support.deploy import make_deployment
from tests.support.models import train_tiny

from .conftest import bridge_status, running_bridge

ML = {"name": "ml", "kind": "onnx_model", "symbols": ["AAPL"], "params": {"source": "bar"}}


def test_the_first_model_starts_an_idle_model_strategy(tmp_path: Path) -> None:
    model = train_tiny(tmp_path / "models")
    config_dir = make_deployment(tmp_path / "root", system={"signals": {"strategies": [ML], "model_path": None}})
    with running_bridge(config_dir) as (risk, control):
        assert "ml" not in bridge_status(control).get("models", {})  # idle: no model
        load = wire.ControlCommand("model_load", {"strategy": "ml", "path": str(model)}, "first model", "pytest")
        result = control.request(load).payload
        assert result.ok, result.detail
        served = bridge_status(control)["models"]["ml"]
        assert served["healthy"] and served["sha256"]
        lifted = [c for c in risk.commands if c.action == "strategy_reduce_only"]
        assert lifted and lifted[-1].args == {"strategy": "ml", "on": "false"}
        unknown = wire.ControlCommand("model_load", {"strategy": "nobody", "path": str(model)}, "x", "pytest")
        refused = control.request(unknown).payload
        assert not refused.ok and "no onnx_model strategy 'nobody'" in refused.detail
