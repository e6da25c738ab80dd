"""Models in a backtest: each `onnx_model` strategy gets its model through the same deploy
gates the signal bridge uses (a model the bridge would refuse is refused here, by name),
attached the same way. Two differences, both for repeatable results: inference takes no
simulated time (the live latency check measures the machine, not the strategy), and the
model's expiry is judged by bar time (the strategy reads the simulated clock). A window that
overlaps the model's training data is flagged: such a result is in-sample."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pyrt.backtest.settings import SettingsError
from pyrt.services.signals.strategies.onnx_model import OnnxModelStrategy
from pyrt.services.signals.strategy import Strategy


def _no_time() -> float:
    return 0.0


def _ns(iso: str) -> int | None:
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1e9)
    except (ValueError, AttributeError):
        return None


def attach_models(strategies: Sequence[Strategy], start_ns: int, end_ns: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Gate and attach every model strategy's model; returns what the report records of
    each model and the warnings (training overlap). Raises SettingsError for a strategy
    with no model or a model the gates refuse."""
    from pyrt.services.signals.model.gates import gate_model
    from pyrt.services.signals.model.loader import ModelRefused

    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    for s in strategies:
        if not isinstance(s, OnnxModelStrategy):
            continue
        path = s.params.model_path
        if not path:
            raise SettingsError(
                f"strategy {s.name}: onnx_model has no model (set signals.model_path or params.model_path)"
            )
        try:
            model = gate_model(path)
        except ModelRefused as exc:
            raise SettingsError(f"strategy {s.name}: model refused: {exc}") from None
        s.attach(model)
        s.timer = _no_time
        m = model.manifest
        training = dict(m.training)
        records.append(
            {
                "strategy": s.name,
                "name": m.name,
                "version": m.version,
                "sha256": model.sha256,
                "model_kind": m.model_kind,
                "features": m.feature_names,
                "horizon": m.horizon,
                "training": {k: training.get(k) for k in ("symbols", "from", "to", "train_until", "data_sha256")},
            }
        )
        t0, t1 = _ns(str(training.get("from", ""))), _ns(str(training.get("train_until") or training.get("to", "")))
        if t0 is not None and t1 is not None and t0 <= end_ns and start_ns <= t1:
            warnings.append(
                f"model {m.name} v{m.version} (strategy {s.name}) was trained on data from {training.get('from')} to "
                f"{training.get('train_until') or training.get('to')}, inside this backtest's window: its results "
                "there are in-sample"
            )
    return records, warnings
