"""The composition root: the one place that turns configuration into concrete adapters.
Process entry points and the control facade build their venue here; services and cores are
typed against `pyrt.venues.port.VenuePort` and never pick an implementation themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyrt.venues.port import VenuePort


def venue_keys(cfg: Any) -> tuple[str, str]:
    """The broker key pair from the loaded secrets ('' when absent)."""
    keys = cfg.secrets
    return (keys.api_key_id.get_secret_value() if keys.api_key_id else "",
            keys.api_secret_key.get_secret_value() if keys.api_secret_key else "")


def make_venue(cfg: Any, timeout_s: float | None = None,
               on_rate_limit_headers: Callable[..., None] | None = None) -> VenuePort:
    """The trading venue named by the config: Alpaca's REST API (real Alpaca, paper or live,
    or the built-in sim broker, which speaks the same protocol). `on_rate_limit_headers`
    receives the broker's X-RateLimit-* of every response (a `RequestBudget.on_headers`)."""
    from pyrt.venues.alpaca.adapter import AlpacaVenue

    key_id, secret = venue_keys(cfg)
    timeout = timeout_s if timeout_s is not None else cfg.system.execution.submit_timeout_s
    return AlpacaVenue(cfg.venue.trading_url, key_id, secret, timeout_s=timeout,
                       on_rate_limit_headers=on_rate_limit_headers)
