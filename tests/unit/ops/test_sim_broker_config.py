"""One sim-broker settings type: `pyrt run sim-broker` reads SimBrokerConfig from system.json,
`pyrt sim-broker` builds one from its flags (a flag left out takes the config's default),
and the matching core's settings are derived from it in one place."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pyrt.config import load_config
from pyrt.config.system import SimBrokerConfig
from pyrt.ops.cli import app, sim_broker_config
from pyrt.simbroker.app import build_source
from pyrt.simbroker.broker import matching_config
from pyrt.simbroker.replay_source import ReplaySource
from tests.support.deploy import make_deployment


def test_the_config_section_is_what_the_broker_runs_with(tmp_path: Path) -> None:
    replay = tmp_path / "bars"
    replay.mkdir()
    for name in ("MSFT.csv", "AAPL.csv", "notes.txt"):
        (replay / name).write_text("")
    section = {
        "seed": 7,
        "allow_shorting": True,
        "latency_ms": 5,
        "slippage_bps": 1.5,
        "fee_per_share": 0.005,
        "initial_cash": 250000,
        "quotes_per_second": 4,
        "session_calendar": True,
        "rate_limit_per_minute": 120,
        "replay": {"path": str(replay), "speed": 30},
    }
    sim = load_config(make_deployment(tmp_path, system={"sim_broker": section}), env={}).system.sim_broker
    assert sim.data_dir == tmp_path / "data" / "sim_broker"
    assert sim.served_symbols == ("AAPL", "MSFT", "GOOGL")  # the market_data symbols
    assert sim.replay is not None and sim.replay.files() == (replay / "AAPL.csv", replay / "MSFT.csv")
    core = matching_config(sim, sim.served_symbols)
    assert (core.allow_shorting, core.latency_ms) == (True, 5)
    assert (core.slippage_bps, core.fee_per_share, core.initial_cash) == (
        Decimal("1.5"),
        Decimal("0.005"),
        Decimal(250000),
    )


def test_a_replay_list_of_files_is_replayed_as_given(tmp_path: Path) -> None:
    files = (tmp_path / "b.csv", tmp_path / "a.csv")
    config = SimBrokerConfig.model_validate({"replay": {"path": files, "speed": 0}})
    assert config.replay is not None and config.replay.files() == files


def test_flags_left_out_take_the_configs_defaults() -> None:
    assert sim_broker_config({}) == SimBrokerConfig()
    assert SimBrokerConfig().served_symbols == ("AAPL", "MSFT", "GOOGL")
    given = sim_broker_config({"port": 0, "symbols": ("SPY",), "rate_limit_per_minute": None})
    assert (given.port, given.served_symbols, given.rate_limit_per_minute) == (0, ("SPY",), None)


def test_a_bad_flag_is_a_usage_error_naming_the_flag() -> None:
    with pytest.raises(typer.BadParameter) as info:
        sim_broker_config({"tick_ms": 0})
    assert info.value.param_hint == "--tick-ms"
    res = CliRunner().invoke(app, ["sim-broker", "--quotes-per-second", "-1"])
    assert res.exit_code == 2
    assert "--quotes-per-second" in res.output and "greater than 0" in res.output


def test_the_synthetic_market_serves_the_configured_symbols(tmp_path: Path) -> None:
    source = build_source(SimBrokerConfig(symbols=("SPY", "QQQ"), data_dir=tmp_path))
    assert not isinstance(source, ReplaySource)
    assert {q.symbol for q in source.step(1_000_000_000, 1)} >= {"SPY", "QQQ"}
