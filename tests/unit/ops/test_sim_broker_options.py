"""`pyrt run sim-broker` takes every sim broker option from the config's sim_broker section."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pyrt.config import DEFAULT_SIM_KEY_ID, DEFAULT_SIM_SECRET, load_config
from pyrt.ops.supervisor import sim_broker_options
from tests.support.deploy import make_deployment


def test_options_come_from_the_sim_broker_section(tmp_path: Path) -> None:
    replay = tmp_path / "bars"
    replay.mkdir()
    for name in ("MSFT.csv", "AAPL.csv", "notes.txt"):
        (replay / name).write_text("")
    section = {"seed": 7, "allow_shorting": True, "latency_ms": 5, "slippage_bps": 1.5, "fee_per_share": 0.005,
               "initial_cash": 250000, "quotes_per_second": 4, "session_calendar": True,
               "rate_limit_per_minute": 120, "replay": {"path": str(replay), "speed": 30}}
    cfg = load_config(make_deployment(tmp_path, system={"sim_broker": section}), env={})
    opts = sim_broker_options(cfg)
    assert opts.port == cfg.system.sim_broker.port
    assert opts.data_dir == tmp_path / "data" / "sim_broker"
    assert (opts.seed, opts.allow_shorting, opts.latency_ms, opts.session_calendar) == (7, True, 5, True)
    assert (opts.slippage_bps, opts.fee_per_share, opts.initial_cash) == (Decimal("1.5"), Decimal("0.005"),
                                                                          Decimal(250000))
    assert (opts.quotes_per_second, opts.rate_limit_per_minute) == (4, 120)
    assert opts.symbols == cfg.system.market_data.symbols
    assert opts.replay_paths == (replay / "AAPL.csv", replay / "MSFT.csv")
    assert opts.replay_speed == 30
    assert opts.keys == {DEFAULT_SIM_KEY_ID: DEFAULT_SIM_SECRET}


def test_without_replay_the_synthetic_market_runs(tmp_path: Path) -> None:
    opts = sim_broker_options(load_config(make_deployment(tmp_path), env={}))
    assert opts.replay_paths == ()
    assert opts.seed == 42
