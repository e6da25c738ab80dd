"""The deployment tests fail, never skip, when a tool is missing, and say how to get it."""

from __future__ import annotations

import pytest

from tests.integration.deploy.conftest import INSTALL_TOOLS, REPO, tool


def test_a_missing_tool_fails_with_the_install_hint() -> None:
    with pytest.raises(pytest.fail.Exception, match="scripts/dev/install_tools.sh"):
        tool("pyrt-no-such-tool")


@pytest.mark.parametrize("name", ["systemd-analyze", "logrotate", "promtool", "amtool", "docker-compose"])
def test_install_tools_covers(name: str) -> None:
    assert name in (REPO / INSTALL_TOOLS).read_text()
    tool(name)
