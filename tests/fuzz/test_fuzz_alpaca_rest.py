"""Fuzz the Alpaca REST answers as the venue adapter parses them: `AlpacaVenue` with its
real alpaca-py TradingClient, whose requests session is replaced by one that answers every
call with a fuzzed status and body as a real `requests.Response` (alpaca-py's own status
handling, `raise_for_status`, `.text` and `.json()` all run; only request preparation and
the socket are skipped, which cost ~1 ms a call and decode nothing). Bodies are valid order/position/account JSON, the same with fields dropped,
retyped or set to hurtful values, byte-edited JSON, and random bytes, under 200 and under
error statuses.

Pass: every adapter method returns its typed records (strings, finite Decimals) or raises
a `VenueError` (the adapter's contract: "every failure translated into the venue error
tree"); nothing else escapes, since the execution engine's read and lookup workers only
catch VenueError."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import requests
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from pyrt.domain.enums import OrderSide
from pyrt.domain.intents import OrderIntent
from pyrt.venues.alpaca.adapter import AlpacaVenue
from pyrt.venues.port import VenueError
from tests.fuzz.alpaca_json import accounts, check_account, check_order, check_position, orders, positions
from tests.fuzz.harness import fuzz
from tests.fuzz.mutate import mutate_bytes, mutate_value

URL = "http://127.0.0.1:9"  # never contacted: the canned transport answers
INTENT = OrderIntent(intent_id="i1", strategy="s", symbol="AAPL", side=OrderSide.BUY, qty=Decimal(1))


class CannedSession:
    """Stands in for the client's requests.Session: answers every request with
    `self.answer` = (status, body bytes)."""

    def __init__(self) -> None:
        self.answer: tuple[int, bytes] = (200, b"{}")

    def request(self, method: str, url: str, **opts: Any) -> requests.Response:
        status, body = self.answer
        response = requests.Response()
        response.status_code = status
        response._content = body  # noqa: SLF001 - a Response without a socket
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.encoding = "utf-8"
        response.url = url
        response.reason = "fuzz"
        return response


def _venue() -> tuple[AlpacaVenue, CannedSession]:
    venue = AlpacaVenue(URL, "fuzz-key", "fuzz-secret", timeout_s=1.0)
    venue.client._session.close()  # noqa: SLF001
    session = CannedSession()
    venue.client._session = session  # noqa: SLF001
    return venue, session


def _check_cancel_all(result: Any) -> None:
    assert isinstance(result, list), result
    for order_id, status in result:
        assert isinstance(order_id, str) and isinstance(status, int), result


# method -> (call, what a good answer looks like, check of the result)
CALLS: dict[str, Any] = {
    "get_order": (lambda v: v.get_order("o1"), "order", check_order),
    "get_order_by_client_id": (lambda v: v.get_order_by_client_id("c1"), "order", check_order),
    "submit_order": (lambda v: v.submit_order("c1", INTENT), "order", check_order),
    "close_position": (lambda v: v.close_position("AAPL"), "order", check_order),
    "list_orders": (lambda v: v.list_orders("open"), "orders", lambda r: [check_order(o) for o in r]),
    "positions": (lambda v: v.positions(), "positions", lambda r: [check_position(p) for p in r]),
    "account": (lambda v: v.account(), "account", check_account),
    "cancel_all_orders": (lambda v: v.cancel_all_orders(), "cancel_all", _check_cancel_all),
}  # fmt: skip
ERROR_STATUSES = [404, 422, 403, 401, 429, 500, 503, 207, 204, 301]

recipes = st.fixed_dictionaries({
    "order": orders, "orders": st.lists(orders, max_size=3), "positions": st.lists(positions, max_size=3),
    "account": accounts,
})  # fmt: skip


def _good(recipe: dict[str, Any], shape: str) -> Any:
    if shape == "cancel_all":
        return [{"id": o["id"], "status": 200, "body": o} for o in recipe["orders"]]
    return recipe[shape]


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # NaN and Infinity pass, as a sloppy server would send them


def expand(recipe: dict[str, Any], rng: random.Random, n: int) -> Any:
    names = list(CALLS)
    for _ in range(n):
        name = rng.choice(names)
        good = _good(recipe, CALLS[name][1])
        status = 200 if rng.random() < 0.85 else rng.choice(ERROR_STATUSES)
        op = rng.randrange(10)
        if op == 0:
            body = _dumps(good)
        elif op < 6:
            body = _dumps(mutate_value(good, rng))
        elif op < 8:
            body = mutate_bytes(_dumps(good), rng)
        elif op == 8:
            body = _dumps(_good(recipe, rng.choice(["order", "orders", "positions", "account", "cancel_all"])))
        else:
            body = rng.choice([b"", b"null", b"[]", b"{}", b"<html>bad gateway</html>", b'{"code": 40010001, "message": "x"}',
                               rng.randbytes(rng.randint(0, 40))])  # fmt: skip
        yield name, status, body


class RestCheck:
    def __init__(self) -> None:
        self.venue, self.transport = _venue()

    def __call__(self, case: tuple[str, int, bytes]) -> bool:
        name, status, body = case
        call, _shape, check = CALLS[name]
        self.transport.answer = (status, body)
        try:
            result = call(self.venue)
        except VenueError:
            return False
        check(result)
        return True


def test_fuzz_alpaca_rest_answers() -> None:
    fuzz("alpaca REST answer (AlpacaVenue)", recipes, expand, RestCheck())


def test_malformed_rest_answers_become_venue_errors() -> None:
    """Regressions found by this fuzz: each used to escape the adapter as a non-VenueError
    (JSONDecodeError, KeyError, decimal.InvalidOperation, AttributeError) or pass a NaN."""
    check = RestCheck()
    order = {"id": "o1", "client_order_id": "c1", "status": "new", "qty": "1"}
    for name, body in [
        ("get_order", b"<html>bad gateway</html>"),  # a 200 that is not JSON
        ("get_order", b'{"client_order_id": "c1", "status": "new"}'),  # no id
        ("get_order", _dumps({**order, "qty": "abc"})),  # not a number
        ("get_order", _dumps({**order, "qty": "NaN"})),  # not a finite number
        ("list_orders", _dumps({"orders": []})),  # an object where a list belongs
        ("list_orders", _dumps(["o1"])),  # a list of strings
        ("positions", _dumps([{"symbol": "AAPL", "qty": [1]}])),
        ("account", _dumps([])),
        ("cancel_all_orders", _dumps([{"id": "o1", "status": "ok"}])),
    ]:
        assert check((name, 200, body)) is False, (name, body)
