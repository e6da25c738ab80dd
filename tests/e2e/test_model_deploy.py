"""The operations guide's "Deploy New ML Model", literally, on the sim broker:

    cp ~/new_model.onnx models/trading_model_v2.onnx
    edit config/system.json: "model_path": "models/trading_model_v2.onnx"
    restart the signal bridge (here: ./scripts/restart_trading_system.sh)
    grep "Model loaded" logs/signal_bridge.log

The model is trained by `pyrt model train` on the shared daily bars; after the restart the
onnx_model strategy trades through risk and execution on the sim broker. Then `pyrt model
deploy` refuses a pickle (the model keeps serving), and a deploy + rollback swap models in
the running signal bridge without a restart."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import signal
from pathlib import Path

import pytest

from tests.support.deploy import make_deployment, wait_for
from tests.support.history import historical_files

from .conftest import System

pytestmark = pytest.mark.e2e

ML_FAST = {
    "name": "ml_fast",
    "kind": "onnx_model",
    "symbols": ["AAPL"],
    "params": {
        "source": "quote",
        "sample_interval_s": 0.2,
        "buy_threshold": 0.0,  # any probability is a long view: the first ready bar trades
        "sell_threshold": 0.0,
        "drift_window": 100_000,  # daily-bar features against 0.2 s mids would read as drift
        "drift_min_samples": 100_000,
        "latency_budget_us": 1_000_000,
    },
}
LOADED = re.compile(r"Model loaded: (\S+) version=(\d+) sha256=([0-9a-f]{12}) features=(\d+)")


@pytest.fixture
def ml_system(tmp_path: Path) -> System:
    root = tmp_path / "root"
    config_dir = make_deployment(
        root, system={"signals": {"strategies": [ML_FAST]}, "sim_broker": {"quotes_per_second": 20, "seed": 5}}
    )
    system = System(root, config_dir)
    try:
        yield system
    finally:
        system.pyrt("down", "--grace", "5", check=False, timeout=90)


def _loads(system: System) -> list[tuple[str, ...]]:
    """The signal bridge's own "Model loaded" lines (audit lines quoting one left out)."""
    return [m for line in _log(system).splitlines() if "pyrt.audit" not in line for m in LOADED.findall(line)]


def _log(system: System) -> str:
    path = system.root / "logs" / "signal_bridge.log"
    return path.read_text() if path.exists() else ""


