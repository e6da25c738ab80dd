"""`pyrt model train` as a process on the shared daily bars: the artefact loads in real
onnxruntime, matches scikit-learn's probabilities and its own parity fixture, was split by
time, and the CLI's and the signal bridge's start-up import none of the training stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pyrt.services.signals.features import FEATURE_NAMES, batch_features
from pyrt.services.signals.model.gates import check_parity, gate_model
from pyrt.services.signals.model.manifest import sha256_file
from tests.support.history import daily_series, historical_files


def _train(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    files = [historical_files(s)[0] for s in ("AAPL", "MSFT")]
    data = [a for f in files for a in ("--data", str(f))]
    return subprocess.run(
        [sys.executable, "-m", "pyrt", "model", "train", *data, "--out-dir", str(out), *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["logreg", "gbm"])
def test_train_export_load_and_parity(tmp_path: Path, kind: str) -> None:
    done = _train(tmp_path, "--model", kind, "--trees", "30", "--name", f"m_{kind}", "--horizon", "2")
    assert done.returncode == 0, done.stderr
    path = tmp_path / f"m_{kind}-v1.onnx"
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["sha256"] == sha256_file(path)
    assert f"sha256={side['sha256'][:12]}" in done.stdout
    model = gate_model(path)
    assert check_parity(model) <= 1e-5
    assert model.manifest.horizon == 2 and model.manifest.training["symbols"] == ["AAPL", "MSFT"]
    assert model.manifest.training["train_until"] < model.manifest.training["test_from"]
    assert model.manifest.metrics["onnx_vs_sklearn_max_abs_diff"] <= 1e-5

    # live-style rows: the served model's answers on MSFT's whole series are probabilities
    highs, lows, closes = daily_series("MSFT")
    rows = batch_features(highs, lows, closes)
    rows = rows[np.isfinite(rows).all(axis=1)]
    p = model.predict_batch(rows)
    assert p.shape == (len(rows),) and np.all((p >= 0) & (p <= 1))
    single = [model.predict_proba(r) for r in rows[:20]]
    assert np.allclose(single, p[:20], atol=1e-7)
    assert len(model.manifest.reference) == len(FEATURE_NAMES) + 1


def test_training_refuses_a_missing_file_with_its_name(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pyrt", "model", "train", "--data", str(tmp_path / "nope.csv"), "--out-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "nope.csv: no such file" in done.stderr


def test_heavy_ml_imports_stay_out_of_start_up() -> None:
    probe = (
        "import sys, pyrt.ops.cli, pyrt.services.signals.service, pyrt.services.signals.strategies.registry;"
        "print(sorted(m for m in ('sklearn', 'skl2onnx', 'onnx', 'onnxruntime', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
