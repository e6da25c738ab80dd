"""Order lifecycles in the pure matching core."""

from decimal import Decimal as D

import pytest

from pyrt.domain.enums import OrderSide, OrderStatus, OrderType, TimeInForce, TradeEvent
from pyrt.domain.market import Quote
from pyrt.venues.simulated.matching import MatchingEngine, SimConfig
from pyrt.venues.simulated.models import NewOrder, Rejection

T0 = 1_700_000_000_000_000_000


def engine(**kw) -> MatchingEngine:
    cfg = SimConfig(symbols=("AAPL", "MSFT"), **kw)
    eng = MatchingEngine(cfg, seed=1)
    eng.on_quote(Quote("AAPL", 99.0, 300, 101.0, 200, T0))
    eng.on_quote(Quote("MSFT", 49.0, 100, 51.0, 100, T0))
    return eng


def order(side="buy", type_="market", qty="10", tif="day", **kw) -> NewOrder:
    return NewOrder(
        symbol=kw.pop("symbol", "AAPL"),
        side=OrderSide(side),
        type=OrderType(type_),
        time_in_force=TimeInForce(tif),
        qty=D(qty),
        **kw,
    )


def events(evts):
    return [e.event for e in evts]


def test_market_buy_fills_at_ask_and_sell_at_bid():
    eng = engine()
    ack, evts = eng.submit(order("buy", qty="10"), T0)
    assert ack.status is OrderStatus.ACCEPTED
    assert events(evts) == [TradeEvent.NEW, TradeEvent.FILL]
    assert evts[-1].price == D("101.0") and evts[-1].position_qty == D(10)
    _, evts = eng.submit(order("sell", qty="4"), T0)
    assert evts[-1].price == D("99.0") and evts[-1].position_qty == D(6)
    assert eng.account.cash == D(100_000) - D(1010) + D(396)


def test_fills_bounded_by_quote_size_give_partial_fills():
    eng = engine()
    _, evts = eng.submit(order("buy", qty="250"), T0)
    assert events(evts) == [TradeEvent.NEW, TradeEvent.PARTIAL_FILL]
    assert evts[-1].qty == D(200)
    o = eng.get_order(evts[0].order.id)
    assert o.status is OrderStatus.PARTIALLY_FILLED and o.filled_qty == D(200)
    evts = eng.on_quote(Quote("AAPL", 99.5, 300, 101.5, 100, T0 + 1))
    assert events(evts) == [TradeEvent.FILL]
    assert o.filled_qty == D(250)
    assert o.filled_avg_price == (D(200) * D("101.0") + D(50) * D("101.5")) / D(250)


def test_limit_rests_until_crossed_and_fills_at_quote_not_worse_than_limit():
    eng = engine()
    _, evts = eng.submit(order("buy", "limit", limit_price=D(100)), T0)
    assert events(evts) == [TradeEvent.NEW]
    assert eng.on_quote(Quote("AAPL", 99.5, 300, 100.5, 200, T0 + 1)) == []
    evts = eng.on_quote(Quote("AAPL", 98.5, 300, 99.5, 200, T0 + 2))
    assert events(evts) == [TradeEvent.FILL] and evts[0].price == D("99.5")


def test_stop_triggers_then_fills_as_market_and_stop_limit_as_limit():
    eng = engine()
    eng.submit(order("buy", qty="20"), T0)
    _, evts = eng.submit(order("sell", "stop", qty="10", stop_price=D(95)), T0)
    assert events(evts) == [TradeEvent.NEW]
    evts = eng.on_quote(Quote("AAPL", 94.0, 300, 96.0, 200, T0 + 1))
    assert events(evts) == [TradeEvent.FILL] and evts[0].price == D("94.0")
    _, evts = eng.submit(order("sell", "stop_limit", qty="10", stop_price=D(90), limit_price=D(89)), T0 + 2)
    evts = eng.on_quote(Quote("AAPL", 88.0, 300, 90.0, 200, T0 + 3))  # triggered, but bid < limit
    assert evts == []
    evts = eng.on_quote(Quote("AAPL", 89.5, 300, 90.5, 200, T0 + 4))
    assert events(evts) == [TradeEvent.FILL] and evts[0].price == D("89.5")


def test_ioc_fills_what_it_can_and_cancels_the_rest():
    eng = engine()
    _, evts = eng.submit(order("buy", qty="250", tif="ioc"), T0)
    assert events(evts) == [TradeEvent.NEW, TradeEvent.PARTIAL_FILL, TradeEvent.CANCELED]
    assert evts[-1].order.filled_qty == D(200)


def test_fok_fills_entirely_or_is_canceled():
    eng = engine()
    _, evts = eng.submit(order("buy", qty="250", tif="fok"), T0)
    assert events(evts) == [TradeEvent.NEW, TradeEvent.CANCELED]
    _, evts = eng.submit(order("buy", qty="150", tif="fok"), T0)
    assert events(evts) == [TradeEvent.NEW, TradeEvent.FILL]


def test_day_orders_expire_at_close_gtc_stays():
    eng = engine()
    eng.submit(order("buy", "limit", limit_price=D(90)), T0)
    eng.submit(order("buy", "limit", limit_price=D(90), tif="gtc"), T0)
    evts = eng.expire_day_orders(T0 + 10)
    assert events(evts) == [TradeEvent.EXPIRED]
    assert [o.time_in_force for o in eng.open_orders()] == [TimeInForce.GTC]


