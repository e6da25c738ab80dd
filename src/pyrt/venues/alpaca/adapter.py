"""The Alpaca venue: alpaca-py's TradingClient (raw JSON, no pydantic models on the hot
path) against real Alpaca or the sim broker, with every failure translated into the venue
error tree of `pyrt.venues.port`.

alpaca-py's own retry (3 s sleeps on 429/504) is switched off: a POST is never repeated
blindly, and waits are the request budget's decision. The broker's X-RateLimit-* headers
of every response (the key's count, shared by every process using it) are kept in
`last_rate_limit` and reported to `on_rate_limit_headers` (e.g. `RequestBudget.on_headers`)
through a response hook on alpaca-py's requests session."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from requests.adapters import HTTPAdapter

from pyrt.domain.intents import OrderIntent
from pyrt.venues.alpaca.mapping import (
    MALFORMED,
    account_from_json,
    items,
    order_from_json,
    order_request_body,
    position_from_json,
)
from pyrt.venues.port import (
    AuthFailed,
    BrokerAccount,
    BrokerOrder,
    BrokerPosition,
    DuplicateClientOrderId,
    NotFound,
    OrderRejectedByVenue,
    OutcomeUnknown,
    RateLimited,
    VenueUnavailable,
)

log = logging.getLogger("pyrt.venues.alpaca")

RateLimitHeaders = Callable[[int | None, int | None, float | None], None]
"""Called with (X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset epoch s)."""


def rate_limit_headers(headers: Any) -> tuple[int | None, int | None, float | None]:
    """The X-RateLimit-* values of a response (None for a missing or unreadable one)."""

    def number(name: str, kind: Callable[[str], Any]) -> Any:
        value = headers.get(name)
        try:
            return None if value is None else kind(value)
        except ValueError:
            return None

    return number("X-RateLimit-Limit", int), number("X-RateLimit-Remaining", int), number("X-RateLimit-Reset", float)


class _TimeoutAdapter(HTTPAdapter):
    """Every request gets a timeout (alpaca-py sets none)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(pool_connections=4, pool_maxsize=8, max_retries=0)
        self.timeout_s = timeout_s

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout_s
        return super().send(request, **kwargs)


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def configure_client(client: Any, url: str, timeout_s: float) -> None:
    """Fit an alpaca-py client's requests session (it exposes no other way): a timeout on
    every request, no blind retries by requests, and for a broker on this machine no proxy
    lookup (requests reads ~/.netrc and the proxy variables on every call, about 1 ms)."""
    adapter = _TimeoutAdapter(timeout_s)
    session = client._session  # noqa: SLF001
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if is_loopback_url(url):
        session.trust_env = False


def _api_error_code(err: APIError) -> int | None:
    try:
        return int(err.code)
    except (TypeError, ValueError, KeyError, AttributeError):  # a body without a numeric "code"
        return None


