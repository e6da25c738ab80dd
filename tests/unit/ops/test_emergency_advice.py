"""The advice the emergency stop prints names commands and options that exist."""

from __future__ import annotations

import re
import shlex

from typer.testing import CliRunner

from pyrt.ops.cli import app
from pyrt.ops.commands.control import RESUME_ADVICE
from tests.support.deploy import REPO


def test_every_resume_command_exists() -> None:
    runner = CliRunner()
    commands = [re.split(r"\s{2,}", line.strip(), maxsplit=1)[0] for line in RESUME_ADVICE[1:]]
    commands = [re.sub(r"^\d+\. ", "", c) for c in commands]
    assert len(commands) == 4
    for command in commands:
        words = shlex.split(command)
        if words[0].startswith("./scripts/"):
            assert (REPO / words[0]).is_file(), command
            assert "--safe-mode" not in words or "--safe-mode" in (REPO / words[0]).read_text()
            continue
        assert words[0] == "pyrt", command
        sub = [w for w in words[1:] if not w.startswith("-") and not w.startswith("<")][:2]
        res = runner.invoke(app, [*sub, "--help"])
        assert res.exit_code == 0, (command, res.output)
        for option in (w for w in words if w.startswith("--")):
            assert option in res.output, (command, option)