def test_closed_market_holds_orders_until_open():
    eng = engine()
    eng.set_market_open(False, T0)
    _, evts = eng.submit(order("buy"), T0)
    assert events(evts) == [TradeEvent.NEW]
    evts = eng.set_market_open(True, T0 + 5)
    assert events(evts) == [TradeEvent.FILL]


def test_latency_delays_matching():
    eng = engine(latency_ms=5)
    _, evts = eng.submit(order("buy"), T0)
    assert events(evts) == [TradeEvent.NEW]
    assert eng.advance(T0 + 4_000_000) == []
    assert events(eng.advance(T0 + 5_000_000)) == [TradeEvent.FILL]


def test_slippage_and_fees():
    eng = engine(slippage_bps=D(10), fee_per_share=D("0.01"))
    _, evts = eng.submit(order("buy", qty="10"), T0)
    assert evts[-1].price == D("101.10")
    assert eng.account.fees_paid == D("0.10")


@pytest.mark.parametrize(
    "kw,status,fragment",
    [
        ({"symbol": "ZZZZ"}, 422, "not found"),
        ({"qty": "0"}, 422, "qty must be > 0"),
        ({"type_": "limit"}, 422, "limit_price is required"),
        ({"type_": "stop"}, 422, "stop_price is required"),
        ({"qty": "1.5", "tif": "gtc"}, 422, "fractional"),
        ({"client_order_id": "x" * 49}, 422, "48 characters"),
        ({"qty": "2000"}, 403, "insufficient buying power"),
        ({"side": "sell"}, 403, "insufficient qty available"),
    ],
)
def test_rejections_as_alpaca_answers_them(kw, status, fragment):
    eng = engine()
    with pytest.raises(Rejection) as err:
        eng.submit(order(**kw), T0)
    assert err.value.http_status == status
    assert fragment in err.value.message


def test_client_order_id_unique_forever_even_after_cancel():
    eng = engine()
    ack, _ = eng.submit(order("buy", "limit", limit_price=D(90), client_order_id="abc"), T0)
    eng.cancel(ack.id, T0 + 1)
    with pytest.raises(Rejection, match="must be unique"):
        eng.submit(order("buy", "limit", limit_price=D(90), client_order_id="abc"), T0 + 2)


def test_cancel_rules():
    eng = engine()
    ack, evts = eng.submit(order("buy"), T0)
    with pytest.raises(Rejection) as err:
        eng.cancel(ack.id, T0)
    assert err.value.http_status == 422
    with pytest.raises(Rejection) as err:
        eng.cancel("nope", T0)
    assert err.value.http_status == 404


def test_open_buy_orders_hold_buying_power():
    eng = engine()
    eng.submit(order("buy", "limit", qty="900", limit_price=D(100)), T0)
    with pytest.raises(Rejection, match="buying power"):
        eng.submit(order("buy", "limit", qty="200", limit_price=D(100)), T0)


def test_open_sell_orders_hold_shares():
    eng = engine()
    eng.submit(order("buy", qty="10"), T0)
    eng.submit(order("sell", "limit", qty="8", limit_price=D(200)), T0)
    with pytest.raises(Rejection, match="available: 2"):
        eng.submit(order("sell", "limit", qty="3", limit_price=D(200)), T0)


def test_shorting_allowed_by_config_and_flip_pnl():
    eng = engine(allow_shorting=True)
    _, evts = eng.submit(order("sell", qty="10"), T0)
    assert evts[-1].position_qty == D(-10)
    _, evts = eng.submit(order("buy", qty="15"), T0)  # cover 10 at 101 (sold at 99), long 5
    assert evts[-1].position_qty == D(5)
    assert eng.account.realized_pnl == D(-20)
    assert eng.account.positions["AAPL"].avg_entry_price == D("101.0")


def test_close_position_submits_opposite_market_order():
    eng = engine()
    eng.submit(order("buy", qty="10"), T0)
    ack, evts = eng.close_position("AAPL", T0)
    assert ack.side is OrderSide.SELL and ack.qty == D(10)
    assert "AAPL" not in eng.account.positions
    with pytest.raises(Rejection) as err:
        eng.close_position("AAPL", T0)
    assert err.value.http_status == 404


def test_notional_market_order_converts_to_fractional_qty():
    eng = engine()
    ack, evts = eng.submit(
        NewOrder(
            symbol="AAPL", side=OrderSide.BUY, type=OrderType.MARKET, time_in_force=TimeInForce.DAY, notional=D(505)
        ),
        T0,
    )
    assert ack.qty == D(5)
    assert events(evts)[-1] is TradeEvent.FILL


def test_restore_from_changes_round_trip():
    eng = engine()
    eng.submit(order("buy", qty="10"), T0)
    eng.submit(order("buy", "limit", limit_price=D(90), client_order_id="rest"), T0)
    changes = eng.take_changes()
    fresh = MatchingEngine(eng.config, seed=1)
    fresh.load(
        list(eng.orders.values()),
        list(eng.account.positions.values()),
        eng.account.to_state(),
        changes.id_counter,
        changes.seq,
    )
    assert fresh.account.cash == eng.account.cash
    assert fresh.get_by_client_id("rest").is_open
    assert fresh.ids.next() == eng.ids.next()
    with pytest.raises(Rejection, match="unique"):
        fresh.submit(order("buy", "limit", limit_price=D(90), client_order_id="rest"), T0)
