"""`pyrt model train`: fit a classifier on historical bars and export it as a signed ONNX
artefact the `onnx_model` strategy can serve.

Steps: bars per symbol (CSV/Parquet files read as the replay and backtest read them, or
Alpaca history through alpaca-py) -> the features of `services.signals.features` (batch)
-> label 1 when the close `horizon` bars on is higher -> a time-ordered split (the last
`test_fraction` of the time axis is held out, with a `horizon`-bar embargo so no training
label looks into it; never shuffled) -> logistic regression or gradient-boosted trees ->
metrics on the held-out part -> skl2onnx export -> `models/<name>-v<k>.onnx` with its
manifest in the ONNX metadata and beside it (`<name>-v<k>.json`, plus the file's sha256).

scikit-learn, skl2onnx and onnx are imported only here, inside `train` (never at the start
of a service or of the CLI)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pyrt.domain.market import Bar
from pyrt.services.signals.features import FEATURE_NAMES, FEATURE_SET, FEATURE_SPEC, batch_features
from pyrt.services.signals.model.drift import make_reference
from pyrt.services.signals.model.loader import load_model
from pyrt.services.signals.model.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_KEY,
    Manifest,
    Parity,
    manifest_json,
    sha256_file,
    write_sidecar,
)

ModelKind = Literal["logreg", "gbm"]
_NAME_RE = re.compile(r"^[A-Za-z0-9_.]+$")
PARITY_ROWS = 16


class TrainingError(ValueError):
    """Training cannot proceed; the message says why (file, symbol or count)."""


@dataclass
class Dataset:
    x: Any  # float32 (n, N_FEATURES), rows ordered by time
    y: Any  # int (n,)
    ts: Any  # int64 bar start (n,)
    symbols: list[str]
    first_ns: int
    last_ns: int
    data_sha256: str
    sources: list[str]


@dataclass
class TrainResult:
    path: Path
    manifest: Manifest


def read_bar_files(paths: list[Path]) -> tuple[dict[str, list[Bar]], str]:
    """Bars per symbol from CSV/Parquet files (oldest first; a bar repeated across files,
    as in overlapping downloads, is kept once) and the sha256 of the files' bytes."""
    from pyrt.simbroker.replay import load_bars

    by_key: dict[tuple[str, int], Bar] = {}
    digest = hashlib.sha256()
    for path in paths:
        if not path.is_file():
            raise TrainingError(f"{path}: no such file")
        digest.update(path.read_bytes())
        rows, _unit = load_bars(path)
        for bar, _pos in rows:
            by_key.setdefault((bar.symbol, bar.ts_ns), bar)
    series: dict[str, list[Bar]] = {}
    for (symbol, _ts), bar in sorted(by_key.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        series.setdefault(symbol, []).append(bar)
    return series, digest.hexdigest()


def venue_daily_bars(cfg: Any, symbols: list[str], start_ns: int, end_ns: int) -> dict[str, list[Bar]]:
    """Daily bars from the configured venue (the sim broker or Alpaca's data API) through
    alpaca-py's historical client."""
    from pyrt.domain.clock import datetime_to_ns
    from pyrt.venues.alpaca.history import MinuteBarsClient

    client = MinuteBarsClient(
        cfg.venue.data_rest_url,
        cfg.secrets.api_key_id.get_secret_value(),
        cfg.secrets.api_secret_key.get_secret_value(),
        cfg.system.venue.feed,
    )
    series: dict[str, list[Bar]] = {}
    for symbol in symbols:
        rows = client.daily(symbol, start_ns, end_ns)
        if not rows:
            raise TrainingError(f"--symbols: no daily bars for {symbol} in the window from the venue")
        series[symbol] = [
            Bar(symbol, float(r["o"]), float(r["h"]), float(r["l"]), float(r["c"]), float(r["v"]),
                datetime_to_ns(datetime.fromisoformat(str(r["t"]))))
            for r in rows
        ]  # fmt: skip
    return series


def bars_digest(series: dict[str, list[Bar]]) -> str:
    h = hashlib.sha256()
    for symbol in sorted(series):
        for b in series[symbol]:
            h.update(f"{symbol},{b.ts_ns},{b.open!r},{b.high!r},{b.low!r},{b.close!r},{b.volume!r}\n".encode())
    return h.hexdigest()


def build_dataset(series: dict[str, list[Bar]], horizon: int, data_sha256: str, sources: list[str]) -> Dataset:
    """Feature rows and labels of every symbol, ordered by time across symbols."""
    import numpy as np

    xs, ys, ts = [], [], []
    for bars in series.values():
        close_list = [b.close for b in bars]
        closes = np.array(close_list)
        feats = batch_features([b.high for b in bars], [b.low for b in bars], close_list)
        n = len(bars)
        if n <= horizon:
            continue
        future = np.full(n, np.nan)
        future[: n - horizon] = closes[horizon:] / closes[: n - horizon] - 1.0
        ok = np.isfinite(feats).all(axis=1) & np.isfinite(future)
        xs.append(feats[ok])
        ys.append((future[ok] > 0.0).astype(np.int64))
        ts.append(np.array([b.ts_ns for b in bars], dtype=np.int64)[ok])
    if not xs or sum(len(y) for y in ys) == 0:
        raise TrainingError("no labelled feature rows: too few bars per symbol for the warm-up and horizon")
    x, y, t = np.concatenate(xs), np.concatenate(ys), np.concatenate(ts)
    order = np.argsort(t, kind="stable")
    all_ts = [b.ts_ns for bars in series.values() for b in bars]
    return Dataset(
        x=x[order].astype(np.float32),
        y=y[order],
        ts=t[order],
        symbols=sorted(series),
        first_ns=min(all_ts),
        last_ns=max(all_ts),
        data_sha256=data_sha256,
        sources=sources,
    )


def time_split(ts: Any, test_fraction: float, embargo: int) -> tuple[Any, Any]:
    """Boolean masks (train, test): the test part is every row at or after the time cut
    that leaves `test_fraction` of the distinct times out; the `embargo` distinct times
    before the cut are dropped (their labels would look into the test part)."""
    import numpy as np

    times = np.unique(ts)
    if len(times) < 10:
        raise TrainingError(f"only {len(times)} distinct bar times: too few for a train/test split")
    cut_i = int(len(times) * (1.0 - test_fraction))
    cut_i = min(max(cut_i, 1 + embargo), len(times) - 1)
    cut = times[cut_i]
    train_end = times[cut_i - embargo] if embargo else cut
    return ts < train_end, ts >= cut


def next_version(models_dir: Path, name: str) -> int:
    found = [0]
    for p in models_dir.glob(f"{name}-v*.onnx"):
        m = re.fullmatch(rf"{re.escape(name)}-v(\d+)\.onnx", p.name)
        if m:
            found.append(int(m.group(1)))
    return max(found) + 1


def _fit(kind: ModelKind, x: Any, y: Any, trees: int, seed: int) -> Any:
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
        from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
        from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    elif kind == "gbm":
        from sklearn.ensemble import GradientBoostingClassifier  # type: ignore[import-untyped]

        model = GradientBoostingClassifier(n_estimators=trees, max_depth=3, learning_rate=0.05, random_state=seed)
    else:
        raise TrainingError(f"--model: unknown model kind {kind!r} (logreg or gbm)")
    if len(set(y.tolist())) < 2:
        raise TrainingError("the training labels are all one class: use more data or another horizon")
    model.fit(x, y)
    return model


def _metrics(y: Any, p: Any) -> dict[str, float]:
    import numpy as np
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score  # type: ignore[import-untyped]

    out = {
        "n_test": float(len(y)),
        "accuracy": float(accuracy_score(y, (p >= 0.5).astype(int))),
        "base_rate": float(np.mean(y)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1])),
    }
    out["auc"] = float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else float("nan")
    return out


