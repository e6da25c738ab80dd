"""Venue resolution matrix: embedded sim by default, environment URLs, live mismatches."""

from __future__ import annotations

from typing import Any

import pytest

from pyrt.config import ConfigError, ResolvedVenue, SimBrokerConfig, VenueConfig, load_config, resolve_venue

PAPER = "https://paper-api.alpaca.markets"
LIVE = "https://api.alpaca.markets"
KEYS = {"APCA_API_KEY_ID": "PKTEST", "APCA_API_SECRET_KEY": "secret-for-tests"}


def resolve(env: dict[str, str] | None = None, sim: dict[str, Any] | None = None, **venue: Any) -> ResolvedVenue:
    return resolve_venue(VenueConfig(**venue), SimBrokerConfig(**(sim or {})), env or {})


def test_default_is_the_embedded_sim() -> None:
    assert resolve() == ResolvedVenue(
        embedded_sim=True,
        trading_url="http://127.0.0.1:8787",
        trading_stream_url="ws://127.0.0.1:8787/stream",
        data_stream_url="ws://127.0.0.1:8787/v2/iex",
        data_rest_url="http://127.0.0.1:8787",
        live=False,
    )


def test_embedded_sim_uses_sim_broker_host_port_and_feed() -> None:
    venue = resolve(sim={"host": "0.0.0.0", "port": 9999}, feed="sip")
    assert venue.trading_url == "http://127.0.0.1:9999"  # clients connect to loopback
    assert venue.data_stream_url == "ws://127.0.0.1:9999/v2/sip"


MATRIX = [
    # (config, env, trading_url, trading_stream_url, data_stream_url, data_rest_url, live)
    ({"kind": "alpaca"}, {}, PAPER, "wss://paper-api.alpaca.markets/stream",
     "wss://stream.data.alpaca.markets/v2/iex", "https://data.alpaca.markets", False),
    ({}, {"APCA_API_BASE_URL": PAPER}, PAPER, "wss://paper-api.alpaca.markets/stream",
     "wss://stream.data.alpaca.markets/v2/iex", "https://data.alpaca.markets", False),
    ({}, {"APCA_API_BASE_URL": PAPER + "/v2/"}, PAPER, "wss://paper-api.alpaca.markets/stream",
     "wss://stream.data.alpaca.markets/v2/iex", "https://data.alpaca.markets", False),
    ({"feed": "sip"}, {"APCA_API_BASE_URL": "http://127.0.0.1:18787"}, "http://127.0.0.1:18787",
     "ws://127.0.0.1:18787/stream", "ws://127.0.0.1:18787/v2/sip", "http://127.0.0.1:18787", False),
    ({}, {"APCA_API_BASE_URL": "http://127.0.0.1:1", "APCA_API_DATA_URL": "ws://127.0.0.1:2"}, "http://127.0.0.1:1",
     "ws://127.0.0.1:1/stream", "ws://127.0.0.1:2/v2/iex", "http://127.0.0.1:2", False),
    ({"kind": "alpaca"}, {"APCA_API_DATA_URL": "wss://stream.data.alpaca.markets/v2/iex"}, PAPER,
     "wss://paper-api.alpaca.markets/stream", "wss://stream.data.alpaca.markets/v2/iex", "https://data.alpaca.markets", False),
    ({"kind": "alpaca"}, {"APCA_API_DATA_URL": "https://data.alpaca.markets"}, PAPER,
     "wss://paper-api.alpaca.markets/stream", "wss://stream.data.alpaca.markets/v2/iex", "https://data.alpaca.markets", False),
    ({"kind": "alpaca", "trading_url": "http://localhost:8787"}, {}, "http://localhost:8787",
     "ws://localhost:8787/stream", "ws://localhost:8787/v2/iex", "http://localhost:8787", False),
    ({"kind": "alpaca", "trading_url": "http://localhost:8787"}, {"APCA_API_BASE_URL": PAPER}, PAPER,
     "wss://paper-api.alpaca.markets/stream", "wss://stream.data.alpaca.markets/v2/iex", "https://data.alpaca.markets", False),
    ({"kind": "alpaca", "live": True}, {"APCA_API_BASE_URL": LIVE}, LIVE, "wss://api.alpaca.markets/stream",
     "wss://stream.data.alpaca.markets/v2/iex", "https://data.alpaca.markets", True),
    ({"kind": "alpaca", "live": True, "feed": "sip", "trading_url": LIVE}, {}, LIVE, "wss://api.alpaca.markets/stream",
     "wss://stream.data.alpaca.markets/v2/sip", "https://data.alpaca.markets", True),
]  # fmt: skip


