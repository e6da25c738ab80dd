"""The control API's model routes over the one facade: the registry read, a gated deploy
(a pickle refused with 409 and the reason, a trained model served and audited) and a
rollback, on a deployment with no services running."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from fastapi.testclient import TestClient

from pyrt.config import load_config
from pyrt.ops.api import build_api
from pyrt.ops.auth import TokenSet
from pyrt.ops.facade import ControlFacade
from tests.support.deploy import make_deployment
from tests.support.models import train_tiny

ADMIN = "admin-token-" + "a" * 32
READ = "read-token-" + "r" * 32
H = {"Authorization": f"Bearer {ADMIN}"}


def test_models_routes_deploy_refuse_and_roll_back(tmp_path: Path) -> None:
    config_dir = make_deployment(tmp_path / "root")
    cfg = load_config(config_dir, env={})
    facade = ControlFacade(cfg, timeout_ms=200)
    home = tmp_path / "home"
    first = train_tiny(home, name="m")
    second = train_tiny(home, name="m", kind="gbm")
    evil = home / "evil.onnx"
    evil.write_bytes(pickle.dumps({"w": 1}))
    with TestClient(build_api(cfg, facade, TokenSet(ADMIN, READ, from_env=True))) as client:
        assert client.get("/api/v1/models", headers=H).json()["models"] == []

        refused = client.post("/api/v1/models/deploy", json={"path": str(evil), "reason": "t"}, headers=H)
        assert refused.status_code == 409 and "pickle" in refused.text

        for model in (first, second):
            ok = client.post("/api/v1/models/deploy", json={"path": str(model), "reason": "t"}, headers=H)
            assert ok.status_code == 200, ok.text
        system = json.loads((config_dir / "system.json").read_text())
        assert system["signals"]["model_path"] == "models/m-v2.onnx"
        listed = client.get("/api/v1/models", headers=H).json()
        assert [(m["file"], m["served"]) for m in listed["models"]] == [("m-v1.onnx", False), ("m-v2.onnx", True)]
        assert [h["version"] for h in listed["history"]] == [1, 2]

        back = client.post("/api/v1/models/rollback", json={"reason": "t"}, headers=H)
        assert back.status_code == 200 and "m-v1.onnx" in back.json()["detail"]
        assert json.loads((config_dir / "system.json").read_text())["signals"]["model_path"] == "models/m-v1.onnx"
        assert client.post("/api/v1/models/rollback", headers=H).status_code == 409  # nothing older
        actions = [e["action"] for e in client.get("/api/v1/audit", headers=H).json()]
        assert actions.count("model.deploy") == 3 and actions.count("model.rollback") == 2
