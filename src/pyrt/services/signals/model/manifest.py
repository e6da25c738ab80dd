"""A model's manifest: what it was trained on and how to check it before serving.

It is stored twice: inside the ONNX file (metadata_props key `pyrt_manifest`, JSON) and
beside it (`<name>-v<k>.json`, the same JSON plus the file's `sha256`). Fields: name and
version, feature set and schema (names, order, dtype), label horizon, training window and
data hash, py_rt version, metrics on the held-out part, a parity fixture (input rows and
the probabilities the trainer's ONNX export gave), and the training reference for drift
(per-feature bin edges and fractions, and those of the predictions)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgspec

MANIFEST_KEY = "pyrt_manifest"
MANIFEST_FORMAT = "pyrt-model/1"


class ManifestError(ValueError):
    """A manifest is missing or malformed; the message names the file and field."""


class Reference(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A training distribution for PSI: `edges` (inner bin edges, ascending) and the
    fraction of training rows in each of the len(edges) + 1 bins."""

    edges: list[float]
    fractions: list[float]


class Parity(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    inputs: list[list[float]]
    expected: list[float]


class Manifest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    format: str
    name: str
    version: int
    created_at: str
    model_kind: str
    feature_set: str
    features: list[list[str]]  # [[name, dtype], ...] in input order
    horizon: int
    label: str
    training: dict[str, Any]
    metrics: dict[str, float]
    pyrt_version: str
    parity: Parity
    reference: dict[str, Reference]  # feature name -> reference; "prediction" for the outputs
    sha256: str = ""  # only in the file beside the model (the ONNX cannot hold its own hash)

    @property
    def feature_names(self) -> list[str]:
        return [f[0] for f in self.features]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_manifest(text: str | bytes, where: str) -> Manifest:
    """Decode and check a manifest's JSON; ManifestError names `where` and the field."""
    try:
        m = msgspec.json.decode(text, type=Manifest)
    except msgspec.ValidationError as exc:
        raise ManifestError(f"{where}: manifest: {str(exc).replace('`$.', '`')}") from None
    except msgspec.DecodeError as exc:
        raise ManifestError(f"{where}: manifest: not JSON ({exc})") from None
    if m.format != MANIFEST_FORMAT:
        raise ManifestError(f"{where}: manifest: format: expected {MANIFEST_FORMAT!r}, got {m.format!r}")
    if m.version < 1:
        raise ManifestError(f"{where}: manifest: version: must be >= 1")
    if len(m.parity.inputs) != len(m.parity.expected) or not m.parity.inputs:
        raise ManifestError(f"{where}: manifest: parity: inputs and expected must be non-empty and of equal length")
    return m


def manifest_json(m: Manifest) -> str:
    return msgspec.json.encode(m).decode()


def sidecar_path(model_path: Path) -> Path:
    """Where the manifest beside a model lives: models/x-v3.onnx -> models/x-v3.json."""
    return model_path.with_suffix(".json")


def write_sidecar(model_path: Path, m: Manifest) -> Path:
    path = sidecar_path(model_path)
    path.write_text(json.dumps(msgspec.to_builtins(m), indent=2) + "\n")
    return path


def read_sidecar(model_path: Path) -> Manifest | None:
    path = sidecar_path(model_path)
    if not path.is_file():
        return None
    return parse_manifest(path.read_bytes(), str(path))
