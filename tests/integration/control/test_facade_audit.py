"""An operator action that breaks half-way (not a clean refusal) is still audited, once,
with the error and an unknown state after; the error reaches the caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyrt.bus import schema as wire
from pyrt.config import load_config
from pyrt.ops.audit import Caller
from pyrt.ops.facade import ControlFacade
from tests.support.deploy import make_deployment


def test_a_broken_action_is_audited_once(tmp_path: Path) -> None:
    facade = ControlFacade(load_config(make_deployment(tmp_path)))

    def command(service: str, action: str, *args: Any, **kwargs: Any) -> wire.ControlResult:
        if action == "status":
            return wire.ControlResult(True, data={"breaker": {"active": False}})
        raise OSError("socket exploded")

    facade.command = command  # type: ignore[method-assign]
    with pytest.raises(OSError, match="socket exploded"):
        facade.breaker_activate(Caller("tester", "here"), "audit test")
    [entry] = facade.audit.entries()
    assert entry["action"] == "circuit_breaker.activate" and entry["who"] == "tester"
    assert entry["result"] == {"ok": False, "error": "OSError: socket exploded"}
    assert entry["before"] == {"active": False, "mode": None, "trigger": None} and entry["after"] is None
