"""Tiny real models for the ML tests: logistic regression (or a small gbm) trained on a
slice of the shared daily bars and exported to ONNX by the real trainer, plus helpers that
rewrite a model's manifest or graph to make the bad models the gates must refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from pyrt.services.signals.model.manifest import MANIFEST_KEY, Manifest, parse_manifest, sidecar_path
from tests.support.history import historical_files


def train_tiny(
    models_dir: Path, symbol: str = "AAPL", kind: str = "logreg", name: str = "tiny", trees: int = 20
) -> Path:
    """Train on `symbol`'s shared daily bars (one file, about 250 bars) and return the .onnx."""
    from pyrt.ops.model_train import build_dataset, read_bar_files, train

    files = historical_files(symbol)[:1]
    series, digest = read_bar_files(files)
    dataset = build_dataset(series, 1, digest, [str(f) for f in files])
    return train(dataset, models_dir, name=name, kind=kind, trees=trees).path  # type: ignore[arg-type]


def rewrite(src: Path, dst: Path, edit_manifest: Any = None, edit_graph: Any = None) -> Path:
    """Copy `src` to `dst` (no sidecar) after editing its embedded manifest (a function of
    the manifest's builtins dict) and/or its onnx graph (a function of the ModelProto)."""
    import onnx

    proto = onnx.load(str(src))
    for prop in proto.metadata_props:
        if prop.key == MANIFEST_KEY and edit_manifest is not None:
            data = msgspec.json.decode(prop.value)
            edit_manifest(data)
            prop.value = msgspec.json.encode(data).decode()
    if edit_graph is not None:
        edit_graph(proto)
    dst.write_bytes(proto.SerializeToString())
    sidecar_path(dst).unlink(missing_ok=True)
    return dst


def embedded_manifest(path: Path) -> Manifest:
    import onnx

    proto = onnx.load(str(path))
    value = next(p.value for p in proto.metadata_props if p.key == MANIFEST_KEY)
    return parse_manifest(value, str(path))


def nan_model(src: Path, dst: Path) -> Path:
    """A model with `src`'s manifest whose probabilities are NaN for every row."""
    import onnx
    from onnx import TensorProto, helper

    manifest = next(p.value for p in onnx.load(str(src)).metadata_props if p.key == MANIFEST_KEY)
    n = len(msgspec.json.decode(manifest)["features"])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [1, n], [0.0] * n)
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [
        helper.make_node("Mul", ["features", "zero"], ["z"]),
        helper.make_node("ReduceSum", ["z", "axes"], ["s"], keepdims=1),
        helper.make_node("Div", ["s", "s"], ["nan"]),
        helper.make_node("Concat", ["nan", "nan"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "nan",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        initializer=[zero, axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    entry = model.metadata_props.add()
    entry.key, entry.value = MANIFEST_KEY, manifest
    dst.write_bytes(model.SerializeToString())
    return dst
