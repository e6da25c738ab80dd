"""The order path's two waits are one rule in config (review P6): the signal bridge waits on
risk (`signals.risk_timeout_ms`) longer than risk waits on the execution engine
(`risk.execution_timeout_ms`), or the bridge gives up on an intent risk still forwards and
may send it again."""

from __future__ import annotations

from typing import Any

import pytest

from pyrt.config import ConfigError, load_config

SYSTEM = "config/system.json"


def test_shipped_timeouts_keep_the_order(cfg: Any) -> None:
    system = load_config(cfg.path, env={}).system
    assert system.risk.execution_timeout_ms == 3000
    assert system.signals.risk_timeout_ms > system.risk.execution_timeout_ms


@pytest.mark.parametrize("risk_timeout_ms", [3000, 2000])
def test_the_bridge_must_wait_longer_than_risk(cfg: Any, risk_timeout_ms: int) -> None:
    cfg.edit_system(signals__risk_timeout_ms=risk_timeout_ms)
    with pytest.raises(ConfigError) as info:
        load_config(cfg.path, env={})
    expected = f"{SYSTEM}: signals.risk_timeout_ms: must be > risk.execution_timeout_ms (3000)"
    assert expected in info.value.problems, str(info.value)


def test_a_longer_execution_wait_needs_a_longer_bridge_wait(cfg: Any) -> None:
    cfg.edit_system(risk__execution_timeout_ms=6000)
    with pytest.raises(ConfigError, match="signals.risk_timeout_ms: must be > risk.execution_timeout_ms"):
        load_config(cfg.path, env={})
    cfg.edit_system(risk__execution_timeout_ms=6000, signals__risk_timeout_ms=8000)
    assert load_config(cfg.path, env={}).system.risk.execution_timeout_ms == 6000


def test_the_execution_wait_can_be_set_by_environment(cfg: Any) -> None:
    system = load_config(cfg.path, env={"PYRT_RISK__EXECUTION_TIMEOUT_MS": "2500"}).system
    assert system.risk.execution_timeout_ms == 2500