@pytest.mark.parametrize(("config", "env", "trading", "trading_stream", "data_stream", "data_rest", "live"), MATRIX)
def test_resolution_matrix(config: dict[str, Any], env: dict[str, str], trading: str, trading_stream: str,
                           data_stream: str, data_rest: str, live: bool) -> None:  # fmt: skip
    assert resolve(env, **config) == ResolvedVenue(False, trading, trading_stream, data_stream, data_rest, live)


MISMATCHES = [
    ({"live": True}, {}, "system.json: venue.live: the embedded sim broker is never live"),
    ({"kind": "alpaca", "live": True}, {}, "system.json: venue.live: live trading needs an explicit trading URL"),
    ({"kind": "alpaca", "live": True}, {"APCA_API_BASE_URL": PAPER}, "env APCA_API_BASE_URL: venue.live: live is true but https://paper-api.alpaca.markets is not the live Alpaca API"),
    ({"kind": "alpaca", "live": True, "trading_url": PAPER}, {}, "system.json: venue.live: live is true but"),
    ({"kind": "alpaca"}, {"APCA_API_BASE_URL": LIVE}, "env APCA_API_BASE_URL: venue.trading_url: https://api.alpaca.markets is the live Alpaca API but venue.live is false"),
    ({"kind": "alpaca", "trading_url": LIVE + "/v2"}, {}, "system.json: venue.trading_url: https://api.alpaca.markets is the live Alpaca API but venue.live is false"),
    ({"kind": "alpaca", "live": True}, {"APCA_API_BASE_URL": "http://api.alpaca.markets"}, "env APCA_API_BASE_URL: venue.trading_url: live trading requires https"),
    ({}, {"APCA_API_DATA_URL": "ws://127.0.0.1:2"}, "env APCA_API_DATA_URL: venue.trading_url: APCA_API_DATA_URL is set but no trading URL"),
    ({}, {"APCA_API_BASE_URL": "paper-api.alpaca.markets"}, "env APCA_API_BASE_URL: venue.trading_url: must be an http(s)://"),
]  # fmt: skip


@pytest.mark.parametrize(("config", "env", "expected"), MISMATCHES)
def test_live_and_url_mismatches_are_config_errors(config: dict[str, Any], env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(env, **config)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_load_config_resolves_the_venue_from_env(cfg: Any) -> None:
    config = load_config(cfg.path, env={"APCA_API_BASE_URL": PAPER, **KEYS})
    assert (config.venue.embedded_sim, config.venue.trading_url) == (False, PAPER)


def test_load_config_reports_live_mismatch_with_file_label(cfg: Any) -> None:
    cfg.edit_system(venue__kind="alpaca", venue__live=True, venue__trading_url=PAPER)
    with pytest.raises(ConfigError, match="config/system.json: venue.live: live is true"):
        load_config(cfg.path, env=KEYS)


def test_live_flag_may_come_from_env_override(cfg: Any) -> None:
    env = {"PYRT_VENUE__KIND": "alpaca", "PYRT_VENUE__LIVE": "true", "APCA_API_BASE_URL": LIVE, **KEYS}
    assert load_config(cfg.path, env=env).venue.live is True
