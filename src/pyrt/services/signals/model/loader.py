"""The one place that imports onnxruntime. `load_model(path)` refuses anything that is not
an ONNX model carrying a py_rt manifest (a pickle is named as such), opens one session
with one thread, and returns a `LoadedModel` whose `predict_proba(row)` gives the
probability of the positive class for one feature row."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pyrt.services.signals.model.manifest import (
    MANIFEST_KEY,
    Manifest,
    ManifestError,
    parse_manifest,
    read_sidecar,
    sha256_bytes,
)

_PICKLE_MAGIC = (b"\x80", b"(", b"c", b"]", b"}")


class ModelRefused(ValueError):
    """A model file cannot be served; the message says which file and why."""


def _sniff(path: Path, data: bytes) -> None:
    if not data:
        raise ModelRefused(f"{path}: empty file")
    if data[:1] == b"\x80" and len(data) > 1 and data[1] <= 5:
        raise ModelRefused(f"{path}: a Python pickle, not ONNX (pickles are never loaded: they run code)")
    if data[:2] == b"PK":
        raise ModelRefused(f"{path}: a zip archive (joblib/torch?), not ONNX")
    if data[:1] in _PICKLE_MAGIC[1:] and path.suffix in (".pkl", ".pickle", ".joblib"):
        raise ModelRefused(f"{path}: a Python pickle, not ONNX (pickles are never loaded: they run code)")
    if path.suffix != ".onnx":
        raise ModelRefused(f"{path}: expected an .onnx file")


class LoadedModel:
    """An open ONNX session with its manifest. Not thread-safe: one per strategy."""

    def __init__(self, path: Path, session: Any, manifest: Manifest, sha256: str, load_ms: float) -> None:
        import numpy as np

        self._np = np
        self.path = path
        self.session = session
        self.manifest = manifest
        self.sha256 = sha256
        self.load_ms = load_ms
        self.version = manifest.version
        self.n_features = len(manifest.features)
        self._input = session.get_inputs()[0].name
        outputs = [o.name for o in session.get_outputs()]
        self._output = "probabilities" if "probabilities" in outputs else outputs[-1]
        self._row = np.zeros((1, self.n_features), dtype=np.float32)

    def predict_proba(self, row: Any) -> float:
        """P(positive class) for one feature row (any sequence of n_features numbers)."""
        buf = self._row
        buf[0, :] = row
        out = self.session.run([self._output], {self._input: buf})[0]
        return float(out[0, 1] if out.ndim == 2 and out.shape[1] > 1 else out.ravel()[0])

    def predict_batch(self, rows: Any) -> Any:
        """P(positive class) for each row of a 2-D array."""
        np = self._np
        x = np.ascontiguousarray(rows, dtype=np.float32)
        out = self.session.run([self._output], {self._input: x})[0]
        return out[:, 1] if out.ndim == 2 and out.shape[1] > 1 else out.ravel()

    def describe(self) -> str:
        return f"Model loaded: {self.path} version={self.version} sha256={self.sha256[:12]} features={self.n_features}"


def load_model(path: Path | str) -> LoadedModel:
    """Open `path` in onnxruntime (one intra-op and one inter-op thread). Raises
    ModelRefused: not found, not ONNX (pickles named), no or bad manifest, or a manifest
    beside it whose sha256 does not match the file."""
    import numpy  # noqa: F401  (onnxruntime needs it; imported here, not at start-up)
    import onnxruntime as ort  # type: ignore[import-untyped]

    path = Path(path)
    t0 = time.perf_counter()
    try:
        data = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte
        raise ModelRefused(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    _sniff(path, data)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelRefused(f"{path}: not a valid ONNX model ({str(exc).splitlines()[0][:200]})") from None
    meta = session.get_modelmeta().custom_metadata_map
    if MANIFEST_KEY not in meta:
        raise ModelRefused(f"{path}: no py_rt manifest in the ONNX metadata ({MANIFEST_KEY})")
    digest = sha256_bytes(data)
    try:
        manifest = parse_manifest(meta[MANIFEST_KEY], f"{path} (metadata)")
        side = read_sidecar(path)
    except ManifestError as exc:
        raise ModelRefused(str(exc)) from None
    if side is not None and side.sha256 and side.sha256 != digest:
        raise ModelRefused(f"{path}: sha256 {digest[:12]} does not match its manifest's {side.sha256[:12]}")
    return LoadedModel(path, session, manifest, digest, (time.perf_counter() - t0) * 1000.0)