def _export(model: Any, n_features: int, manifest_text: str, path: Path) -> None:
    from skl2onnx import to_onnx  # type: ignore[import-untyped]
    from skl2onnx.common.data_types import FloatTensorType  # type: ignore[import-untyped]

    onx = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, n_features]))],
        options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    entry = onx.metadata_props.add()
    entry.key = MANIFEST_KEY
    entry.value = manifest_text
    onx.producer_name = "pyrt"
    onx.doc_string = f"py_rt model {path.stem}"
    tmp = path.with_suffix(".onnx.tmp")
    tmp.write_bytes(onx.SerializeToString())
    tmp.replace(path)


def train(
    dataset: Dataset,
    models_dir: Path,
    *,
    name: str = "model",
    kind: ModelKind = "logreg",
    horizon: int = 1,
    test_fraction: float = 0.2,
    trees: int = 100,
    seed: int = 0,
    now: datetime | None = None,
) -> TrainResult:
    """Fit, evaluate, export and sign one model; returns the artefact's path and manifest."""
    import numpy as np

    from pyrt import __version__

    if not _NAME_RE.match(name):
        raise TrainingError(f"--name: {name!r}: use letters, digits, '_' or '.'")
    if not 0.0 < test_fraction < 1.0:
        raise TrainingError("--test-fraction: must be between 0 and 1")
    train_mask, test_mask = time_split(dataset.ts, test_fraction, embargo=horizon)
    x_tr, y_tr = dataset.x[train_mask], dataset.y[train_mask]
    x_te, y_te = dataset.x[test_mask], dataset.y[test_mask]
    if len(y_tr) < 20 or len(y_te) < 5:
        raise TrainingError(f"too few rows after the split (train {len(y_tr)}, test {len(y_te)})")
    model = _fit(kind, x_tr.astype(np.float64), y_tr, trees, seed)
    p_te = model.predict_proba(x_te.astype(np.float64))[:, 1]
    p_tr = model.predict_proba(x_tr.astype(np.float64))[:, 1]
    metrics = _metrics(y_te, p_te) | {"n_train": float(len(y_tr))}

    models_dir.mkdir(parents=True, exist_ok=True)
    version = next_version(models_dir, name)
    path = models_dir / f"{name}-v{version}.onnx"
    created = (now or datetime.now(UTC)).isoformat()
    reference = {n: make_reference(x_tr[:, i]) for i, n in enumerate(FEATURE_NAMES)}
    reference["prediction"] = make_reference(p_tr)
    pick = np.linspace(0, len(x_te) - 1, min(PARITY_ROWS, len(x_te))).astype(int)
    fixture_x = x_te[pick]
    manifest = Manifest(
        format=MANIFEST_FORMAT,
        name=name,
        version=version,
        created_at=created,
        model_kind=kind if kind == "logreg" else f"gbm-{trees}",
        feature_set=FEATURE_SET,
        features=[[n, t] for n, t in FEATURE_SPEC],
        horizon=horizon,
        label=f"close[t+{horizon}] > close[t]",
        training={
            "symbols": dataset.symbols,
            "from": _iso(dataset.first_ns),
            "to": _iso(dataset.last_ns),
            "train_until": _iso(int(dataset.ts[train_mask].max())),
            "test_from": _iso(int(dataset.ts[test_mask].min())),
            "rows": len(dataset.y),
            "data_sha256": dataset.data_sha256,
            "sources": dataset.sources,
            "seed": seed,
        },
        metrics=metrics,
        pyrt_version=__version__,
        # the fixture's expected outputs are filled from the exported model below
        parity=Parity(inputs=fixture_x.astype(float).tolist(), expected=[0.0] * len(pick)),
        reference=reference,
    )
    # Export once to learn the ONNX outputs on the fixture, then write the final artefact
    # with those as the expected values (float32 ONNX vs float64 sklearn differ ~1e-7).
    _export(model, len(FEATURE_NAMES), manifest_json(manifest), path)
    probe = load_model(path)
    onnx_p = probe.predict_batch(fixture_x)
    sk_p = model.predict_proba(fixture_x.astype(np.float64))[:, 1]
    manifest.metrics["onnx_vs_sklearn_max_abs_diff"] = float(np.max(np.abs(onnx_p - sk_p)))
    manifest.parity = Parity(inputs=fixture_x.astype(float).tolist(), expected=[float(v) for v in onnx_p])
    _export(model, len(FEATURE_NAMES), manifest_json(manifest), path)
    manifest.sha256 = sha256_file(path)
    write_sidecar(path, manifest)
    return TrainResult(path, manifest)


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat()
