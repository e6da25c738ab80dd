"""system.json: the shipped file, invalid files (each problem names file, field and reason),
environment overrides and path resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyrt.config import ConfigError, SystemConfig, load_config, validate_files

SYS = "config/system.json"


def test_shipped_config_is_valid_and_complete(cfg: Any) -> None:
    assert validate_files(cfg.path, env={}) == []
    config = load_config(cfg.path, env={})
    system = config.system
    assert system.market_data.symbols == ("AAPL", "MSFT", "GOOGL")
    assert system.sim_broker.symbols == ("AAPL", "MSFT", "GOOGL")  # defaults to market data's
    assert system.market_data.zmq_publish_address == "tcp://127.0.0.1:5555"
    assert (system.metrics.gateway, system.metrics.market_data, system.metrics.risk_manager) == (9090, 9091, 9093)
    assert (system.metrics.execution_engine, system.metrics.signal_bridge) == (9092, 9094)
    assert (system.api.host, system.api.port) == ("127.0.0.1", 8080)
    kinds = {s.name: (s.kind, s.symbols, s.params) for s in system.signals.strategies}
    assert kinds["ema_cross"] == (
        "ema_crossover",
        ("AAPL", "MSFT"),
        {"fast": 5, "slow": 12, "source": "quote", "sample_interval_s": 2},  # warm in 24 s: trades within a minute
    )
    assert kinds["rsi_revert"][0:2] == ("rsi_mean_reversion", ("GOOGL",))
    assert kinds["rsi_revert"][2] == {
        "period": 7,
        "oversold": 35,
        "overbought": 65,
        "source": "quote",
        "sample_interval_s": 2,
    }
    # every key of the shipped file is explicit: the file equals a dump of the defaults
    assert set(cfg.system()) == set(SystemConfig.model_fields)


def test_empty_system_json_gives_defaults(cfg: Any) -> None:
    (cfg.path / "system.json").write_text("{}")
    assert load_config(cfg.path, env={}).system.execution.request_budget_per_minute == 150


def test_relative_paths_resolve_against_root(cfg: Any) -> None:
    system = load_config(cfg.path, env={}).system
    assert system.paths.logs_dir == cfg.root / "logs"
    assert system.execution.journal_path == cfg.root / "data" / "journal.db"
    assert system.market_data.cache_dir == cfg.root / "cache" / "market_data"


def test_pyrt_root_env_moves_the_root(cfg: Any, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    config = load_config(cfg.path, env={"PYRT_ROOT": str(other)})
    assert config.root == other.resolve()
    assert config.system.paths.data_dir == other.resolve() / "data"


def test_absolute_paths_are_kept(cfg: Any) -> None:
    cfg.edit_system(paths__logs_dir="/var/log/pyrt")
    assert load_config(cfg.path, env={}).system.paths.logs_dir == Path("/var/log/pyrt")


INVALID_SYSTEM = [
    ("unknown section", {"bogus": {}}, "bogus: unknown key"),
    ("unknown key", {"market_data__bogus": 1}, "market_data.bogus: unknown key"),
    ("lower-case symbol", {"market_data__symbols": ["aapl"]}, "market_data.symbols.0: String should match"),
    ("too long symbol", {"market_data__symbols": ["ABCDEFGHIJK"]}, "market_data.symbols.0: String should match"),
    ("empty symbols", {"market_data__symbols": []}, "market_data.symbols: must not be empty"),
    (
        "duplicate symbols",
        {"market_data__symbols": ["AAPL", "MSFT", "GOOGL", "AAPL"]},
        "market_data.symbols: duplicate",
    ),
    (
        "bad zmq address",
        {"market_data__zmq_publish_address": "127.0.0.1:5555"},
        "market_data.zmq_publish_address: must be tcp://",
    ),
    (
        "zero stale",
        {"market_data__stale_after_seconds": 0},
        "market_data.stale_after_seconds: Input should be greater than 0 (got 0)",
    ),
    (
        "backoff order",
        {"market_data__reconnect__max_delay_s": 0.1},
        "market_data.reconnect.max_delay_s: must be >= initial_delay_s",
    ),
    (
        "jitter > 1",
        {"market_data__reconnect__jitter": 2},
        "market_data.reconnect.jitter: Input should be less than or equal to 1",
    ),
    ("venue kind", {"venue__kind": "binance"}, "venue.kind: Input should be 'sim' or 'alpaca'"),
    ("feed", {"venue__feed": "otc"}, "venue.feed: Input should be 'iex' or 'sip'"),
    ("url", {"venue__trading_url": "paper-api.alpaca.markets"}, "venue.trading_url: must be an http(s)://"),
    ("port range", {"api__port": 70000}, "api.port: Input should be less than or equal to 65535 (got 70000)"),
    (
        "negative cash",
        {"sim_broker__initial_cash": -5},
        "sim_broker.initial_cash: Input should be greater than 0 (got -5)",
    ),
    (
        "negative fee",
        {"sim_broker__fee_per_share": -0.01},
        "sim_broker.fee_per_share: Input should be greater than or equal to 0 (got -0.01)",
    ),
    (
        "zero rate limit",
        {"sim_broker__rate_limit_per_minute": 0},
        "sim_broker.rate_limit_per_minute: Input should be greater than 0",
    ),
    ("replay without path", {"sim_broker__replay": {"speed": 2}}, "sim_broker.replay.path: required"),
    (
        "strategy symbol unknown",
        {"signals__strategies__1__symbols": ["TSLA"]},
        "signals.strategies.1.symbols: ['TSLA'] not in market_data.symbols",
    ),
    (
        "strategy name dup",
        {"signals__strategies__1__name": "ema_cross"},
        "signals.strategies.1.name: duplicate strategy name",
    ),
    (
        "order qty > max",
        {"signals__sizing__order_qty": 1000},
        "signals.sizing.order_qty: must be <= max_position_shares",
    ),
    (
        "budget over 200 at Alpaca",
        {
            "execution__request_budget_per_minute": 250,
            "venue__kind": "alpaca",
            "venue__trading_url": "https://paper-api.alpaca.markets",
        },
        "execution.request_budget_per_minute: 250 exceeds Alpaca's 200 requests/minute",
    ),
    (
        "reserves eat budget",
        {"execution__cancel_reserve_per_minute": 140},
        "execution.cancel_reserve_per_minute: plus read_reserve_per_minute (150) leaves nothing",
    ),
    ("zero timeout", {"execution__submit_timeout_s": 0}, "execution.submit_timeout_s: Input should be greater than 0"),
    (
        "metrics port clash",
        {"metrics__risk_manager": 9091},
        "metrics.risk_manager: port 9091 already used by metrics.market_data",
    ),
    (
        "zmq port clash",
        {"risk__intent_endpoint": "tcp://127.0.0.1:5555"},
        "risk.intent_endpoint: port 5555 already used by market_data.zmq_publish_address",
    ),
    ("api on all interfaces", {"api__host": "0.0.0.0"}, "api.host: binds to non-loopback host '0.0.0.0'"),
    (
        "sim broker on all interfaces",
        {"sim_broker__host": "0.0.0.0"},
        "sim_broker.host: binds to non-loopback host '0.0.0.0'",
    ),
    ("metrics on all interfaces", {"metrics__host": "0.0.0.0"}, "metrics.host: binds to non-loopback host '0.0.0.0'"),
    (
        "zmq on all interfaces",
        {"execution__order_endpoint": "tcp://*:5558"},
        "execution.order_endpoint: binds to non-loopback host '*'",
    ),
    (
        "sim symbols missing",
        {"sim_broker__symbols": ["AAPL"]},
        "sim_broker.symbols: does not include market_data symbols ['MSFT', 'GOOGL']",
    ),
    (
        "smtp no recipients",
        {"notifications__smtp": {"host": "mail", "from_addr": "a@b.c", "to_addrs": []}},
        "notifications.smtp.to_addrs: must not be empty",
    ),
    ("log level", {"logging__level": "LOUD"}, "logging.level: Input should be"),
]


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in INVALID_SYSTEM], ids=[c[0] for c in INVALID_SYSTEM])
def test_invalid_system_json_names_file_field_and_reason(cfg: Any, changes: dict[str, Any], expected: str) -> None:
    cfg.edit_system(**changes)
    with pytest.raises(ConfigError) as info:
        load_config(cfg.path, env={})
    assert f"{SYS}: {expected}" in str(info.value), str(info.value)
    assert any(line.startswith(f"{SYS}: {expected}") for line in info.value.problems)


def test_all_problems_are_reported_together(cfg: Any) -> None:
    cfg.edit_system(market_data__symbols=["aapl"], api__port=-1, execution__bogus=True)
    cfg.edit_risk({"max_open_positions = 5": "max_open_positions = 0"})
    problems = validate_files(cfg.path, env={})
    assert len(problems) == 4, problems
    assert {p.split(": ")[1] for p in problems} == {
        "market_data.symbols.0",
        "api.port",
        "execution.bogus",
        "position_limits.max_open_positions",
    }


def test_non_loopback_allowed_when_explicit(cfg: Any) -> None:
    cfg.edit_system(api__host="0.0.0.0", security__allow_non_loopback=True)
    assert load_config(cfg.path, env={}).system.api.host == "0.0.0.0"


def test_ephemeral_ports_may_repeat(cfg: Any) -> None:
    cfg.edit_system(metrics__market_data=0, metrics__risk_manager=0, api__port=0)
    assert load_config(cfg.path, env={}).system.metrics.port_for("risk_manager") == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "config/system.json: (file): syntax error"),
        ("[1, 2]", "config/system.json: (file): must contain an object of sections"),
        ('{"api": {}, "api": {}}', "config/system.json: (file): syntax error: duplicate key 'api'"),
        (
            '{"sim_broker": {"initial_cash": NaN}}',
            "config/system.json: (file): syntax error: NaN is not a valid number",
        ),
    ],
)
def test_unparsable_system_json(cfg: Any, text: str, reason: str) -> None:
    (cfg.path / "system.json").write_text(text)
    assert any(p.startswith(reason) for p in validate_files(cfg.path, env={}))


@pytest.mark.parametrize("name", ["system.json", "risk_limits.toml"])
def test_missing_file_is_named(cfg: Any, name: str) -> None:
    (cfg.path / name).unlink()
    with pytest.raises(ConfigError, match=rf"config/{name}: \(file\): not found"):
        load_config(cfg.path, env={})


# --- environment overrides --------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "check"),
    [
        ({"PYRT_MARKET_DATA__STALE_AFTER_SECONDS": "10"}, lambda s: s.market_data.stale_after_seconds == 10.0),
        ({"PYRT_METRICS__MARKET_DATA": "0"}, lambda s: s.metrics.market_data == 0),
        ({"PYRT_MARKET_DATA__SYMBOLS": "AAPL, MSFT,GOOGL,NVDA"}, lambda s: s.market_data.symbols[-1] == "NVDA"),
        ({"PYRT_MARKET_DATA__SYMBOLS": '["AAPL","MSFT","GOOGL","AMZN"]'}, lambda s: len(s.market_data.symbols) == 4),
        ({"PYRT_MARKET_DATA__RECONNECT__MAX_DELAY_S": "5"}, lambda s: s.market_data.reconnect.max_delay_s == 5),
        ({"PYRT_SIM_BROKER__ALLOW_SHORTING": "true"}, lambda s: s.sim_broker.allow_shorting is True),
        (
            {"PYRT_SIM_BROKER__REPLAY__PATH": "data/replay.csv"},
            lambda s: [p.name for p in s.sim_broker.replay.files()] == ["replay.csv"],
        ),
        ({"PYRT_SIGNALS__MODEL_PATH": "models/m.onnx"}, lambda s: s.signals.model_path.name == "m.onnx"),
        ({"PYRT_SIGNALS__MODEL_PATH": "null"}, lambda s: s.signals.model_path is None),
        ({"PYRT_API__PORT": "18080", "PYRT_ROOT": "/tmp"}, lambda s: s.api.port == 18080),
    ],
)
def test_env_overrides(cfg: Any, env: dict[str, str], check: Any) -> None:
    assert check(load_config(cfg.path, env=env).system)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"PYRT_MARKET_DATA__STALE_AFTER_SECONDS": "-1"},
            "env PYRT_MARKET_DATA__STALE_AFTER_SECONDS: market_data.stale_after_seconds: Input should be greater than 0",
        ),
        ({"PYRT_API__PORT": "http"}, "env PYRT_API__PORT: api.port: must be a number (got 'http')"),
        (
            {"PYRT_MARKET_DATA__SYMBOLS": "AAPL,msft"},
            "env PYRT_MARKET_DATA__SYMBOLS: market_data.symbols.1: String should match",
        ),
        ({"PYRT_MARKET_DATA__SYMBOLZ": "AAPL"}, "env PYRT_MARKET_DATA__SYMBOLZ: market_data.symbolz: unknown setting"),
        ({"PYRT_NOPE__X": "1"}, "env PYRT_NOPE__X: nope.x: unknown setting"),
        ({"PYRT_API__PORT__X": "1"}, "env PYRT_API__PORT__X: api.port.x: api.port is not a section"),
        ({"PYRT_MARKET_DATA__SYMBOLS": "[1,"}, "env PYRT_MARKET_DATA__SYMBOLS: market_data.symbols: not valid JSON"),
        (
            {"PYRT_METRICS__RISK_MANAGER": "9090"},
            "env PYRT_METRICS__RISK_MANAGER: metrics.risk_manager: port 9090 already used",
        ),
    ],
)
def test_invalid_env_overrides_name_the_variable(cfg: Any, env: dict[str, str], expected: str) -> None:
    problems = validate_files(cfg.path, env=env)
    assert any(p.startswith(expected) for p in problems), problems


def test_dotenv_values_feed_overrides_but_environment_wins(cfg: Any) -> None:
    env_file = cfg.root / ".env"
    env_file.write_text("PYRT_API__PORT=18081\nPYRT_METRICS__HOST=localhost\n")
    env_file.chmod(0o600)
    system = load_config(cfg.path, env={"PYRT_API__PORT": "18082"}).system
    assert (system.api.port, system.metrics.host) == (18082, "localhost")


def test_config_error_message_lists_each_problem_on_its_own_line(cfg: Any) -> None:
    cfg.edit_system(api__port=-1, market_data__symbols=["x"])
    with pytest.raises(ConfigError) as info:
        load_config(cfg.path, env={})
    lines = str(info.value).splitlines()
    assert lines[0] == "invalid configuration (2 problems):"
    assert sorted(line.strip() for line in lines[1:]) == sorted(info.value.problems)


def test_non_loopback_host_shared_by_several_listeners_is_one_problem(cfg: Any) -> None:
    cfg.edit_system(metrics__host="0.0.0.0")
    problems = validate_files(cfg.path, env={})
    assert problems == [
        f"{SYS}: metrics.host: binds to non-loopback host '0.0.0.0'; set security.allow_non_loopback to allow"
    ]
