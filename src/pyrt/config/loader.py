"""Load and validate everything a service needs to start: system.json (with environment
overrides), risk_limits.toml, the venue endpoints and the secrets, then the checks that
need both files (`cross_checks`). All problems of all sources are collected and raised
together as one ConfigError."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from pyrt.config.cross_checks import throttle_problems
from pyrt.config.errors import ConfigError, file_problem, validation_problems
from pyrt.config.overrides import apply_env_overrides
from pyrt.config.risk import RiskLimits
from pyrt.config.secrets import Secrets, load_secrets, read_dotenv
from pyrt.config.system import ALPACA_REQUESTS_PER_MINUTE, SystemConfig
from pyrt.config.venue import ResolvedVenue, is_alpaca_host, resolve_venue
from pyrt.observability.logging import register_secret

SYSTEM_FILE = "system.json"
RISK_FILE = "risk_limits.toml"
ENV_ROOT = "PYRT_ROOT"


class AppConfig(BaseModel):
    """Everything loaded: the two files, the resolved venue and the secrets. Paths in
    `system` are absolute (relative ones were resolved against `root`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Path
    config_dir: Path
    system: SystemConfig
    risk: RiskLimits
    secrets: Secrets
    venue: ResolvedVenue


def resolve_root(config_dir: Path, env: Mapping[str, str]) -> Path:
    """The deployment root: $PYRT_ROOT if set, else the parent of the config directory."""
    if env.get(ENV_ROOT, "").strip():
        return Path(env[ENV_ROOT].strip()).expanduser().resolve()
    return Path(config_dir).resolve().parent


def load_config(config_dir: Path, env: Mapping[str, str] | None = None) -> AppConfig:
    """Load and validate the whole configuration; raise ConfigError listing every problem.
    `env` defaults to os.environ; a `.env` file in the root fills in unset variables
    (os.environ itself is never changed). Secret values are registered for log redaction."""
    config, problems = _collect(Path(config_dir), os.environ if env is None else env)
    if config is None:
        raise ConfigError(problems)
    for value in config.secrets.secret_values():
        register_secret(value)
    return config


def validate_files(config_dir: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """Every problem line of the configuration (empty when it is valid)."""
    return _collect(Path(config_dir), os.environ if env is None else env)[1]


def load_system(config_dir: Path, env: Mapping[str, str], root: Path) -> SystemConfig:
    """system.json with environment overrides applied, paths resolved against `root`."""
    system, _labels, problems = _load_system(Path(config_dir), env, root)
    if system is None:
        raise ConfigError(problems)
    return system


def load_risk_limits(path: Path) -> RiskLimits:
    """risk_limits.toml alone (e.g. for a reload); raises ConfigError."""
    limits, problems = _load_risk(Path(path), _label(Path(path)))
    if limits is None:
        raise ConfigError(problems)
    return limits


def _collect(config_dir: Path, env: Mapping[str, str]) -> tuple[AppConfig | None, list[str]]:
    root = resolve_root(config_dir, env)
    problems: list[str] = []
    try:
        dotenv = read_dotenv(root)
    except ConfigError as exc:
        problems.extend(exc.problems)
        dotenv = {}
    merged = {**dotenv, **env}
    system, system_labels, system_problems = _load_system(config_dir, merged, root)
    risk, risk_problems = _load_risk(config_dir / RISK_FILE, _label(config_dir / RISK_FILE))
    problems += system_problems + risk_problems
    if system is not None and risk is not None:
        problems += throttle_problems(
            risk, _label(config_dir / RISK_FILE), system.execution, _label(config_dir / SYSTEM_FILE), system_labels
        )
    venue = secrets = None
    if system is not None:
        try:
            venue = resolve_venue(system.venue, system.sim_broker, merged, _label(config_dir / SYSTEM_FILE))
            external_sim = system.venue.kind == "sim" and not is_alpaca_host(venue.trading_url)
            budget = system.execution.request_budget_per_minute
            if is_alpaca_host(venue.trading_url) and budget > ALPACA_REQUESTS_PER_MINUTE:
                problems.append(
                    f"{_label(config_dir / SYSTEM_FILE)}: execution.request_budget_per_minute: "
                    f"{budget} exceeds Alpaca's {ALPACA_REQUESTS_PER_MINUTE} requests/minute"
                )
            allow_default = venue.embedded_sim or external_sim
            smtp = system.notifications.smtp
            secrets = load_secrets(merged, allow_default, smtp.password_env if smtp else None)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems or system is None or risk is None or venue is None or secrets is None:
        return None, problems
    config = AppConfig(
        root=root, config_dir=config_dir.resolve(), system=system, risk=risk, secrets=secrets, venue=venue
    )
    return config, []


def _label(path: Path) -> str:
    return f"{path.resolve().parent.name}/{path.name}"


def _load_system(
    config_dir: Path, env: Mapping[str, str], root: Path
) -> tuple[SystemConfig | None, dict[tuple[str, ...], str], list[str]]:
    """(system, {field path: "env VAR"} of the overridden fields, problems)."""
    path = config_dir / SYSTEM_FILE
    label = _label(path)
    data, problems = _read(path, label, _parse_json)
    if data is None:
        return None, {}, problems
    data, labels, override_problems = apply_env_overrides(data, env, SystemConfig)
    try:
        system = SystemConfig.model_validate(data, context={"root": root})
    except ValidationError as exc:
        return None, labels, override_problems + validation_problems(exc, label, labels=labels)
    return (system, labels, []) if not override_problems else (None, labels, override_problems)


def _load_risk(path: Path, label: str) -> tuple[RiskLimits | None, list[str]]:
    data, problems = _read(path, label, lambda text: tomllib.loads(text, parse_float=Decimal))
    if data is None:
        return None, problems
    try:
        return RiskLimits.model_validate(data), []
    except ValidationError as exc:
        return None, validation_problems(exc, label)


def _read(path: Path, label: str, parse: Any) -> tuple[dict[str, Any] | None, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [file_problem(label, f"not found ({path})")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [file_problem(label, f"cannot be read: {exc}")]
    try:
        data = parse(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        return None, [file_problem(label, f"syntax error: {exc}")]
    if not isinstance(data, dict):
        return None, [file_problem(label, "must contain an object of sections")]
    return data, []


def _parse_json(text: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = value
        return result

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a valid number")

    return json.loads(text, parse_float=Decimal, object_pairs_hook=pairs, parse_constant=constant)
