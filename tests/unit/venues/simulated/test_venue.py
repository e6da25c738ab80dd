"""SimulatedVenue: the venue port over the real matching core, driven by a manual clock;
and FakeVenue: both must be usable wherever a VenuePort is."""

from __future__ import annotations

import inspect
from decimal import Decimal as D
from typing import Any

import pytest

from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Quote
from pyrt.venues.port import (
    BrokerOrder,
    DuplicateClientOrderId,
    NotFound,
    OrderRejectedByVenue,
    TradeUpdateReport,
    VenueError,
    VenuePort,
)
from pyrt.venues.simulated.matching import SimConfig
from pyrt.venues.simulated.venue import SimulatedVenue
from tests.fakes import FakeVenue, InMemoryBroker, VenueCall

T0 = 1_700_000_000_000_000_000
INITIAL = D(100_000)


def make(seed: int = 7, **cfg: Any) -> tuple[SimulatedVenue, ManualClock]:
    clock = ManualClock(T0)
    venue = SimulatedVenue(SimConfig(symbols=("AAPL", "MSFT"), **cfg), clock, seed=seed)
    venue.on_quote("AAPL", 99.0, 101.0, 300, 200)
    venue.on_quote("MSFT", 49.0, 51.0, 100, 100)
    return venue, clock


def intent(side: str = "buy", qty: str = "10", type_: str = "market", tif: str = "day", **kw: Any) -> OrderIntent:
    return OrderIntent(
        intent_id=kw.pop("intent_id", "i1"),
        strategy="test",
        symbol=kw.pop("symbol", "AAPL"),
        side=OrderSide(side),
        qty=D(qty),
        order_type=OrderType(type_),
        time_in_force=TimeInForce(tif),
        **kw,
    )


def events(updates: list[TradeUpdateReport]) -> list[str]:
    return [u.event for u in updates]


# ------------------------------------------------------------------ orders and matching
def test_market_order_waits_out_latency_then_the_next_quote_fills_it_at_the_ask():
    venue, clock = make(latency_ms=5)
    ack = venue.submit_order("c1", intent("buy", "10"))
    assert (ack.status, ack.client_order_id, ack.filled_qty) == ("accepted", "c1", 0)
    assert events(venue.drain_updates()) == ["new"]  # inside the latency: no fill yet
    clock.advance(0.010)
    venue.on_quote("AAPL", 99.5, 100.5, 300, 200)
    [fill] = venue.drain_updates()
    assert (fill.event, fill.price, fill.qty, fill.position_qty) == ("fill", D("100.5"), D(10), D(10))
    assert fill.execution_id and fill.order.status == "filled"
    order = venue.get_order(ack.id)
    assert (order.status, order.filled_qty, order.filled_avg_price) == ("filled", D(10), D("100.50"))


def test_market_sell_fills_at_the_bid():
    venue, _ = make()
    venue.submit_order("b", intent("buy", "10"))
    venue.submit_order("s", intent("sell", "4"))
    fills = [u for u in venue.drain_updates() if u.event == "fill"]
    assert [(u.order.side, u.price) for u in fills] == [("buy", D(101)), ("sell", D(99))]


def test_limit_order_rests_then_fills_at_the_quote_when_the_market_crosses_it():
    venue, clock = make()
    ack = venue.submit_order("l1", intent("buy", "10", "limit", "gtc", limit_price=D(100)))
    assert events(venue.drain_updates()) == ["new"]
    clock.advance(1)
    venue.on_quote("AAPL", 99.5, 100.25, 300, 200)  # not crossed yet
    assert venue.drain_updates() == []
    assert venue.get_order(ack.id).status == "new"
    clock.advance(1)
    venue.on_quote("AAPL", 98.5, 99.75, 300, 200)  # crossed: fills at the ask, better than the limit
    [fill] = venue.drain_updates()
    assert (fill.event, fill.price, fill.ts) == ("fill", D("99.75"), "2023-11-14T22:13:22.000000Z")


