"""Fuzz Alpaca's trade_updates stream as `TradeUpdatesThread` receives it: each input is a
message object as alpaca-py hands it on (its `json.loads` of a websocket frame, so any JSON
value may sit inside), sent through the real TradingStream's `_dispatch` to our handler.
Messages are valid events of every kind, then the same with the order or the event fields
dropped, retyped or set to hurtful values (NaN, "1e999999", lists for objects ...).

Pass: the handler never raises into alpaca-py's receive loop (that would tear the
connection down); each message reaches the sink as exactly one `TradeUpdateSeen` (typed
strings, finite Decimals) or one `MalformedTradeUpdate` (the drop the owner counts)."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import strategies as st

from pyrt.venues.alpaca.trade_stream import TradeUpdatesThread
from pyrt.venues.stream_events import MalformedTradeUpdate, StreamEvent, TradeUpdateSeen
from tests.fuzz.alpaca_json import check_trade_update, trade_updates
from tests.fuzz.harness import fuzz
from tests.fuzz.mutate import mutate_bytes, mutate_value, nasty


def expand(recipe: list[dict[str, Any]], rng: random.Random, n: int) -> Any:
    for _ in range(n):
        msg = {"stream": "trade_updates", "data": rng.choice(recipe)}
        op = rng.randrange(10)
        if op == 0:
            yield msg
        elif op < 7:
            yield {"stream": "trade_updates", "data": mutate_value(msg["data"], rng)}
        elif op == 7:
            yield {"stream": "trade_updates", "data": nasty(rng)}
        else:  # a byte-edited frame that still parses as a JSON object
            try:
                value = json.loads(mutate_bytes(json.dumps(msg).encode(), rng))
            except ValueError:
                value = None
            yield value if isinstance(value, dict) and value.get("stream") == "trade_updates" else msg


class StreamCheck:
    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        self.thread = TradeUpdatesThread("ws://127.0.0.1:9", "fuzz-key", "fuzz-secret", self.events.append)

    def __call__(self, msg: dict[str, Any]) -> bool:
        self.events.clear()
        coro = self.thread.stream._dispatch(msg)  # noqa: SLF001 - alpaca-py's own dispatch
        try:
            coro.send(None)  # nothing in it awaits I/O: it runs to the end at once
        except StopIteration:
            pass
        else:
            coro.close()
            raise AssertionError("dispatch suspended")
        assert len(self.events) == 1, self.events
        event = self.events[0]
        if isinstance(event, MalformedTradeUpdate):
            return False
        assert isinstance(event, TradeUpdateSeen), event
        check_trade_update(event.update)
        return True


def test_fuzz_alpaca_trade_updates() -> None:
    fuzz("alpaca trade_updates (stream)", st.lists(trade_updates, min_size=1, max_size=3), expand, StreamCheck())


def test_malformed_trade_updates_are_dropped_and_reported() -> None:
    """Regressions found by this fuzz: these escaped the handler (AttributeError,
    decimal.InvalidOperation) or were passed on with a NaN."""
    check = StreamCheck()
    order = {"id": "o1", "client_order_id": "c1", "status": "new", "qty": "1"}
    for data in [
        {"event": "fill", "order": ["not", "an", "object"]},
        {"event": "fill", "order": order, "price": "abc"},
        {"event": "fill", "order": {**order, "filled_qty": True}},
        {"event": "fill", "order": order, "qty": "NaN"},
        {"event": "fill", "order": order, "price": float("inf")},
    ]:
        assert check({"stream": "trade_updates", "data": data}) is False, data
