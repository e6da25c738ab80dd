"""Which broker and data endpoints this run talks to, from the venue config and the
environment (APCA_API_BASE_URL, APCA_API_DATA_URL win over system.json), and the live
trading safety check: real money needs `venue.live: true` *and* the live Alpaca URL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pyrt.config.errors import ConfigError, problem_line
from pyrt.config.system import SimBrokerConfig, VenueConfig
from pyrt.config.types import check_url

ENV_TRADING_URL = "APCA_API_BASE_URL"
ENV_DATA_URL = "APCA_API_DATA_URL"
ALPACA_LIVE_URL = "https://api.alpaca.markets"
ALPACA_PAPER_URL = "https://paper-api.alpaca.markets"
ALPACA_DATA_STREAM = "wss://stream.data.alpaca.markets"
ALPACA_DATA_REST = "https://data.alpaca.markets"
_LIVE_HOST = "api.alpaca.markets"
_DATA_HOSTS = ("stream.data.alpaca.markets", "data.alpaca.markets")
_ANY_HOST = ("0.0.0.0", "::", "*", "")


@dataclass(frozen=True)
class ResolvedVenue:
    """Endpoints of this run. `trading_url` is the REST base without /v2 (alpaca-py's
    url_override); the stream URLs are complete. `embedded_sim` means the supervisor
    starts the built-in sim broker at `trading_url`."""

    embedded_sim: bool
    trading_url: str
    trading_stream_url: str
    data_stream_url: str
    data_rest_url: str
    live: bool


def is_alpaca_host(url: str) -> bool:
    """True for Alpaca's own servers (paper, live or data)."""
    host = urlsplit(url).hostname or ""
    return host == "alpaca.markets" or host.endswith(".alpaca.markets")


def resolve_venue(
    venue: VenueConfig,
    sim_broker: SimBrokerConfig,
    env: Mapping[str, str],
    file_label: str = "system.json",
) -> ResolvedVenue:
    """Resolve the endpoints, or raise ConfigError listing every problem."""
    problems: list[str] = []
    trading = _pick(venue.trading_url, env, ENV_TRADING_URL, "venue.trading_url", file_label, problems)
    data = _pick(venue.data_url, env, ENV_DATA_URL, "venue.data_url", file_label, problems)
    if problems:
        raise ConfigError(problems)

    if trading is None and data is None and venue.kind == "sim":
        if venue.live:
            problems.append(problem_line(file_label, ("venue", "live"), "the embedded sim broker is never live"))
            raise ConfigError(problems)
        return _embedded(sim_broker, venue.feed)

    if trading is None:
        if venue.kind == "sim":
            reason = (
                f"{ENV_DATA_URL} is set but no trading URL: set {ENV_TRADING_URL} too (or neither for the embedded sim)"
            )
            raise ConfigError([problem_line(data[0] if data else file_label, ("venue", "trading_url"), reason)])
        if venue.live:
            reason = (
                f"live trading needs an explicit trading URL "
                f"({ENV_TRADING_URL} or venue.trading_url = {ALPACA_LIVE_URL})"
            )
            raise ConfigError([problem_line(file_label, ("venue", "live"), reason)])
        trading = (file_label, ALPACA_PAPER_URL)

    label, trading_url = trading[0], _strip_suffixes(trading[1], ("/v2",))
    parts = urlsplit(trading_url)
    live_url = parts.hostname == _LIVE_HOST
    if venue.live and not live_url:
        reason = f"live is true but {trading_url} is not the live Alpaca API ({ALPACA_LIVE_URL})"
        problems.append(problem_line(label, ("venue", "live"), reason))
    if live_url and not venue.live:
        reason = f"{trading_url} is the live Alpaca API but venue.live is false"
        problems.append(problem_line(label, ("venue", "trading_url"), reason))
    if live_url and parts.scheme != "https":
        problems.append(problem_line(label, ("venue", "trading_url"), "live trading requires https"))
    if problems:
        raise ConfigError(problems)

    data_stream, data_rest = _data_endpoints(trading_url, data[1] if data else None)
    return ResolvedVenue(
        embedded_sim=False,
        trading_url=trading_url,
        trading_stream_url=_ws(trading_url) + "/stream",
        data_stream_url=f"{data_stream}/v2/{venue.feed}",
        data_rest_url=data_rest,
        live=live_url,
    )


def _pick(
    configured: str | None, env: Mapping[str, str], var: str, field: str, file_label: str, problems: list[str]
) -> tuple[str, str] | None:
    """(label, url) from the environment if set there, else from the config."""
    raw = env.get(var, "").strip()
    if not raw:
        return (file_label, configured) if configured else None
    try:
        return f"env {var}", check_url(raw)
    except ValueError as exc:
        problems.append(problem_line(f"env {var}", tuple(field.split(".")), str(exc)))
        return None


def _embedded(sim: SimBrokerConfig, feed: str) -> ResolvedVenue:
    host = "127.0.0.1" if sim.host in _ANY_HOST else sim.host
    host = f"[{host}]" if ":" in host else host
    base = f"http://{host}:{sim.port}"
    return ResolvedVenue(
        embedded_sim=True,
        trading_url=base,
        trading_stream_url=f"ws://{host}:{sim.port}/stream",
        data_stream_url=f"ws://{host}:{sim.port}/v2/{feed}",
        data_rest_url=base,
        live=False,
    )


def _data_endpoints(trading_url: str, data_url: str | None) -> tuple[str, str]:
    """(stream base, REST base) of market data. Alpaca's trading hosts get Alpaca's data
    hosts; any other trading host (a sim broker) serves its own data."""
    if data_url is None:
        if is_alpaca_host(trading_url):
            return ALPACA_DATA_STREAM, ALPACA_DATA_REST
        return _ws(trading_url), trading_url
    base = _strip_suffixes(data_url, ("/v2/iex", "/v2/sip", "/v2"))
    if urlsplit(base).hostname in _DATA_HOSTS:
        return ALPACA_DATA_STREAM, ALPACA_DATA_REST
    return _ws(base), _http(base)


def _strip_suffixes(url: str, suffixes: tuple[str, ...]) -> str:
    url = url.rstrip("/")
    for suffix in suffixes:
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def _ws(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return {"http": "ws", "https": "wss"}.get(scheme, scheme) + "://" + rest


def _http(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return {"ws": "http", "wss": "https"}.get(scheme, scheme) + "://" + rest
