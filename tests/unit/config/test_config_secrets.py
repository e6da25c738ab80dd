"""Secrets: only from the environment or a private .env; never in repr, str or dumps."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from pyrt.config import DEFAULT_SIM_KEY_ID, DEFAULT_SIM_SECRET, ConfigError, load_config

CANARY = "CANARY-8c1f2b7e-secret"
CANARY_KEY = "CANARY-KEYID-77"
PAPER = "https://paper-api.alpaca.markets"


def test_embedded_sim_without_keys_uses_the_documented_default_pair(cfg: Any) -> None:
    secrets = load_config(cfg.path, env={}).secrets
    assert secrets.source == "sim-default"
    assert secrets.api_key_id.get_secret_value() == DEFAULT_SIM_KEY_ID == "PYRT-SIM-KEY"
    assert secrets.api_secret_key.get_secret_value() == DEFAULT_SIM_SECRET == "pyrt-sim-secret"


def test_external_sim_without_keys_uses_the_default_pair(cfg: Any) -> None:
    secrets = load_config(cfg.path, env={"APCA_API_BASE_URL": "http://127.0.0.1:18787"}).secrets
    assert secrets.source == "sim-default"


@pytest.mark.parametrize(
    "env",
    [
        {"APCA_API_BASE_URL": PAPER},
        {"PYRT_VENUE__KIND": "alpaca"},
    ],
)
def test_alpaca_venue_without_keys_is_an_error(cfg: Any, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="env APCA_API_KEY_ID: secrets.api_key_id: broker keys required"):
        load_config(cfg.path, env=env)


@pytest.mark.parametrize(
    ("key_var", "secret_var"), [("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"), ("ALPACA_API_KEY", "ALPACA_SECRET_KEY")]
)
def test_either_key_pair_is_accepted(cfg: Any, key_var: str, secret_var: str) -> None:
    secrets = load_config(cfg.path, env={"APCA_API_BASE_URL": PAPER, key_var: CANARY_KEY, secret_var: CANARY}).secrets
    assert (secrets.source, secrets.api_key_id.get_secret_value()) == ("env", CANARY_KEY)
    assert secrets.api_secret_key.get_secret_value() == CANARY


def test_half_a_pair_is_an_error(cfg: Any) -> None:
    with pytest.raises(
        ConfigError, match="env ALPACA_SECRET_KEY: secrets.alpaca_secret_key: required when ALPACA_API_KEY is set"
    ):
        load_config(cfg.path, env={"ALPACA_API_KEY": CANARY_KEY})


def test_two_different_pairs_are_an_error(cfg: Any) -> None:
    env = {"APCA_API_KEY_ID": "A1", "APCA_API_SECRET_KEY": "S1", "ALPACA_API_KEY": "A2", "ALPACA_SECRET_KEY": "S2"}
    with pytest.raises(ConfigError, match="differs from APCA_API_KEY_ID"):
        load_config(cfg.path, env=env)


def test_short_api_token_is_an_error(cfg: Any) -> None:
    with pytest.raises(ConfigError, match="env PYRT_API_TOKEN: secrets.api_token: must be at least 32 characters"):
        load_config(cfg.path, env={"PYRT_API_TOKEN": "short"})


def test_canary_secret_never_appears_in_repr_str_or_dumps(cfg: Any) -> None:
    token = CANARY + "-token-padding-to-32-chars-xx"
    env = {
        "APCA_API_BASE_URL": PAPER,
        "APCA_API_KEY_ID": CANARY_KEY,
        "APCA_API_SECRET_KEY": CANARY,
        "PYRT_API_TOKEN": token,
    }
    config = load_config(cfg.path, env=env)
    renderings = [
        repr(config), str(config), repr(config.secrets), str(config.secrets),
        str(config.model_dump()), config.model_dump_json(), json.dumps(config.model_dump(mode="json")),
        repr(config.system), repr(config.venue),
    ]  # fmt: skip
    for text in renderings:
        assert CANARY not in text and CANARY_KEY not in text
    assert config.secrets.api_token is not None and config.secrets.api_token.get_secret_value() == token


def test_secrets_from_dotenv_do_not_pollute_os_environ(cfg: Any) -> None:
    env_file = cfg.root / ".env"
    env_file.write_text(f"APCA_API_KEY_ID={CANARY_KEY}\nAPCA_API_SECRET_KEY={CANARY}\nAPCA_API_BASE_URL={PAPER}\n")
    env_file.chmod(0o600)
    config = load_config(cfg.path, env={})
    assert config.secrets.api_secret_key.get_secret_value() == CANARY
    assert config.venue.trading_url == PAPER
    assert CANARY not in os.environ.values()


def test_environment_wins_over_dotenv(cfg: Any) -> None:
    env_file = cfg.root / ".env"
    env_file.write_text("APCA_API_KEY_ID=from-file\nAPCA_API_SECRET_KEY=from-file\n")
    env_file.chmod(0o600)
    config = load_config(cfg.path, env={"APCA_API_KEY_ID": "from-env", "APCA_API_SECRET_KEY": "from-env"})
    assert config.secrets.api_key_id.get_secret_value() == "from-env"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_group_or_world_readable_dotenv_is_refused(cfg: Any, mode: int) -> None:
    env_file = cfg.root / ".env"
    env_file.write_text(f"APCA_API_SECRET_KEY={CANARY}\n")
    env_file.chmod(mode)
    with pytest.raises(ConfigError) as info:
        load_config(cfg.path, env={})
    message = str(info.value)
    assert f"{env_file}: (file): accessible by group/others (mode {mode:04o}); run chmod 600" in message
    assert CANARY not in message


def test_smtp_password_comes_from_the_named_env_var(cfg: Any) -> None:
    smtp = {
        "host": "mail.example.com",
        "from_addr": "bot@example.com",
        "to_addrs": ["ops@example.com"],
        "password_env": "PYRT_SMTP_PASSWORD",
    }
    cfg.edit_system(notifications__smtp=smtp)
    with pytest.raises(ConfigError, match="env PYRT_SMTP_PASSWORD: notifications.smtp.password_env: not set"):
        load_config(cfg.path, env={})
    config = load_config(cfg.path, env={"PYRT_SMTP_PASSWORD": CANARY})
    assert config.secrets.smtp_password is not None and CANARY not in repr(config)
