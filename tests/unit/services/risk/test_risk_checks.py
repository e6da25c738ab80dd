"""Pre-trade checks of RiskCore: every reason code reachable, boundaries, valuation,
reducing orders, projection over open approved orders, order rate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pyrt.domain.enums import OrderSide, TradingState
from pyrt.services.risk.core import DENIAL_REASONS, Reason
from pyrt.services.risk.events import TradingStateChanged

D = Decimal


def _halt(env):
    env.core.set_trading_state("HALTED", "test")


def _reduce(env):
    env.core.set_trading_state(TradingState.REDUCING, "test")


def _breaker(env):
    env.core.breaker.activate("test", TradingState.REDUCING)


def _open(*symbols):
    def setup(env):
        for s in symbols:
            env.quote(s)
            env.hold(s, 1)

    return setup


def _fill_rate(n, symbol="AAPL"):
    def setup(env):
        for _ in range(n):
            assert env.check(symbol=symbol, qty=1).approved

    return setup


# id, limit overrides, setup, intent, expected reason code
CASES = [
    ("halted", {}, _halt, {}, Reason.TRADING_HALTED),
    ("halted-even-invalid", {}, _halt, dict(qty=0), Reason.TRADING_HALTED),
    ("qty-zero", {}, None, dict(qty=0), Reason.INVALID_ORDER),
    ("qty-negative", {}, None, dict(qty=-5), Reason.INVALID_ORDER),
    ("limit-without-price", {}, None, dict(order_type="limit"), Reason.INVALID_ORDER),
    ("stop-without-price", {}, None, dict(order_type="stop"), Reason.INVALID_ORDER),
    ("stop-limit-needs-both", {}, None, dict(order_type="stop_limit", limit=100), Reason.INVALID_ORDER),
    ("market-with-limit", {}, None, dict(limit=100), Reason.INVALID_ORDER),
    ("limit-negative", {}, None, dict(order_type="limit", limit=-1), Reason.INVALID_ORDER),
    ("empty-symbol", {}, None, dict(symbol=""), Reason.INVALID_ORDER),
    ("breaker", {}, _breaker, {}, Reason.CIRCUIT_BREAKER_ACTIVE),
    ("reduce-only", {}, _reduce, {}, Reason.REDUCE_ONLY),
    ("no-quote", {}, None, dict(symbol="TSLA"), Reason.NO_MARKET_DATA),
    ("one-sided-quote", {}, lambda e: e.quote("MSFT", bid=0.0, ask=10.0), dict(symbol="MSFT"), Reason.NO_MARKET_DATA),
    ("crossed-quote", {}, lambda e: e.quote("MSFT", bid=11.0, ask=10.0), dict(symbol="MSFT"), Reason.NO_MARKET_DATA),
    ("stale", dict(max_quote_age_seconds=5), lambda e: e.clock.advance(5.001), {}, Reason.STALE_MARKET_DATA),
    ("min-size", dict(min_order_size=D(1)), None, dict(qty="0.999"), Reason.MIN_ORDER_SIZE),
    ("max-size", dict(max_order_size=D(100)), None, dict(qty="100.001"), Reason.MAX_ORDER_SIZE),
    ("min-price", dict(min_price=D(1)), lambda e: e.quote(bid=0.99, ask=0.99), {}, Reason.MIN_PRICE),
    (
        "min-price-limit",
        dict(min_price=D(90)),
        None,
        dict(side="sell", order_type="limit", limit="89.99"),
        Reason.MIN_PRICE,
    ),
    ("max-price", dict(max_price=D(100)), lambda e: e.quote(bid=100.01, ask=100.01), {}, Reason.MAX_PRICE),
    (
        "collar-high",
        dict(price_collar_percent=D(5)),
        None,
        dict(order_type="limit", limit="105.01"),
        Reason.PRICE_COLLAR,
    ),
    (
        "collar-low",
        dict(price_collar_percent=D(5), allow_shorting=True),
        None,
        dict(order_type="limit", limit="94.99"),
        Reason.PRICE_COLLAR,
    ),
    ("collar-stop", dict(price_collar_percent=D(5)), None, dict(order_type="stop", stop="106"), Reason.PRICE_COLLAR),
    ("order-value", dict(max_order_value=D(1000)), None, dict(qty="10.01"), Reason.MAX_ORDER_VALUE),
    ("no-shorting", dict(allow_shorting=False), None, dict(side="sell"), Reason.SHORTING_NOT_ALLOWED),
    (
        "no-flip-to-short",
        dict(allow_shorting=False),
        lambda e: e.hold("AAPL", 5),
        dict(side="sell", qty=6),
        Reason.SHORTING_NOT_ALLOWED,
    ),
    ("max-shares", dict(max_shares=D(10)), None, dict(qty=11), Reason.MAX_SHARES),
    (
        "max-shares-short",
        dict(max_shares=D(10), allow_shorting=True),
        None,
        dict(side="sell", qty=11),
        Reason.MAX_SHARES,
    ),
    ("max-shares-adding", dict(max_shares=D(10)), lambda e: e.hold("AAPL", 6), dict(qty=5), Reason.MAX_SHARES),
    (
        "position-notional",
        dict(max_notional_per_position=D(1000)),
        lambda e: e.hold("AAPL", 5),
        dict(qty="5.01"),
        Reason.MAX_POSITION_NOTIONAL,
    ),
    ("total-exposure", dict(max_total_exposure=D(1500)), _open("MSFT"), dict(qty="14.01"), Reason.MAX_TOTAL_EXPOSURE),
    ("open-positions", dict(max_open_positions=2), _open("MSFT", "GOOG"), {}, Reason.MAX_OPEN_POSITIONS),
    ("rate-overall", dict(max_orders_per_minute=3), _fill_rate(3, "MSFT"), {}, Reason.ORDER_RATE),
    ("rate-symbol", dict(max_orders_per_symbol_per_minute=2), _fill_rate(2), {}, Reason.ORDER_RATE),
]


@pytest.mark.parametrize(
    ("overrides", "setup", "intent", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_reason_code_is_reachable(make_env, overrides, setup, intent, expected):
    env = make_env(**overrides)
    env.quote("MSFT")
    env.quote()
    if setup:
        setup(env)
    decision = env.check(**intent)
    assert (decision.approved, decision.reason_code) == (False, expected), decision.message
    assert decision.message
    assert env.core.counters()["denials_by_reason"][expected] >= 1


def test_the_table_covers_every_reason_code():
    assert {c[4] for c in CASES} == set(DENIAL_REASONS)


# id, limit overrides, setup, intent: each exactly at its limit, so approved
BOUNDARIES = [
    ("stale-at-limit", dict(max_quote_age_seconds=5), lambda e: e.clock.advance(5), {}),
    ("min-size", dict(min_order_size=D(1)), None, dict(qty=1)),
    ("max-size", dict(max_order_size=D(100)), None, dict(qty=100)),
    ("min-price", dict(min_price=D(1)), lambda e: e.quote(bid=1.0, ask=1.0), {}),
    ("max-price", dict(max_price=D(100)), None, {}),
    ("collar-high", dict(price_collar_percent=D(5)), None, dict(order_type="limit", limit=105)),
    (
        "collar-low",
        dict(price_collar_percent=D(5), allow_shorting=True),
        None,
        dict(side="sell", order_type="limit", limit=95, qty=1),
    ),
    ("order-value", dict(max_order_value=D(1000)), None, dict(qty=10)),
    ("max-shares", dict(max_shares=D(10)), lambda e: e.hold("AAPL", 6), dict(qty=4)),
    ("max-shares-short", dict(max_shares=D(10), allow_shorting=True), None, dict(side="sell", qty=10)),
    ("position-notional", dict(max_notional_per_position=D(1000)), lambda e: e.hold("AAPL", 5), dict(qty=5)),
    ("total-exposure", dict(max_total_exposure=D(1500)), _open("MSFT"), dict(qty=14)),
    ("open-positions", dict(max_open_positions=2), _open("MSFT"), {}),
    ("rate", dict(max_orders_per_minute=3, max_orders_per_symbol_per_minute=3), _fill_rate(2), {}),
]


@pytest.mark.parametrize(("overrides", "setup", "intent"), [b[1:] for b in BOUNDARIES], ids=[b[0] for b in BOUNDARIES])
def test_orders_exactly_at_a_limit_pass(make_env, overrides, setup, intent):
    env = make_env(**overrides)
    env.quote("MSFT")
    env.quote()
    if setup:
        setup(env)
    decision = env.check(**intent)
    assert decision.approved, decision.message
    assert decision.reason_code == Reason.OK


# -- valuation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intent", "value_usd"),
    [
        (dict(side="buy"), D(1010)),  # market buy at the ask
        (dict(side="sell"), D(900)),  # market sell at the bid
        (dict(side="buy", order_type="limit", limit=95), D(1010)),  # limit below the ask: the ask is worse
        (dict(side="buy", order_type="limit", limit=102), D(1020)),  # marketable limit: its own price
        (dict(side="sell", order_type="limit", limit=92), D(920)),
        (dict(side="sell", order_type="limit", limit=88), D(900)),  # below the bid: the bid
        (dict(side="buy", order_type="stop", stop=103), D(1030)),
        (dict(side="buy", order_type="stop_limit", stop=103, limit=104), D(1040)),
    ],
)
def test_orders_are_valued_at_the_worse_of_their_price_and_the_quote(make_env, intent, value_usd):
    # wide quote: bid 90, ask 101; qty 10
    for max_value, approved in ((value_usd, True), (value_usd - D("0.01"), False)):
        env = make_env(max_order_value=max_value, allow_shorting=True)
        env.quote(bid=90.0, ask=101.0)
        decision = env.check(qty=10, **intent)
        assert decision.approved is approved, (max_value, decision)
        if not approved:
            assert decision.reason_code == Reason.MAX_ORDER_VALUE


def test_a_market_order_is_never_valued_at_zero(make_env):
    env = make_env(max_order_value=D(5000))
    env.quote(bid=499.0, ask=500.0)
    assert env.check(qty=10).approved
    assert env.check(qty=11).reason_code == Reason.MAX_ORDER_VALUE


# -- reducing orders -------------------------------------------------------------------


def test_reducing_orders_pass_position_exposure_and_open_position_limits(make_env):
    env = make_env(
        max_shares=D(100), max_notional_per_position=D(1000), max_total_exposure=D(1000), max_open_positions=1
    )
    env.quote("MSFT")
    env.quote()
    env.hold("AAPL", 200)  # over every limit already (limits lowered, price rose ...)
    env.hold("MSFT", 50)
    assert env.check(side="buy", qty=1).reason_code == Reason.MAX_SHARES
    assert env.check(side="sell", qty=150).approved  # reduces
    assert env.check(side="sell", qty=50).approved  # closes the rest
    assert env.check(side="sell", qty=1).reason_code == Reason.SHORTING_NOT_ALLOWED  # beyond the position


def test_a_reducing_order_that_would_flip_the_position_is_checked_in_full(make_env):
    env = make_env(max_shares=D(100), allow_shorting=True)
    env.quote()
    env.hold("AAPL", 80)
    assert env.check(side="sell", qty=180).approved  # -100 at worst
    env2 = make_env(max_shares=D(100), allow_shorting=True)
    env2.quote()
    env2.hold("AAPL", 80)
    assert env2.check(side="sell", qty=181).reason_code == Reason.MAX_SHARES


def test_buy_to_cover_reduces_a_short(make_env):
    env = make_env(max_shares=D(10), allow_shorting=True)
    env.quote()
    env.hold("AAPL", -50, 100)
    env.core.set_trading_state("REDUCING", "wind down")
    assert env.check(side="buy", qty=50).approved
    assert env.check(side="buy", qty=1).reason_code == Reason.REDUCE_ONLY


def test_reduce_only_state_counts_open_sells_against_the_position(make_env):
    env = make_env()
    env.quote()
    env.hold("AAPL", 100)
    env.core.set_trading_state("REDUCING", "wind down")
    assert env.check(side="sell", qty=80).approved
    assert env.check(side="sell", qty=30).reason_code == Reason.REDUCE_ONLY  # 110 > 100
    assert env.check(side="sell", qty=20).approved


# -- projection over open approved orders ----------------------------------------------


def test_many_small_orders_cannot_sneak_past_max_shares(env, make_env):
    env = make_env(max_shares=D(100))
    env.quote()
    ids = []
    for _ in range(10):
        d = env.check(qty=10)
        assert d.approved
        ids.append(d.intent_id)
    assert env.check(qty=1).reason_code == Reason.MAX_SHARES
    env.core.on_order_closed(ids[0])  # cancelled: its 10 are free again
    assert env.check(qty=10).approved
    assert env.check(qty=1).reason_code == Reason.MAX_SHARES


def test_fills_move_quantity_from_open_orders_to_the_position_without_double_counting(make_env):
    env = make_env(max_shares=D(100))
    env.quote()
    d = env.check(qty=60)
    env.core.on_fill("AAPL", OrderSide.BUY, D(25), D(100), d.intent_id)
    env.hold("AAPL", 25)  # the execution engine's position report after the fill
    assert env.check(qty=40).approved  # 25 held + 35 open + 40 = 100
    assert env.check(qty=1).reason_code == Reason.MAX_SHARES
    env.core.on_fill("AAPL", "buy", D(35), D(100), d.intent_id)
    env.hold("AAPL", 60)
    assert env.check(qty=1).reason_code == Reason.MAX_SHARES
    assert not env.core.book.pending.get(d.intent_id)


def test_open_orders_count_toward_exposure_and_open_positions(make_env):
    env = make_env(max_total_exposure=D(3000), max_open_positions=2)
    for s in ("AAPL", "MSFT", "GOOG"):
        env.quote(s)
    assert env.check(symbol="AAPL", qty=10).approved
    assert env.check(symbol="MSFT", qty=10).approved
    assert env.check(symbol="GOOG", qty=1).reason_code == Reason.MAX_OPEN_POSITIONS
    assert env.check(symbol="MSFT", qty=10).approved
    assert env.check(symbol="AAPL", qty="0.01").reason_code == Reason.MAX_TOTAL_EXPOSURE


def test_open_sells_count_toward_the_short_side(make_env):
    env = make_env(max_shares=D(100), allow_shorting=True)
    env.quote()
    assert env.check(side="buy", qty=100).approved
    assert env.check(side="sell", qty=100).approved  # worst case: buy cancelled, sell fills: -100
    assert env.check(side="sell", qty=1).reason_code == Reason.MAX_SHARES


def test_an_overfill_trips_the_breaker(make_env):
    env = make_env()
    env.quote()
    d = env.check(qty=10)
    env.core.on_fill("AAPL", "buy", D(10), D(100), d.intent_id)
    assert not env.core.breaker.active
    env.core.on_fill("AAPL", "buy", D(1), D(100), d.intent_id)
    assert env.core.breaker.active and env.core.breaker.trigger.value == "integrity"


def test_a_late_fill_of_a_cancelled_order_within_its_approval_is_not_an_overfill(make_env):
    env = make_env()
    env.quote()
    d = env.check(qty=10)
    env.core.on_order_closed(d.intent_id)
    env.core.on_fill("AAPL", "buy", D(4), D(100), d.intent_id)
    assert not env.core.breaker.active


# -- order rate --------------------------------------------------------------------------


def test_order_rate_is_a_sliding_sixty_second_window(make_env):
    env = make_env(max_orders_per_minute=3, max_quote_age_seconds=1000)
    env.quote()
    for _ in range(3):
        assert env.check(qty=1).approved
        env.clock.advance(10)
    assert env.check(qty=1).reason_code == Reason.ORDER_RATE  # t=30: 3 in the window
    env.clock.advance(29.999)  # t=59.999: the first is still inside
    assert env.check(qty=1).reason_code == Reason.ORDER_RATE
    env.clock.advance(0.001)  # t=60: the first has left
    assert env.check(qty=1).approved
    assert env.check(qty=1).reason_code == Reason.ORDER_RATE


def test_denied_orders_do_not_use_up_the_rate(make_env):
    env = make_env(max_orders_per_minute=2, max_shares=D(5))
    env.quote()
    for _ in range(5):
        assert env.check(qty=6).reason_code == Reason.MAX_SHARES
    assert env.check(qty=1).approved
    assert env.check(qty=1).approved


def test_per_symbol_rate_leaves_other_symbols_alone(make_env):
    env = make_env(max_orders_per_symbol_per_minute=2)
    env.quote()
    env.quote("MSFT")
    assert env.check(qty=1).approved and env.check(qty=1).approved
    assert env.check(qty=1).reason_code == Reason.ORDER_RATE
    assert env.check(symbol="MSFT", qty=1).approved


# -- decisions and bookkeeping ---------------------------------------------------------


def test_a_retried_intent_gets_the_same_answer_and_is_counted_once(env):
    intent = env.intent(qty=10)
    first = env.core.check(intent)
    again = env.core.check(intent)
    assert first == again and first.approved
    assert len(env.core.book.pending) == 1
    counters = env.core.counters()
    assert counters["checks_performed"] == 1 and counters["duplicate_intents"] == 1


def test_a_reused_intent_id_with_different_content_is_invalid(env):
    env.check(qty=10, intent_id="x")
    decision = env.check(qty=11, intent_id="x")
    assert decision.reason_code == Reason.INVALID_ORDER


def test_counters_record_every_decision(make_env):
    env = make_env(max_shares=D(10))
    env.quote()
    env.check(qty=5)
    env.check(qty=50)
    env.check(symbol="NONE")
    c = env.core.counters()
    assert (c["checks_performed"], c["approved"], c["denied"]) == (3, 1, 2)
    assert c["denials_by_reason"][Reason.MAX_SHARES] == 1
    assert c["denials_by_reason"][Reason.NO_MARKET_DATA] == 1
    assert set(c["denials_by_reason"]) == set(DENIAL_REASONS)


def test_older_quotes_do_not_replace_newer_ones(make_env):
    env = make_env(max_quote_age_seconds=5)
    env.quote(bid=100.0, ask=100.0)
    env.quote(bid=1.0, ask=1.0, age_s=10)  # arrives late
    assert env.check(qty=1).approved
    assert env.core.counters()["quotes_ignored"] == 1


def test_trading_state_changes_need_a_reason_and_are_events(env):
    assert not env.core.set_trading_state("HALTED", " ").ok
    assert not env.core.set_trading_state("PAUSED", "x").ok
    assert env.core.set_trading_state("HALTED", "maintenance").ok
    [event] = env.events(TradingStateChanged)
    assert (event.old, event.new, event.reason) == (TradingState.ACTIVE, TradingState.HALTED, "maintenance")
    assert env.core.set_trading_state("ACTIVE", "done").ok
    assert env.check(qty=1).approved


def test_open_sells_count_toward_shorting(make_env):
    env = make_env(allow_shorting=False)
    env.quote()
    env.hold("AAPL", 100)
    assert env.check(side="sell", qty=80).approved
    assert env.check(side="sell", qty=30).reason_code == Reason.SHORTING_NOT_ALLOWED
    assert env.check(side="sell", qty=20).approved