def test_deploy_new_ml_model_as_the_guide_says(ml_system: System, tmp_path: Path) -> None:
    system = ml_system
    home = tmp_path / "home"
    out = system.pyrt("model", "train", "--data", str(historical_files("AAPL")[0]), "--name", "new_model",
                      "--out-dir", str(home), timeout=180)  # fmt: skip
    assert "trained" in out.stdout
    system.pyrt("up", "--detach", timeout=180)
    assert "Model loaded" not in _log(system)  # no model_path yet: the model strategy is idle

    # the guide, literally
    (system.root / "models").mkdir(exist_ok=True)
    shutil.copyfile(home / "new_model-v1.onnx", system.root / "models" / "trading_model_v2.onnx")
    system_json = system.config_dir / "system.json"
    cfg = json.loads(system_json.read_text())
    cfg["signals"]["model_path"] = "models/trading_model_v2.onnx"
    system_json.write_text(json.dumps(cfg, indent=2))
    restart = system.script(
        "restart_trading_system.sh", "--config-dir", str(system.config_dir), timeout=240, check=False
    )

    line = LOADED.search(_log(system))
    assert line, (
        f"no 'Model loaded' in logs/signal_bridge.log:\n{restart.stdout}\n{restart.stderr}\n{_log(system)[-3000:]}"
    )
    path, version, sha12, n = line.groups()
    assert path.endswith("models/trading_model_v2.onnx") and version == "1" and n == "7"
    assert sha12 == json.loads((home / "new_model-v1.json").read_text())["sha256"][:12]

    # the model strategy trades on the sim broker: an approved intent, then a fill
    wait_for(lambda: re.search(r"intent approved intent=\S+ buy 10 AAPL", _log(system)), timeout=60,
             what="an approved model intent")  # fmt: skip
    wait_for(lambda: "AAPL" in system.pyrt("positions", check=False).stdout, timeout=30, what="an AAPL position")

    # a pickle is refused by the gate, and the running model keeps serving
    bad = tmp_path / "evil.onnx"
    bad.write_bytes(pickle.dumps({"w": 1}))
    refused = system.pyrt("model", "deploy", str(bad), check=False)
    assert refused.returncode == 1 and "pickle" in refused.stderr, refused.stderr
    assert json.loads(system_json.read_text())["signals"]["model_path"] == "models/trading_model_v2.onnx"

    # a gated deploy and a rollback swap models in the running bridge (no restart)
    system.pyrt("model", "train", "--data", str(historical_files("AAPL")[0]), "--name", "new_model", "--model", "gbm",
                "--trees", "50", "--out-dir", str(home), timeout=180)  # fmt: skip
    deployed = system.pyrt("model", "deploy", str(home / "new_model-v2.onnx"), "--reason", "e2e")
    assert "Model loaded" in deployed.stdout and "new_model-v2.onnx" in deployed.stdout
    assert len(_loads(system)) == 2
    back = system.pyrt("model", "rollback", "--reason", "e2e")
    assert "trading_model_v2.onnx" in back.stdout
    loads = _loads(system)
    assert len(loads) == 3 and loads[-1][0].endswith("trading_model_v2.onnx")
    listed = system.pyrt("model", "list").stdout
    assert re.search(r"\* trading_model_v2\.onnx", listed), listed

    # the guide's edit plus SIGHUP instead of a restart: the bridge gates and swaps
    cfg = json.loads(system_json.read_text())
    cfg["signals"]["model_path"] = "models/new_model-v2.onnx"
    system_json.write_text(json.dumps(cfg, indent=2))
    pid = int((system.root / "run" / "signal_bridge.pid").read_text().split()[0])
    os.kill(pid, signal.SIGHUP)
    wait_for(lambda: len(_loads(system)) == 4, timeout=30, what="the model swapped after SIGHUP")
    assert _loads(system)[-1][0].endswith("new_model-v2.onnx")

    # a shadow period: the candidate predicts beside the served model, then is promoted
    shadowed = system.pyrt("model", "deploy", str(home / "new_model-v1.onnx"), "--shadow-bars", "10",
                           "--min-agreement", "0.9", timeout=120)  # fmt: skip
    assert re.search(r"after a shadow period: \d+/\d+ bars agreed", shadowed.stdout), shadowed.stdout
    assert _loads(system)[-1][0].endswith("new_model-v1.onnx")


def test_an_expired_model_stops_its_strategy_and_makes_it_reduce_only(tmp_path: Path) -> None:
    """A model fault in the real processes: the model expires (max_model_age_days far below
    its age), so on its first ready bar the strategy stops, the bridge logs the alert, the
    risk manager holds that strategy (only it: the breaker stays off) to reducing orders,
    and both actions are in the audit log."""
    from pyrt.config import load_config
    from pyrt.ops.facade import ControlFacade

    home = tmp_path / "home"
    root = tmp_path / "root"
    expiring = {**ML_FAST, "params": {**ML_FAST["params"], "max_model_age_days": 1e-9}}
    config_dir = make_deployment(
        root,
        system={
            "signals": {"strategies": [expiring], "model_path": str(home / "new_model-v1.onnx")},
            "sim_broker": {"quotes_per_second": 20, "seed": 5},
        },
    )
    system = System(root, config_dir)
    try:
        system.pyrt("model", "train", "--data", str(historical_files("AAPL")[0]), "--name", "new_model",
                    "--out-dir", str(home), timeout=180)  # fmt: skip
        system.pyrt("up", "--detach", timeout=180)
        assert _loads(system)
        wait_for(lambda: "ALERT model unhealthy" in _log(system), timeout=60, what="the model-health alert")
        assert "expired" in _log(system)
        facade = ControlFacade(load_config(config_dir), timeout_ms=3000)
        held = wait_for(
            lambda: (
                facade.command("risk_manager", "status").data.get("reduce_only_strategies", {}).get(expiring["name"])
            ),
            timeout=20,
            what="the model's strategy reduce-only at the risk manager",
        )
        assert held.startswith("model health") and "expired" in held
        status = facade.command("risk_manager", "status").data
        assert not status["breaker"]["active"] and status["trading_state"] == "ACTIVE"  # the others trade on
        wait_for(
            lambda: {"strategy_reduce_only", "model.unhealthy"} <= {e["action"] for e in facade.audit.entries(200)},
            timeout=10,
            what="both actions in the audit log",
        )
        assert not re.search(r"intent approved intent=\S+ buy", _log(system))  # it never traded
    finally:
        system.pyrt("down", "--grace", "5", check=False, timeout=90)