class AlpacaVenue:
    def __init__(
        self,
        trading_url: str,
        key_id: str,
        secret_key: str,
        timeout_s: float = 5.0,
        on_rate_limit_headers: RateLimitHeaders | None = None,
    ) -> None:
        self.client = TradingClient(key_id, secret_key, paper=True, raw_data=True, url_override=trading_url)
        self.client._retry = 0  # noqa: SLF001 - no blind retries, see module docstring
        configure_client(self.client, trading_url, timeout_s)
        self.on_rate_limit_headers = on_rate_limit_headers
        self.last_rate_limit: tuple[int | None, int | None, float | None] | None = None
        self.client._session.hooks["response"].append(self._see_rate_limit)  # noqa: SLF001

    def _see_rate_limit(self, response: Any, *_args: Any, **_kwargs: Any) -> Any:
        values = rate_limit_headers(response.headers)
        if values != (None, None, None):
            self.last_rate_limit = values
            callback = self.on_rate_limit_headers
            if callback is not None:
                try:
                    callback(*values)
                except Exception:  # noqa: BLE001 - a budget bug must not fail the request it saw
                    log.exception("rate-limit header callback failed")
        return response

    # ------------------------------------------------------------- translation
    def _call(self, fn: Any, *args: Any, mutating: bool = False) -> Any:
        try:
            return fn(*args)
        except APIError as err:
            status = err.status_code
            if status == 404:
                raise NotFound(str(err)) from None
            if status == 429:
                reset = err.response.headers.get("X-Ratelimit-Reset") if err.response is not None else None
                raise RateLimited(float(reset) if reset else None) from None
            if status == 401:
                raise AuthFailed("the venue refused the API keys (401)") from None
            if status in (403, 422) and mutating and "client_order_id must be unique" in _message(err):
                raise DuplicateClientOrderId(status, _api_error_code(err), _message(err)) from None
            if status in (403, 422):
                raise OrderRejectedByVenue(status, _api_error_code(err), _message(err)) from None
            if mutating:
                raise OutcomeUnknown(f"HTTP {status}: {_message(err)}") from None
            raise VenueUnavailable(f"HTTP {status}: {_message(err)}") from None
        except requests.exceptions.JSONDecodeError:  # a 200 whose body is not JSON (a proxy's page)
            if mutating:
                raise OutcomeUnknown("the venue's answer is not JSON") from None
            raise VenueUnavailable("the venue's answer is not JSON") from None
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as err:
            kind = type(err).__name__
            if mutating:
                raise OutcomeUnknown(f"{kind} talking to the venue") from None
            raise VenueUnavailable(f"{kind} talking to the venue") from None

    @staticmethod
    def _parse(parse: Any, raw: Any, mutating: bool = False) -> Any:
        """`parse(raw)`, with an answer not of Alpaca's shape translated like a failed call:
        the outcome of a POST/DELETE is then unknown, a read may be retried."""
        try:
            return parse(raw)
        except MALFORMED as exc:
            detail = f"malformed answer from the venue: {type(exc).__name__}: {exc}"[:300]
            if mutating:
                raise OutcomeUnknown(detail) from None
            raise VenueUnavailable(detail) from None

    # ------------------------------------------------------------- assets
    def unlisted(self, symbols: Iterable[str]) -> list[str]:
        """The symbols this venue does not list as tradable (GET /v2/assets/{symbol}: 404, or
        `tradable` false), in the order given. Other failures raise VenueError."""
        missing = []
        for symbol in symbols:
            try:
                asset = self._call(self.client.get_asset, symbol)
            except NotFound:
                missing.append(symbol)
                continue
            if isinstance(asset, dict) and asset.get("tradable") is False:
                missing.append(symbol)
        return missing

    # ------------------------------------------------------------- orders
    def submit_order(self, client_order_id: str, intent: OrderIntent) -> BrokerOrder:
        body = order_request_body(client_order_id, intent)
        return self._parse(order_from_json, self._call(self.client.post, "/orders", body, mutating=True), True)

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder:
        raw = self._call(self.client.get, "/orders:by_client_order_id", {"client_order_id": client_order_id})
        return self._parse(order_from_json, raw)

    def get_order(self, order_id: str) -> BrokerOrder:
        return self._parse(order_from_json, self._call(self.client.get, f"/orders/{order_id}"))

    def cancel_order(self, order_id: str) -> None:
        self._call(self.client.delete, f"/orders/{order_id}", mutating=True)

    def cancel_all_orders(self) -> list[tuple[str, int]]:
        raw = self._call(self.client.delete, "/orders", mutating=True)
        return self._parse(lambda r: [(str(x["id"]), int(x["status"])) for x in items(r)], raw, True)

    def list_orders(self, status: str = "open", after: str | None = None, limit: int = 500) -> list[BrokerOrder]:
        params: dict[str, Any] = {"status": status, "limit": limit, "direction": "asc"}
        if after:
            params["after"] = after
        raw = self._call(self.client.get, "/orders", params)
        return self._parse(lambda r: [order_from_json(o) for o in items(r)], raw)

    def list_all_orders_since(self, after: str | None) -> list[BrokerOrder]:
        """Every order submitted after `after` (paginated by submission time)."""
        out: list[BrokerOrder] = []
        cursor = after
        while True:
            page = self.list_orders("all", cursor, 500)
            out.extend(page)
            if len(page) < 500:
                return out
            cursor = page[-1].submitted_at

    # ------------------------------------------------------------- positions, account
    def positions(self) -> list[BrokerPosition]:
        raw = self._call(self.client.get, "/positions")
        return self._parse(lambda r: [position_from_json(p) for p in items(r)], raw)

    def account(self) -> BrokerAccount:
        return self._parse(account_from_json, self._call(self.client.get, "/account"))

    def close_position(self, symbol: str) -> BrokerOrder:
        return self._parse(order_from_json, self._call(self.client.delete, f"/positions/{symbol}", mutating=True), True)


def _message(err: APIError) -> str:
    try:
        return str(err.message)
    except Exception:  # noqa: BLE001 - body was not JSON
        return str(err)