def test_partial_fills_across_quotes_bounded_by_displayed_size():
    venue, clock = make()
    venue.submit_order("big", intent("buy", "350"))  # the ask shows 200
    assert events(venue.drain_updates()) == ["new", "partial_fill"]
    clock.advance(1)
    venue.on_quote("AAPL", 99.0, 101.0, 300, 200)
    [u] = venue.drain_updates()
    assert (u.event, u.qty, u.position_qty, u.order.filled_qty) == ("fill", D(150), D(350), D(350))


def test_cancel_then_cancel_again_and_unknown_ids():
    venue, clock = make()
    ack = venue.submit_order("l1", intent("buy", "10", "limit", "gtc", limit_price=D(90)))
    clock.advance(1)
    venue.cancel_order(ack.id)
    assert events(venue.drain_updates()) == ["new", "canceled"]
    assert venue.get_order(ack.id).status == "canceled"
    with pytest.raises(OrderRejectedByVenue) as err:
        venue.cancel_order(ack.id)
    assert err.value.status == 422 and "canceled" in err.value.message
    for call in (venue.cancel_order, venue.get_order):
        with pytest.raises(NotFound):
            call("no-such-id")


def test_cancel_all_cancels_every_open_order_in_arrival_order():
    venue, _ = make()
    a = venue.submit_order("a", intent("buy", "1", "limit", "gtc", limit_price=D(90)))
    b = venue.submit_order("b", intent("buy", "1", "limit", "gtc", limit_price=D(91)))
    venue.submit_order("m", intent("buy", "1"))  # filled, not canceled
    venue.drain_updates()
    assert venue.cancel_all_orders() == [(a.id, 200), (b.id, 200)]
    assert events(venue.drain_updates()) == ["canceled", "canceled"]
    assert venue.list_orders("open") == []


def test_duplicate_client_order_id_is_refused_forever_and_the_first_order_stands():
    venue, _ = make()
    first = venue.submit_order("dup", intent("buy", "5"))
    for again in (intent("buy", "5"), intent("sell", "1", symbol="MSFT")):
        with pytest.raises(DuplicateClientOrderId) as err:
            venue.submit_order("dup", again)
        assert isinstance(err.value, OrderRejectedByVenue) and err.value.status == 422
    assert venue.get_order_by_client_id("dup").id == first.id
    assert len(venue.list_all_orders_since(None)) == 1


def test_lookup_by_client_order_id():
    venue, _ = make()
    ack = venue.submit_order("find-me", intent("buy", "3", "limit", "gtc", limit_price=D(95)))
    assert venue.get_order_by_client_id("find-me") == venue.get_order(ack.id)
    assert venue.get_order_by_client_id("find-me").limit_price == D(95)
    with pytest.raises(NotFound):
        venue.get_order_by_client_id("never-sent")


@pytest.mark.parametrize(
    ("order", "status", "text"),
    [
        (intent(symbol="ZZZZ"), 422, 'asset "ZZZZ" not found'),
        (intent(qty="0"), 422, "qty must be > 0"),
        (intent(type_="limit"), 422, "limit_price is required"),
        (intent(qty="2000"), 403, "insufficient buying power"),
        (intent(side="sell"), 403, "insufficient qty available"),
    ],
)
def test_refusals_are_order_rejected_by_venue_with_the_status(order, status, text):
    venue, _ = make()
    with pytest.raises(OrderRejectedByVenue) as err:
        venue.submit_order("x", order)
    assert err.value.status == status and text in err.value.message
    assert not isinstance(err.value, DuplicateClientOrderId)
    with pytest.raises(NotFound):
        venue.get_order_by_client_id("x")  # a refused order does not exist
    assert venue.drain_updates() == []


