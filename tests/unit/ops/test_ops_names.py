"""Process names, child command lines, and the small formatting helpers of the ops CLI."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from pyrt.ops.status import START_ORDER, canonical_target, uptime_text
from pyrt.ops.supervisor import child_command, exit_text


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("market-data", "market_data"),
        ("market_data", "market_data"),
        ("Risk-Manager", "risk_manager"),
        ("execution-engine", "execution_engine"),
        ("signal_bridge", "signal_bridge"),
        (" signal-bridge ", "signal_bridge"),
        ("sim-broker", "sim_broker"),
        ("sim_broker", "sim_broker"),
        ("control", "control"),
    ],
)
def test_service_names_are_accepted_with_hyphens_or_underscores(given: str, name: str) -> None:
    assert canonical_target(given) == name


@pytest.mark.parametrize("bad", ["", "market", "risk", "market__data", "supervisor"])
def test_unknown_service_names_are_refused_with_the_valid_ones(bad: str) -> None:
    with pytest.raises(ValueError, match="market-data"):
        canonical_target(bad)


def test_start_order_is_broker_then_data_risk_execution_signals_control() -> None:
    assert START_ORDER == ("sim_broker", "market_data", "risk_manager", "execution_engine", "signal_bridge", "control")


def test_child_command_runs_pyrt_with_the_config_dir() -> None:
    cmd = child_command("market_data", Path("/x/config"))
    assert cmd[1:] == ["-m", "pyrt", "run", "market-data", "--config-dir", "/x/config"]
    assert child_command("control", Path("c"), "fake.mod")[-2:] == ["--module", "fake.mod"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (7.9, "7s"),
        (62, "1m 2s"),
        (3 * 3600 + 12 * 60, "3h 12m"),
        (2 * 86400 + 4 * 3600 + 5, "2d 4h"),
    ],
)
def test_uptime_reads_like_the_guide(seconds: float | None, text: str) -> None:
    assert uptime_text(seconds) == text


def test_exit_codes_and_signals_are_named() -> None:
    assert exit_text(3) == "exited with code 3"
    assert exit_text(-signal.SIGKILL) == "killed by SIGKILL"
