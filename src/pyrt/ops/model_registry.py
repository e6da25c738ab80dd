"""The model registry of a deployment: the artefacts in `models/` (each `.onnx` with its
manifest beside it) and `models/registry.json`, the history of what was served (newest
last). `deploy` gates a file, copies it into `models/`, points `signals.model_path` of
config/system.json at it (the guide's edit, so a restart serves it too) and, when the
signal bridge runs, has it load the model at once (control command `model_load`: it gates
the model again on its live features and answers). `rollback` serves the previous entry of
the history the same way (the bridge swaps back from memory, no restart).

Each step that fails leaves the served model alone: a refused model changes neither the
config nor the registry."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyrt.services.signals.model.gates import gate_model
from pyrt.services.signals.model.loader import ModelRefused
from pyrt.services.signals.model.manifest import read_sidecar, sha256_file, sidecar_path, write_sidecar

REGISTRY_FILE = "registry.json"
MODEL_KIND = "onnx_model"


@dataclass
class Outcome:
    ok: bool
    detail: str
    served: str | None = None  # path now in signals.model_path
    bridge: str = ""  # what the running signal bridge said ("" when it is not running)


def models_dir(cfg: Any) -> Path:
    return Path(cfg.system.paths.models_dir)


def registry_path(cfg: Any) -> Path:
    return models_dir(cfg) / REGISTRY_FILE


def read_registry(cfg: Any) -> dict[str, Any]:
    path = registry_path(cfg)
    if not path.is_file():
        return {"history": []}
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("history"), list):
        raise ValueError(f"{path}: history: expected a list")
    return data


def _write_registry(cfg: Any, data: dict[str, Any]) -> None:
    path = registry_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def served_path(cfg: Any) -> Path | None:
    """signals.model_path as config/system.json says now (a long-running process's loaded
    config may predate a deploy), resolved against the deployment root."""
    try:
        value = json.loads((Path(cfg.config_dir) / "system.json").read_text()).get("signals", {}).get("model_path")
    except (OSError, ValueError):
        value = cfg.system.signals.model_path
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else Path(cfg.root) / path


def list_models(cfg: Any) -> list[dict[str, Any]]:
    """Every artefact in models/ with its manifest summary and whether it is served."""
    served = served_path(cfg)
    out = []
    for path in sorted(models_dir(cfg).glob("*.onnx")):
        row: dict[str, Any] = {"file": path.name, "served": served is not None and served.resolve() == path.resolve()}
        try:
            m = read_sidecar(path)
        except ValueError as exc:
            row["error"] = str(exc)
            m = None
        if m is not None:
            row |= {
                "name": m.name,
                "version": m.version,
                "kind": m.model_kind,
                "created_at": m.created_at,
                "sha256": m.sha256[:12],
                "auc": m.metrics.get("auc"),
                "accuracy": m.metrics.get("accuracy"),
            }
        out.append(row)
    return out


def show_model(cfg: Any, ref: str) -> dict[str, Any]:
    """The full manifest of a model (a path, or a file name in models/)."""
    path = _resolve(cfg, ref)
    m = read_sidecar(path)
    if m is None:
        model = gate_model(path)  # no sidecar: the manifest inside the file
        m = model.manifest
    import msgspec

    data: dict[str, Any] = msgspec.to_builtins(m)
    data.pop("reference", None)
    data["parity"] = {"rows": len(m.parity.inputs)}
    data["path"] = str(path)
    return data


def _resolve(cfg: Any, ref: str) -> Path:
    p = Path(ref)
    if not p.exists() and (models_dir(cfg) / ref).exists():
        p = models_dir(cfg) / ref
    return p.resolve()


def set_model_path(cfg: Any, path: Path | None) -> None:
    """Point signals.model_path of config/system.json at `path` (relative to the deployment
    root when it is under it), keeping every other field as it is."""
    system_json = Path(cfg.config_dir) / "system.json"
    data = json.loads(system_json.read_text())
    value: str | None = None
    if path is not None:
        root = Path(cfg.root).resolve()
        value = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    data.setdefault("signals", {})["model_path"] = value
    tmp = system_json.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(system_json)


def _bridge(
    cfg: Any, strategy: str, path: Path | None, reason: str, action: str = "model_load"
) -> tuple[bool | None, str, dict[str, Any]]:
    """Send a model control command (model_load: gate and serve `path`; model_shadow,
    model_promote, model_status) to a running signal bridge; (None, "", {}) when it does not
    run."""
    from pyrt.ops.facade import ControlFacade
    from pyrt.ops.status import live_pid

    if live_pid(cfg, "signal_bridge") is None:
        return None, "", {}
    facade = ControlFacade(cfg, timeout_ms=10_000)
    res = facade.command("signal_bridge", action, None, reason, None, strategy=strategy, path=str(path) if path else "")
    return res.ok, res.detail, res.data


def _shadow(cfg: Any, strategy: str, path: Path, reason: str, bars: int, timeout_s: float) -> tuple[bool, str]:
    """Run `path` in shadow in the running bridge until it has predicted `bars` bars; (ok,
    agreement text or why not)."""
    import time

    ok, detail, _ = _bridge(cfg, strategy, path, reason, "model_shadow")
    if ok is None:
        return False, "a shadow period needs the running signal bridge"
    if not ok:
        return False, detail
    deadline = time.monotonic() + timeout_s
    while True:
        _, _, data = _bridge(cfg, strategy, None, reason, "model_status")
        shadow = (data.get("models") or {}).get(strategy, {}).get("shadow") or {}
        if shadow.get("bars", 0) >= bars:
            return True, f"{shadow['agree']}/{shadow['bars']} bars agreed"
        if time.monotonic() > deadline:
            _bridge(cfg, strategy, None, reason, "model_shadow")  # stop the shadow
            return False, f"shadow saw only {shadow.get('bars', 0)} of {bars} bars in {timeout_s:.0f} s"
        time.sleep(0.2)


def _strategy_names(cfg: Any) -> list[str]:
    return [s.name for s in cfg.system.signals.strategies if s.kind == MODEL_KIND and s.enabled]


def deploy(
    cfg: Any,
    file: Path,
    actor: str = "cli",
    reason: str = "",
    shadow_bars: int = 0,
    min_agreement: float = 0.0,
    shadow_timeout_s: float = 600.0,
) -> Outcome:
    """Gate `file`, copy it into models/, serve it (config, registry, running bridge). With
    `shadow_bars`, the running bridge first runs it beside the served model for that many
    bars without trading; it is promoted only if the share of bars where both models took the
    same view is at least `min_agreement`."""
    try:
        model = gate_model(file)
    except ModelRefused as exc:
        return Outcome(False, str(exc))
    dest_dir = models_dir(cfg)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / file.name
    if file.resolve() != dest.resolve():
        if dest.exists() and sha256_file(dest) != model.sha256:
            return Outcome(False, f"{dest} exists (a different file of the same name is never overwritten)")
        if not dest.exists():
            shutil.copyfile(file, dest)
    side = read_sidecar(dest) if sidecar_path(dest).is_file() else None
    if side is None:
        if sidecar_path(file).is_file() and file.resolve() != dest.resolve():
            shutil.copyfile(sidecar_path(file), sidecar_path(dest))
        else:
            manifest = model.manifest
            manifest.sha256 = model.sha256
            write_sidecar(dest, manifest)
    bridge_ok, bridge_detail, agreement = None, "", ""
    for name in _strategy_names(cfg):
        action = "model_load"
        if shadow_bars:
            ok, agreement = _shadow(cfg, name, dest, reason, shadow_bars, shadow_timeout_s)
            if not ok:
                return Outcome(False, f"shadow period failed: {agreement}")
            agreed, seen = (int(x) for x in agreement.split()[0].split("/"))
            if agreed < min_agreement * seen:
                _bridge(cfg, name, None, reason, "model_shadow")  # stop the shadow
                return Outcome(False, f"shadow agreement {agreement} is below {min_agreement:.0%}: not promoted")
            action = "model_promote"
        bridge_ok, bridge_detail, _ = _bridge(cfg, name, dest, reason, action)
        if bridge_ok is False:
            return Outcome(False, f"the signal bridge refused it: {bridge_detail}", bridge=bridge_detail)
    data = read_registry(cfg)
    current = served_path(cfg)
    if not data["history"] and current is not None and current.is_file():
        data["history"].append(
            {
                "path": str(current),
                "name": Path(current).stem,
                "version": None,
                "sha256": None,
                "deployed_at": None,
                "actor": "config",
                "reason": "served before the first deploy",
            }
        )
    set_model_path(cfg, dest)
    data["history"].append(
        {
            "path": str(dest),
            "name": model.manifest.name,
            "version": model.version,
            "sha256": model.sha256,
            "deployed_at": datetime.now(UTC).isoformat(),
            "actor": actor,
            "reason": reason,
            **({"shadow": agreement} if agreement else {}),
        }
    )
    _write_registry(cfg, data)
    shadowed = f" after a shadow period: {agreement}" if agreement else ""
    return Outcome(True, model.describe().replace("Model loaded", "deployed", 1) + shadowed, str(dest), bridge_detail)


def rollback(cfg: Any, actor: str = "cli", reason: str = "") -> Outcome:
    """Serve the model deployed before the current one."""
    data = read_registry(cfg)
    history = data["history"]
    if len(history) < 2:
        return Outcome(False, "nothing to roll back to: fewer than two deployments in the registry")
    previous = history[-2]
    path = Path(previous["path"])
    bridge_ok, bridge_detail = None, ""
    for name in _strategy_names(cfg):
        bridge_ok, bridge_detail, _ = _bridge(cfg, name, path, reason or "rollback")
        if bridge_ok is False:
            return Outcome(
                False, f"the signal bridge refused the previous model: {bridge_detail}", bridge=bridge_detail
            )
    set_model_path(cfg, path)
    rolled = history.pop()
    data.setdefault("rolled_back", []).append(rolled | {"rolled_back_at": datetime.now(UTC).isoformat()})
    _write_registry(cfg, data)
    return Outcome(True, f"serving {path.name} (version {previous['version']}) again", str(path), bridge_detail)