def test_prices_the_order_type_does_not_take_are_dropped_as_the_alpaca_venue_drops_them():
    venue, _ = make()
    ack = venue.submit_order("m", intent("buy", "1", limit_price=D(50), stop_price=D(60)))
    assert (ack.limit_price, ack.stop_price, ack.type) == (None, None, "market")


# ------------------------------------------------------------------ listing
def test_list_orders_by_status_after_and_limit_oldest_first():
    venue, clock = make()
    ids = []
    for n in range(4):
        clock.advance(1)
        ids.append(venue.submit_order(f"o{n}", intent("buy", "1", "limit", "gtc", limit_price=D(90))).id)
    clock.advance(1)
    venue.cancel_order(ids[1])
    assert [o.id for o in venue.list_orders()] == [ids[0], ids[2], ids[3]]
    assert [o.id for o in venue.list_orders("closed")] == [ids[1]]
    assert [o.id for o in venue.list_orders("all", limit=2)] == ids[:2]
    after = venue.get_order(ids[1]).submitted_at
    assert [o.id for o in venue.list_orders("all", after=after)] == ids[2:]
    assert [o.id for o in venue.list_all_orders_since(after)] == ids[2:]
    assert [o.id for o in venue.list_all_orders_since(None)] == ids


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"status": "weird"}, "invalid status"),
        ({"after": "yesterday"}, "invalid after"),
    ],
)
def test_list_orders_bad_parameters_are_422(kwargs, text):
    venue, _ = make()
    with pytest.raises(OrderRejectedByVenue) as err:
        venue.list_orders(**kwargs)
    assert err.value.status == 422 and text in err.value.message


# ------------------------------------------------------------------ positions and account
def test_positions_and_account_after_fills_conserve_cash_exactly():
    venue, clock = make(fee_per_share=D("0.01"))
    venue.submit_order("b", intent("buy", "10"))  # 10 @ 101, fee 0.10
    clock.advance(1)
    venue.on_quote("AAPL", 103.0, 105.0, 300, 200)
    venue.submit_order("s", intent("sell", "4"))  # 4 @ 103, fee 0.04
    [pos] = venue.positions()
    assert (pos.symbol, pos.qty, pos.avg_entry_price, pos.current_price) == ("AAPL", D(6), D(101), D(104))
    assert (pos.market_value, pos.unrealized_pl) == (D(624), D(18))
    acct = venue.account()
    cash = INITIAL - 10 * D(101) - D("0.10") + 4 * D(103) - D("0.04")
    assert (acct.cash, acct.equity, acct.status) == (cash, cash + 6 * D(104), "ACTIVE")
    paper = venue.engine.account
    assert paper.realized_pnl == 4 * (D(103) - D(101))
    at_cost = sum(p.cost_basis for p in paper.positions.values())
    assert paper.cash + at_cost - paper.realized_pnl + paper.fees_paid == INITIAL
    assert not venue.engine.has_changes()  # nothing persists them in-process: they must not pile up

    closing = venue.close_position("AAPL")
    assert (closing.side, closing.qty, closing.type) == ("sell", D(6), "market")
    assert venue.positions() == []
    assert venue.account().cash == INITIAL + paper.realized_pnl - paper.fees_paid == venue.account().equity
    with pytest.raises(NotFound):
        venue.close_position("AAPL")


def test_drain_updates_returns_every_event_once_in_the_order_it_happened():
    venue, clock = make()
    rest = venue.submit_order("rest", intent("buy", "5", "limit", "gtc", limit_price=D(95)))
    venue.submit_order("big", intent("buy", "250"))
    clock.advance(1)
    venue.on_quote("AAPL", 99.0, 101.0, 300, 200)
    venue.cancel_order(rest.id)
    venue.set_market_open(False)
    got = venue.drain_updates()
    assert [(u.event, u.order.client_order_id) for u in got] == [
        ("new", "rest"),
        ("new", "big"),
        ("partial_fill", "big"),
        ("fill", "big"),
        ("canceled", "rest"),
    ]
    assert [u.ts for u in got] == ["2023-11-14T22:13:20.000000Z"] * 3 + ["2023-11-14T22:13:21.000000Z"] * 2
    assert venue.drain_updates() == []


