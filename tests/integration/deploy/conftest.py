"""Helpers of the deployment tests: the external tools they drive (systemd-analyze,
logrotate, promtool, amtool, docker-compose) and rendering deploy/ templates into a
temporary root.

A missing tool is a test failure, never a skip: CI must not go green without checking the
deployment files. scripts/dev/install_tools.sh installs them."""

from __future__ import annotations

import getpass
import grp
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
INSTALL_SH = DEPLOY / "systemd" / "install.sh"
INSTALL_TOOLS = "scripts/dev/install_tools.sh"


def tool(name: str) -> str:
    """The path of an external tool, or fail the test saying how to install it."""
    path = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/sbin") / name) if p.is_file()), None
    )
    if path is None:
        pytest.fail(f"{name} is not installed: run `bash {INSTALL_TOOLS}` (as root) first", pytrace=False)
    return path


def run(cmd: list[str], cwd: Path | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output (never raises on a non-zero exit)."""
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def current_user_group() -> tuple[str, str]:
    return getpass.getuser(), grp.getgrgid(os.getgid()).gr_name


def render(root: Path, dest: Path, *, user: str | None = None, group: str | None = None,
           logrotate_dest: Path | None = None, dirs: bool = False) -> subprocess.CompletedProcess[str]:
    """deploy/systemd/install.sh for `root` into `dest` (and `logrotate_dest`); asserts success."""
    me, my_group = current_user_group()
    cmd = ["bash", str(INSTALL_SH), "--root", str(root), "--user", user or me, "--group", group or my_group,
           "--dest", str(dest)]
    cmd += ["--logrotate-dest", str(logrotate_dest)] if logrotate_dest else ["--no-logrotate"]
    if not dirs:
        cmd.append("--no-dirs")
    result = run(cmd)
    assert result.returncode == 0, result.stderr + result.stdout
    return result
