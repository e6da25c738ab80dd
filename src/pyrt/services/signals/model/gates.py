"""The checks a model passes before it is served (`pyrt model deploy`, and the signal
bridge whenever it loads one from config): the file is ONNX with a py_rt manifest (a
pickle or anything else is refused: loader), its feature schema is the one the signal
bridge computes (names, order, dtype), its outputs on the manifest's parity fixture match
within 1e-5, and a prediction on recent live features (or the fixture) is finite and a
probability. Failing raises ModelRefused with the reason; nothing is swapped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from pyrt.services.signals.features import FEATURE_SET, FEATURE_SPEC
from pyrt.services.signals.model.loader import LoadedModel, ModelRefused, load_model

PARITY_TOLERANCE = 1e-5


def check_schema(model: LoadedModel) -> None:
    m = model.manifest
    if m.feature_set != FEATURE_SET:
        raise ModelRefused(f"{model.path}: feature set {m.feature_set!r}, the signal bridge computes {FEATURE_SET!r}")
    got = [tuple(f) for f in m.features]
    want = list(FEATURE_SPEC)
    if got != want:
        raise ModelRefused(
            f"{model.path}: feature schema {[f'{n}:{t}' for n, t in got]} does not match the signal bridge's "
            f"{[f'{n}:{t}' for n, t in want]} (names, order and dtype must be equal)"
        )
    shape = model.session.get_inputs()[0].shape
    width = shape[-1] if shape else None
    if isinstance(width, int) and width != len(want):
        raise ModelRefused(f"{model.path}: the ONNX input takes {width} features, the schema lists {len(want)}")


def check_parity(model: LoadedModel, tolerance: float = PARITY_TOLERANCE) -> float:
    """Max abs difference between the model's outputs and the fixture's expected ones."""
    fixture = model.manifest.parity
    got = model.predict_batch(fixture.inputs)
    worst = 0.0
    for i, (g, e) in enumerate(zip(got.tolist(), fixture.expected, strict=True)):
        diff = abs(g - e)
        if not diff <= tolerance:  # NaN fails too
            raise ModelRefused(
                f"{model.path}: parity fixture row {i}: output {g!r}, expected {e!r} (tolerance {tolerance})"
            )
        worst = max(worst, diff)
    return worst


def check_finite(model: LoadedModel, rows: Sequence[Sequence[float]]) -> None:
    for i, row in enumerate(rows):
        p = model.predict_proba(row)
        if not (math.isfinite(p) and 0.0 <= p <= 1.0):
            raise ModelRefused(f"{model.path}: prediction on live feature row {i} is {p!r}, not a probability")


def gate_model(path: Path | str, recent_rows: Sequence[Sequence[float]] | None = None) -> LoadedModel:
    """Load `path` and run every gate; returns the model ready to serve."""
    model = load_model(path)
    check_schema(model)
    check_parity(model)
    check_finite(model, recent_rows or model.manifest.parity.inputs)
    return model