def test_session_close_expires_day_orders_and_keeps_gtc():
    venue, _ = make()
    day = venue.submit_order("d", intent("buy", "1", "limit", "day", limit_price=D(90)))
    gtc = venue.submit_order("g", intent("buy", "1", "limit", "gtc", limit_price=D(90)))
    venue.drain_updates()
    venue.set_market_open(False)
    assert [(u.event, u.order.id) for u in venue.drain_updates()] == [("expired", day.id)]
    assert venue.get_order(gtc.id).status == "new"


def test_a_bad_quote_is_a_value_error_naming_the_problem():
    venue, _ = make()
    with pytest.raises(ValueError, match="unknown symbol TSLA"):
        venue.on_quote("TSLA", 1.0, 2.0)
    with pytest.raises(ValueError, match="bid <= ask"):
        venue.on_quote("AAPL", 102.0, 101.0)


def test_a_recorded_quote_matches_at_the_clock_and_one_from_the_future_is_refused():
    venue, clock = make()
    venue.submit_order("l", intent("buy", "2", "limit", "gtc", limit_price=D(100)))
    venue.drain_updates()
    with pytest.raises(ValueError, match="later than the clock"):
        venue.on_quote_event(Quote("AAPL", 98.0, 50, 99.0, 50, T0 + 1))
    assert venue.drain_updates() == []
    clock.set(T0 + 1)
    venue.on_quote_event(Quote("AAPL", 98.0, 50, 99.0, 50, T0 + 1))
    [fill] = venue.drain_updates()
    assert (fill.event, fill.price) == ("fill", D(99))


# ------------------------------------------------------------------ determinism
def _script(seed: int) -> bytes:
    venue, clock = make(seed=seed, latency_ms=3, slippage_bps=D("2.5"), fee_bps=D(1))
    out: list[object] = []
    for n in range(30):
        clock.advance(0.002)
        side = "buy" if n % 3 else "sell"
        try:
            if n % 4 == 0:
                out.append(
                    venue.submit_order(
                        f"c{n}", intent(side, str(n % 7 + 1), "limit", "gtc", limit_price=D(100) + n % 5 - 2)
                    )
                )
            else:
                out.append(venue.submit_order(f"c{n}", intent(side, str(n % 5 + 1))))
        except VenueError as exc:
            out.append(repr(exc))
        venue.on_quote("AAPL", 99.0 + (n % 6) * 0.25, 101.0 + (n % 4) * 0.25, 5 + n % 9, 3 + n % 7)
        out.extend(venue.drain_updates())
    out += [venue.positions(), venue.account(), venue.list_all_orders_since(None)]
    return repr(out).encode()


def test_same_seed_and_inputs_give_the_same_outputs_byte_for_byte():
    first = _script(11)
    assert b"partial_fill" in first and b"'fill'" in first
    assert first == _script(11)
    assert first != _script(12)  # the seed reaches the ids: the comparison can fail


# ------------------------------------------------------------------ the port, structurally
def use(venue: VenuePort) -> list[BrokerOrder]:
    """Typed against the port: mypy checks the calls below; at run time they must work."""
    venue.account()
    venue.positions()
    return venue.list_orders("all")


def _protocol_methods() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in vars(VenuePort).items()
        if inspect.isfunction(fn) and not name.startswith("_")
    }


def _shape(sig: inspect.Signature) -> list[tuple[object, ...]]:
    return [(p.name, p.kind, p.default, str(p.annotation)) for p in sig.parameters.values()]


