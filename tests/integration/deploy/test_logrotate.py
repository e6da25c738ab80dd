"""deploy/logrotate/trading-system: a logrotate dry run on the config rendered for a
temporary root finds and would rotate the service logs, and a real forced rotation keeps
every line a py_rt log handler writes (it reopens the file after the rename, so the config
needs neither copytruncate nor a signal)."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from pyrt.observability.logging import reset_logging, setup_logging
from tests.integration.deploy.conftest import DEPLOY, current_user_group, render, run, tool

LOGS = ("market_data", "risk_manager", "execution_engine", "signal_bridge", "control", "supervisor")


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Path, Path]:
    """(root with logs/, rendered logrotate config)."""
    root = tmp_path / "root"
    (root / "logs").mkdir(parents=True)
    render(root, tmp_path / "units", logrotate_dest=tmp_path / "logrotate.d")
    return root, tmp_path / "logrotate.d" / "trading-system"


def logrotate(config: Path, state: Path, *flags: str) -> str:
    result = run([tool("logrotate"), *flags, "-s", str(state), str(config)])
    output = result.stderr + result.stdout
    assert result.returncode == 0, output
    assert "error" not in output.lower(), output
    return output


def test_config_settings() -> None:
    text = (DEPLOY / "logrotate" / "trading-system").read_text()
    body = text[text.index("{") + 1 : text.index("}")]
    directives = {line.split("#")[0].strip() for line in body.splitlines()} - {""}
    assert text.split("{")[0].strip().splitlines()[-1] == "/opt/RustAlgorithmTrading/logs/*.log"
    for needed in ("su trading trading", "daily", "rotate 14", "compress", "delaycompress", "missingok",
                   "notifempty", "create 0640 trading trading"):
        assert needed in directives
    assert "copytruncate" not in directives
    assert not any(d.startswith(("postrotate", "prerotate")) for d in directives)
    out_block = text[text.index("/opt/RustAlgorithmTrading/logs/*.out {") :]
    for needed in ("su trading trading", "daily", "rotate 14", "compress", "copytruncate"):
        assert needed in out_block  # the children's stdout files are never reopened: copy and truncate


def test_dry_run_finds_and_would_rotate_the_logs(deployment: tuple[Path, Path]) -> None:
    root, config = deployment
    logs = root / "logs"
    for name in LOGS:
        (logs / f"{name}.log").write_text(f"2026-01-02T00:00:00.000Z INFO  {name} hello\n")
    (logs / "idle.log").write_text("")
    (logs / "market_data.out").write_text("not a .log file\n")

    out = logrotate(config, root / "state", "-d", "-f")
    assert f"rotating pattern: {logs}/*.log" in out
    assert "14 rotations" in out
    user, group = current_user_group()
    for name in LOGS:
        path = logs / f"{name}.log"
        assert f"considering log {path}" in out
        assert f"renaming {path} to {path}.1" in out
    assert f"considering log {logs}/idle.log" in out and "log is empty" in out  # notifempty
    assert f"rotating pattern: {logs}/*.out" in out and f"considering log {logs}/market_data.out" in out
    # a dry run changes nothing
    assert sorted(p.name for p in logs.iterdir()) == sorted([*(f"{n}.log" for n in LOGS), "idle.log",
                                                            "market_data.out"])


def test_rotation_keeps_every_line_of_a_running_service(deployment: tuple[Path, Path]) -> None:
    root, config = deployment
    logs = root / "logs"
    level = logging.getLogger().level
    log = setup_logging("market_data", logs)
    try:
        log.info("before first rotation")
        logrotate(config, root / "state", "-f")
        log.info("after first rotation")  # the handler sees the rename and reopens
        logrotate(config, root / "state", "-f")
        log.info("after second rotation")
    finally:
        reset_logging()
        logging.getLogger().setLevel(level)

    current = (logs / "market_data.log").read_text()
    previous = (logs / "market_data.log.1").read_text()  # delaycompress: newest rotation stays plain
    oldest = gzip.decompress((logs / "market_data.log.2.gz").read_bytes()).decode()
    assert "after second rotation" in current and "after first" not in current
    assert "after first rotation" in previous and "before first" not in previous
    assert "before first rotation" in oldest
    assert (logs / "market_data.log").stat().st_mode & 0o777 == 0o640


def test_a_childs_out_file_is_rotated_while_the_child_keeps_writing(deployment: tuple[Path, Path]) -> None:
    """As the supervisor does: one append-mode file handed to the child; after a forced
    rotation the child's next line lands in the (truncated) current file, none is lost."""
    root, config = deployment
    out = root / "logs" / "execution_engine.out"
    with out.open("ab") as child_stdout:
        child_stdout.write(b"before rotation\n")
        child_stdout.flush()
        logrotate(config, root / "state", "-f")
        child_stdout.write(b"after rotation\n")
        child_stdout.flush()
    assert out.read_text() == "after rotation\n"
    assert (root / "logs" / "execution_engine.out.1").read_text() == "before rotation\n"
