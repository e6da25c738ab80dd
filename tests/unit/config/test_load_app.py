"""Strategy specs are checked where config and strategies meet (`bootstrap.load_app`, used
by the CLI, `pyrt verify-config` and `pyrt run`), not inside the config package, which
imports no service; the problems still name file, field and reason."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from pyrt.bootstrap import app_problems, load_app
from pyrt.config import ConfigError, load_config
from pyrt.ops.cli import app

SYS = "config/system.json"

INVALID_STRATEGIES = [
    (
        "strategy kind",
        {"signals__strategies__0__kind": "magic"},
        "signals.strategies.0.kind: unknown strategy kind 'magic'",
    ),
    (
        "strategy param unknown",
        {"signals__strategies__0__params": {"fast_period": 3}},
        "signals.strategies.0.params: strategy 'ema_cross': invalid params: Object contains unknown field `fast_period`",
    ),
    (
        "ema order",
        {"signals__strategies__0__params": {"fast": 30}},
        "signals.strategies.0.params: strategy 'ema_cross': invalid params: slow: must be greater than fast",
    ),
    (
        "rsi bounds",
        {"signals__strategies__1__params": {"overbought": 100}},
        "signals.strategies.1.params: strategy 'rsi_revert': invalid params: overbought: must be between oversold and 100",
    ),
]


@pytest.mark.parametrize(
    ("changes", "expected"), [c[1:] for c in INVALID_STRATEGIES], ids=[c[0] for c in INVALID_STRATEGIES]
)
def test_a_bad_strategy_spec_names_file_field_and_reason(cfg: Any, changes: dict[str, Any], expected: str) -> None:
    cfg.edit_system(**changes)
    load_config(cfg.path, env={})  # the config alone is well-formed
    with pytest.raises(ConfigError) as info:
        load_app(cfg.path, env={})
    assert any(line.startswith(f"{SYS}: {expected}") for line in info.value.problems), info.value.problems
    assert any(line.startswith(f"{SYS}: {expected}") for line in app_problems(cfg.path, env={}))


def test_a_valid_config_loads_as_an_app(cfg: Any) -> None:
    assert app_problems(cfg.path, env={}) == []
    assert [s.name for s in load_app(cfg.path, env={}).system.signals.strategies] == [
        "ema_cross",
        "rsi_revert",
        "ml_model",
    ]


def test_verify_config_and_pyrt_run_report_a_bad_strategy(cfg: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg.edit_system(signals__strategies__0__kind="magic")
    for var in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "PYRT_ROOT"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    verify = runner.invoke(app, ["verify-config", "--config-dir", str(cfg.path)])
    assert verify.exit_code != 0
    assert f"{SYS}: signals.strategies.0.kind: unknown strategy kind 'magic'" in verify.output
    run = runner.invoke(app, ["run", "signal-bridge", "--config-dir", str(cfg.path)])
    assert run.exit_code == 2
    assert "signals.strategies.0.kind: unknown strategy kind 'magic'" in run.output


def test_the_config_package_imports_no_signal_service() -> None:
    code = "import sys, pyrt.config; print(sorted(m for m in sys.modules if m.startswith('pyrt.services.signals')))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"