def port_mismatches(cls: type) -> list[str]:
    """Each port method `cls` lacks or spells differently (names, kinds, defaults, annotations)."""
    problems = []
    for name, want in _protocol_methods().items():
        impl = getattr(cls, name, None)
        if not callable(impl):
            problems.append(f"{name}: missing")
            continue
        have = inspect.signature(impl)
        if _shape(have) != _shape(want) or str(have.return_annotation) != str(want.return_annotation):
            problems.append(f"{name}: {have} != {want}")
    return problems


def test_the_port_has_the_methods_the_venues_are_checked_against():
    assert {
        "submit_order",
        "get_order_by_client_id",
        "get_order",
        "cancel_order",
        "cancel_all_orders",
        "list_orders",
        "list_all_orders_since",
        "positions",
        "account",
        "close_position",
    } <= set(_protocol_methods())


@pytest.mark.parametrize("cls", [SimulatedVenue, FakeVenue])
def test_simulated_and_fake_venues_satisfy_the_port_structurally(cls):
    assert port_mismatches(cls) == []


def test_the_structural_check_catches_a_missing_or_misspelled_method():
    class Broken(FakeVenue):
        def list_orders(self, status: str = "closed", after: str | None = None, limit: int = 500) -> list[BrokerOrder]:
            return []

    del_cls = type("NoClose", (), {k: v for k, v in vars(FakeVenue).items() if k != "close_position"})
    assert [p.split(":")[0] for p in port_mismatches(Broken)] == ["list_orders"]
    assert port_mismatches(del_cls) == ["close_position: missing"]


def test_both_venues_work_through_a_function_typed_against_the_port():
    sim, _ = make()
    sim.submit_order("a", intent("buy", "1"))
    fake = FakeVenue(InMemoryBroker(ManualClock(T0)))
    fake.submit_order("a", intent("buy", "1"))
    assert [o.client_order_id for o in use(sim)] == [o.client_order_id for o in use(fake)] == ["a"]


# ------------------------------------------------------------------ FakeVenue
def test_fake_venue_sends_every_call_to_the_handler_and_records_it():
    answer = BrokerOrder(
        id="v1",
        client_order_id="c1",
        symbol="AAPL",
        side="buy",
        type="market",
        time_in_force="day",
        status="new",
        qty=D(1),
        filled_qty=D(0),
        filled_avg_price=None,
        limit_price=None,
        stop_price=None,
        submitted_at="2023-11-14T22:13:20.000000Z",
    )

    def handler(call: VenueCall) -> Any:
        if call.method == "get_order":
            raise NotFound(call.args["order_id"])
        return answer

    fake = FakeVenue(handler)
    assert fake.submit_order("c1", intent()) is answer
    with pytest.raises(NotFound):
        fake.get_order("gone")
    fake.list_orders("closed", limit=3)
    assert [c.method for c in fake.calls] == ["submit_order", "get_order", "list_orders"]
    assert fake.calls[1].args == {"order_id": "gone"}
    assert fake.called("list_orders")[0].args == {"status": "closed", "after": None, "limit": 3}


def test_in_memory_broker_takes_orders_and_finds_them_again():
    clock = ManualClock(T0)
    fake = FakeVenue(InMemoryBroker(clock))
    first = fake.submit_order("c1", intent())
    clock.advance(1)
    second = fake.submit_order("c2", intent("sell", "2", "limit", "gtc", limit_price=D(120)))
    assert fake.get_order_by_client_id("c2") == fake.get_order(second.id) == second
    with pytest.raises(DuplicateClientOrderId):
        fake.submit_order("c1", intent())
    with pytest.raises(NotFound):
        fake.get_order_by_client_id("c9")
    fake.cancel_order(first.id)
    with pytest.raises(OrderRejectedByVenue):
        fake.cancel_order(first.id)
    assert [o.id for o in fake.list_orders()] == [second.id]
    assert [o.id for o in fake.list_all_orders_since(first.submitted_at)] == [second.id]
    assert fake.cancel_all_orders() == [(second.id, 200)]
    assert fake.positions() == [] and fake.account().cash == D(100_000)
