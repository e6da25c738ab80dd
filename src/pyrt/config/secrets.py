"""Broker keys and API tokens: only from the environment or a private `.env` file in the
root, held as SecretStr so that repr, str and dumps show `**********`."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, SecretStr

from pyrt.config.errors import ConfigError, file_problem, problem_line

DEFAULT_SIM_KEY_ID = "PYRT-SIM-KEY"
"""Key id the embedded sim broker accepts when no keys are configured (public, local only)."""
DEFAULT_SIM_SECRET = "pyrt-sim-secret"
"""Secret that goes with DEFAULT_SIM_KEY_ID (public, local only)."""

KEY_PAIRS = (("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"), ("ALPACA_API_KEY", "ALPACA_SECRET_KEY"))
"""Accepted environment names of the broker key pair (alpaca-py's first)."""
ENV_API_TOKEN = "PYRT_API_TOKEN"  # control API bearer token for trading actions
ENV_API_READ_TOKEN = "PYRT_API_READ_TOKEN"  # control API bearer token for read-only routes
MIN_TOKEN_LENGTH = 32


class Secrets(BaseModel):
    """The credentials of this run. `source` says where the broker keys came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key_id: SecretStr
    api_secret_key: SecretStr
    source: Literal["env", "sim-default"]
    api_token: SecretStr | None = None
    api_read_token: SecretStr | None = None
    smtp_password: SecretStr | None = None

    def secret_values(self) -> list[str]:
        """Every secret value held, for log redaction."""
        fields = (self.api_key_id, self.api_secret_key, self.api_token, self.api_read_token, self.smtp_password)
        return [f.get_secret_value() for f in fields if f is not None and f.get_secret_value()]


def read_dotenv(root: Path) -> dict[str, str]:
    """Variables of `<root>/.env` without touching os.environ ({} if there is none).
    Refuses (ConfigError) a file that group or others may access, as ssh does."""
    path = root / ".env"
    if not path.is_file():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        reason = f"accessible by group/others (mode {mode:04o}); run chmod 600 {path}"
        raise ConfigError([file_problem(str(path), reason)])
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_secrets(env: Mapping[str, str], allow_sim_default: bool, smtp_password_env: str | None = None) -> Secrets:
    """Secrets from `env` (the process environment merged over .env). Without broker keys,
    `allow_sim_default` picks the sim pair; otherwise it is a ConfigError."""
    problems: list[str] = []
    values: dict[str, object] = _broker_keys(env, allow_sim_default, problems)
    for field, var in (("api_token", ENV_API_TOKEN), ("api_read_token", ENV_API_READ_TOKEN)):
        token = env.get(var, "").strip()
        if token and len(token) < MIN_TOKEN_LENGTH:
            reason = f"must be at least {MIN_TOKEN_LENGTH} characters"
            problems.append(problem_line(f"env {var}", ("secrets", field), reason))
        values[field] = token or None
    if smtp_password_env:
        password = env.get(smtp_password_env, "")
        if not password:
            field_path = ("notifications", "smtp", "password_env")
            problems.append(problem_line(f"env {smtp_password_env}", field_path, "not set"))
        values["smtp_password"] = password or None
    if problems:
        raise ConfigError(problems)
    return Secrets.model_validate(values)


def _broker_keys(env: Mapping[str, str], allow_sim_default: bool, problems: list[str]) -> dict[str, object]:
    pairs = []
    for key_var, secret_var in KEY_PAIRS:
        key, secret = env.get(key_var, "").strip(), env.get(secret_var, "").strip()
        if key and secret:
            pairs.append((key_var, key, secret))
        elif key or secret:
            have, missing = (key_var, secret_var) if key else (secret_var, key_var)
            reason = f"required when {have} is set"
            problems.append(problem_line(f"env {missing}", ("secrets", missing.lower()), reason))
    if len(pairs) == 2 and pairs[0][1:] != pairs[1][1:]:
        reason = f"differs from {pairs[0][0]}: set only one key pair"
        problems.append(problem_line(f"env {pairs[1][0]}", ("secrets",), reason))
    if pairs:
        return {"api_key_id": pairs[0][1], "api_secret_key": pairs[0][2], "source": "env"}
    if allow_sim_default:
        return {"api_key_id": DEFAULT_SIM_KEY_ID, "api_secret_key": DEFAULT_SIM_SECRET, "source": "sim-default"}
    if not problems:
        reason = "broker keys required for this venue: set " + " or ".join(f"{k}/{s}" for k, s in KEY_PAIRS)
        problems.append(problem_line(f"env {KEY_PAIRS[0][0]}", ("secrets", "api_key_id"), reason))
    return {}
