"""The composition root: the one place that turns configuration into concrete adapters.
Process entry points and the control facade build their venue here; services and cores are
typed against `pyrt.venues.port.VenuePort` and never pick an implementation themselves.

It is also where configuration and strategies meet: `load_app` loads the config and then
checks each strategy spec against the signal bridge's registry (kind known, params valid),
as Freqtrade checks config consistency after loading both configuration and strategy. The
config package itself stays pure: it imports no service."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pyrt.config import AppConfig, ConfigError, load_config
from pyrt.config.errors import problem_line
from pyrt.config.loader import SYSTEM_FILE
from pyrt.venues.port import VenuePort


def strategy_problems(cfg: AppConfig) -> list[str]:
    """A `file: field: reason` line for each strategy spec whose kind is unknown or whose
    params its strategy refuses."""
    from pyrt.services.signals.strategies.registry import resolve_kind, strategies_dir, with_sizing
    from pyrt.services.signals.strategy import StrategyConfigError

    label = f"{cfg.config_dir.name}/{SYSTEM_FILE}"
    problems = []
    for i, spec in enumerate(cfg.system.signals.strategies):
        where = ("signals", "strategies", str(i))
        try:
            cls = resolve_kind(spec.kind, strategies_dir(cfg))
        except StrategyConfigError as exc:
            problems.append(problem_line(label, (*where, "kind"), str(exc).removeprefix("kind: ")))
            continue
        try:
            cls(spec.name, list(spec.symbols), with_sizing(cls, spec.params, cfg.system.signals.sizing))
        except (StrategyConfigError, ValueError) as exc:
            problems.append(problem_line(label, (*where, "params"), str(exc)))
    return problems


def load_app(config_dir: Path, env: Mapping[str, str] | None = None) -> AppConfig:
    """The configuration, checked as a whole application: `load_config` (both files, the
    venue, the secrets), then the strategy specs. Raises one ConfigError listing the
    problems. The CLI and every process entry point load through here."""
    cfg = load_config(Path(config_dir), env)
    problems = strategy_problems(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def app_problems(config_dir: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """Every problem line `load_app` would raise (empty when the config is usable): what
    `pyrt verify-config` prints."""
    try:
        load_app(config_dir, os.environ if env is None else env)
    except ConfigError as exc:
        return exc.problems
    return []


def venue_keys(cfg: Any) -> tuple[str, str]:
    """The broker key pair from the loaded secrets ('' when absent)."""
    keys = cfg.secrets
    return (
        keys.api_key_id.get_secret_value() if keys.api_key_id else "",
        keys.api_secret_key.get_secret_value() if keys.api_secret_key else "",
    )


def make_venue(
    cfg: Any, timeout_s: float | None = None, on_rate_limit_headers: Callable[..., None] | None = None
) -> VenuePort:
    """The trading venue named by the config: Alpaca's REST API (real Alpaca, paper or live,
    or the built-in sim broker, which speaks the same protocol). `on_rate_limit_headers`
    receives the broker's X-RateLimit-* of every response (a `RequestBudget.on_headers`)."""
    from pyrt.venues.alpaca.adapter import AlpacaVenue

    key_id, secret = venue_keys(cfg)
    timeout = timeout_s if timeout_s is not None else cfg.system.execution.submit_timeout_s
    return AlpacaVenue(
        cfg.venue.trading_url, key_id, secret, timeout_s=timeout, on_rate_limit_headers=on_rate_limit_headers
    )
