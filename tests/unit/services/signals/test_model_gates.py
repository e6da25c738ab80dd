"""The deploy gates on real ONNX files: a good model passes; each bad one is refused with
its reason (pickle, not ONNX, wrong schema, wrong fixture output, NaN output, tampered)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from pyrt.services.signals.features import FEATURE_NAMES, FEATURE_SET
from pyrt.services.signals.model.gates import PARITY_TOLERANCE, check_parity, gate_model
from pyrt.services.signals.model.loader import ModelRefused, load_model
from pyrt.services.signals.model.manifest import read_sidecar, sha256_file
from tests.support.models import nan_model, rewrite


def test_a_trained_model_passes_every_gate_and_carries_its_manifest(tiny_model: Path) -> None:
    model = gate_model(tiny_model)
    m = model.manifest
    assert m.feature_set == FEATURE_SET and m.feature_names == list(FEATURE_NAMES)
    assert all(dtype == "float32" for _, dtype in m.features)
    assert m.training["data_sha256"] and m.training["rows"] > 100
    assert m.training["test_from"] > m.training["train_until"]  # time-ordered, never shuffled
    assert {"accuracy", "auc", "log_loss", "n_test"} <= set(m.metrics)
    side = read_sidecar(tiny_model)
    assert side is not None and side.sha256 == sha256_file(tiny_model) == model.sha256
    assert check_parity(model) <= PARITY_TOLERANCE
    assert model.describe().startswith(f"Model loaded: {tiny_model} version=1 sha256={model.sha256[:12]} features=7")


def test_a_pickle_is_refused_as_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    with pytest.raises(ModelRefused, match="pickle"):
        gate_model(path)
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps([1], protocol=0))
    with pytest.raises(ModelRefused, match="pickle"):
        gate_model(pkl)


def test_a_file_that_is_not_onnx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"not a model at all")
    with pytest.raises(ModelRefused, match="not a valid ONNX model"):
        gate_model(path)


def test_a_wrong_feature_schema_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    def swap(m: dict) -> None:
        m["features"][0], m["features"][1] = m["features"][1], m["features"][0]

    bad = rewrite(tiny_model, tmp_path / "swapped.onnx", edit_manifest=swap)
    with pytest.raises(ModelRefused, match="feature schema"):
        gate_model(bad)

    def other_dtype(m: dict) -> None:
        m["features"][3][1] = "float64"

    with pytest.raises(ModelRefused, match="feature schema"):
        gate_model(rewrite(tiny_model, tmp_path / "dtype.onnx", edit_manifest=other_dtype))


def test_a_wrong_fixture_output_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    def shift(m: dict) -> None:
        m["parity"]["expected"][3] += 10 * PARITY_TOLERANCE

    with pytest.raises(ModelRefused, match="parity fixture row 3"):
        gate_model(rewrite(tiny_model, tmp_path / "parity.onnx", edit_manifest=shift))


def test_a_nan_model_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    bad = nan_model(tiny_model, tmp_path / "nan.onnx")
    assert load_model(bad).predict_proba([0.0] * 7) != load_model(bad).predict_proba([0.0] * 7)  # NaN
    with pytest.raises(ModelRefused, match="parity fixture row 0"):
        gate_model(bad)


def test_non_finite_live_features_fail_the_finite_gate(tiny_model: Path) -> None:
    with pytest.raises(ModelRefused, match="live feature row 0"):
        gate_model(tiny_model, recent_rows=[[float("inf")] * 7])


def test_a_file_whose_bytes_differ_from_its_manifest_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / tiny_model.name
    shutil.copyfile(tiny_model, copy)
    shutil.copyfile(tiny_model.with_suffix(".json"), copy.with_suffix(".json"))
    gate_model(copy)
    rewrite(tiny_model, copy, edit_manifest=lambda m: m.update(label="other"))
    shutil.copyfile(tiny_model.with_suffix(".json"), copy.with_suffix(".json"))
    with pytest.raises(ModelRefused, match="does not match its manifest"):
        gate_model(copy)


def test_a_model_without_a_manifest_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    def strip(proto: object) -> None:
        del proto.metadata_props[:]  # type: ignore[attr-defined]

    with pytest.raises(ModelRefused, match="no py_rt manifest"):
        gate_model(rewrite(tiny_model, tmp_path / "bare.onnx", edit_graph=strip))
