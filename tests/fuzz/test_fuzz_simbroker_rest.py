"""Fuzz the sim broker's POST /v2/orders body decoding: `rest._body` (JSON) and
`wire.parse_new_order` (the order's shape), the two steps before the matching engine sees
a request. Bodies are orders as alpaca-py sends them, then with fields dropped, retyped or
set to hurtful values, byte-edited JSON and random bytes.

Pass: each body gives a `NewOrder` (a symbol, enum members, finite Decimals or None) or a
`Rejection` (the 422 the handler answers); nothing else escapes (it would be a 500)."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from pyrt.simbroker.alpaca_json import parse_new_order
from pyrt.simbroker.rest import _body
from pyrt.venues.simulated.models import NewOrder, Rejection
from tests.fuzz.harness import fuzz
from tests.fuzz.mutate import mutate_bytes, mutate_value

num_text = st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=0, max_value=10**6).map(str)
bodies = st.fixed_dictionaries(
    {"symbol": st.sampled_from(["AAPL", "msft", "SPY"]), "qty": num_text, "side": st.sampled_from(["buy", "sell"]),
     "type": st.sampled_from(["market", "limit", "stop", "stop_limit"]),
     "time_in_force": st.sampled_from(["day", "gtc", "ioc", "fok", "opg", "cls"])},
    optional={"client_order_id": st.text(max_size=12), "limit_price": num_text, "stop_price": num_text,
              "notional": num_text, "extended_hours": st.booleans(), "order_class": st.just("simple")},
)  # fmt: skip


class _Request:
    """What `_body` reads of a starlette Request."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    async def body(self) -> bytes:
        return self.raw


def _run(coro: Any) -> Any:
    try:
        coro.send(None)  # awaits nothing that suspends
    except StopIteration as done:
        return done.value
    coro.close()
    raise AssertionError("suspended")


def expand(recipe: list[dict[str, Any]], rng: random.Random, n: int) -> Any:
    for _ in range(n):
        body = rng.choice(recipe)
        op = rng.randrange(10)
        if op == 0:
            yield json.dumps(body).encode()
        elif op < 7:
            yield json.dumps(mutate_value(body, rng)).encode()
        elif op < 9:
            yield mutate_bytes(json.dumps(body).encode(), rng)
        else:
            yield rng.randbytes(rng.randint(0, 40))


def check(raw: bytes) -> bool:
    try:
        order = parse_new_order(_run(_body(_Request(raw))))
    except Rejection as exc:
        assert exc.http_status == 422, exc
        return False
    assert isinstance(order, NewOrder) and isinstance(order.symbol, str) and order.symbol, order
    for value in (order.qty, order.notional, order.limit_price, order.stop_price):
        assert value is None or (isinstance(value, Decimal) and value.is_finite()), order
    return True


def test_fuzz_simbroker_order_bodies() -> None:
    fuzz("sim broker POST /v2/orders body", st.lists(bodies, min_size=1, max_size=3), expand, check)


def test_body_that_is_not_utf8_is_a_422() -> None:
    """Regression found by this fuzz: msgspec raises UnicodeDecodeError (not DecodeError)
    for JSON whose strings are not UTF-8, and `_body` let it out as a 500."""
    assert check(b'{"symbol\xdd: "AAPL"') is False
