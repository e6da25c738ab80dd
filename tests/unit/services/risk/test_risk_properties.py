"""Property tests of the risk core.

(a) Whatever the stream of intents, partial fills and cancels: every approved order, filled
    at its valuation price, keeps within the order limits and (unless it only reduces) the
    position and exposure limits; and at every step the worst reachable book (any
    combination of the open approved orders filling) stays within the share, open-position
    and shorting limits and, valued at the bid, within the notional and exposure limits.
(b) For every circuit-breaker trigger, the first breaching event trips it, nothing trips it
    earlier, and afterwards no exposure-increasing order is approved."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pyrt.services.risk.core import Reason
from pyrt.services.risk.events import BreakerTripped

D = Decimal
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

LIMITS = dict(
    max_shares=D(300),
    max_notional_per_position=D(5000),
    max_total_exposure=D(9000),
    max_open_positions=3,
    max_order_size=D(400),
    max_order_value=D(6000),
    price_collar_percent=D(25),
    max_quote_age_seconds=10,
)

cents = st.integers(min_value=1000, max_value=10_000).map(lambda c: D(c) / 100)
quotes = st.tuples(cents, st.integers(min_value=0, max_value=2000))  # bid, spread in bps (wide: valuation matters)
order = st.tuples(
    st.sampled_from(SYMBOLS),
    st.sampled_from(["buy", "sell"]),
    st.sampled_from(["market", "market", "limit", "stop", "stop_limit"]),
    st.integers(min_value=1, max_value=110),  # size as % of max_order_value at the mid: limits get hit
    st.integers(min_value=-30, max_value=30),  # limit/stop offset from mid, percent
)
# after each order: nothing, a (partial) fill or a cancel of some open order, or a wait
after = st.tuples(
    st.sampled_from(["none", "none", "fill", "fill", "cancel", "wait"]),
    st.integers(min_value=0, max_value=99),
    st.sampled_from([D("0.3"), D(1)]),
)
actions = st.lists(st.tuples(order, after), min_size=5, max_size=40)


class Model:
    """What must be true of the book if every approved order may fill."""

    def __init__(self) -> None:
        self.position = dict.fromkeys(SYMBOLS, D(0))
        self.open: dict[str, list] = {}  # intent_id -> [symbol, sign, remaining]

    def worst(self, symbol: str) -> tuple[Decimal, Decimal]:
        p = self.position[symbol]
        buys = sum((r for s, sign, r in self.open.values() if s == symbol and sign > 0), D(0))
        sells = sum((r for s, sign, r in self.open.values() if s == symbol and sign < 0), D(0))
        return max(abs(p + buys), abs(p - sells)), p - sells

    def reduces(self, symbol: str, side: str, qty: Decimal) -> bool:
        """Only brings the position toward flat, counting open orders on the same side."""
        p = self.position[symbol]
        same_side = sum((r for s, sign, r in self.open.values() if s == symbol and (sign > 0) == (side == "buy")), D(0))
        return ((p > 0 and side == "sell") or (p < 0 and side == "buy")) and qty <= abs(p) - same_side


@settings(SETTINGS, max_examples=150)
@given(allow_shorting=st.booleans(), quote_list=st.lists(quotes, min_size=4, max_size=4), steps=actions)
def test_no_approved_intent_leads_beyond_the_limits(make_env, allow_shorting, quote_list, steps):
    env = make_env(allow_shorting=allow_shorting, **LIMITS)
    pos_limits, order_limits = env.limits.position_limits, env.limits.order_validation
    book = {
        s: (bid, (bid * (1 + D(bps) / 10000)).quantize(D("0.01")))
        for s, (bid, bps) in zip(SYMBOLS, quote_list, strict=True)
    }

    def refresh_quotes():
        for s, (bid, ask) in book.items():
            env.quote(s, bid=float(bid), ask=float(ask))

    refresh_quotes()
    model = Model()
    for (symbol, side, otype, size_pct, offset), (then, pick, fraction) in steps:
        bid, ask = book[symbol]
        qty = max(
            (order_limits.max_order_value * size_pct / 100 / ((bid + ask) / 2)).quantize(D("0.01"), ROUND_DOWN), D(1)
        )
        price = ((bid + ask) / 2 * (1 + D(offset) / 100)).quantize(D("0.01"))
        decision = env.check(
            symbol=symbol,
            side=side,
            order_type=otype,
            qty=qty,
            limit=price if otype in ("limit", "stop_limit") else None,
            stop=price if otype in ("stop", "stop_limit") else None,
        )
        if decision.approved:
            own = [price] if otype != "market" else []
            valuation = max([*own, ask if side == "buy" else bid])  # filled at this price
            reducing = model.reduces(symbol, side, qty)
            model.open[decision.intent_id] = [symbol, 1 if side == "buy" else -1, qty]
            assert qty <= order_limits.max_order_size
            assert qty * valuation <= order_limits.max_order_value
            if not reducing:
                worst = model.worst(symbol)[0]
                assert worst * valuation <= pos_limits.max_notional_per_position
                others = sum(model.worst(s)[0] * (b + a) / 2 for s, (b, a) in book.items() if s != symbol)
                assert others + worst * valuation <= pos_limits.max_total_exposure
        if then in ("fill", "cancel") and model.open:
            intent_id = list(model.open)[pick % len(model.open)]
            symbol, sign, remaining = model.open[intent_id]
            qty = (
                remaining
                if then == "cancel"
                else max((remaining * fraction).quantize(D("0.01"), ROUND_DOWN), D("0.01"))
            )
            if then == "fill":
                env.core.on_fill(symbol, "buy" if sign > 0 else "sell", qty, book[symbol][0], intent_id)
                model.position[symbol] += sign * qty
            else:
                env.core.on_order_closed(intent_id)
            model.open[intent_id][2] -= qty
            if model.open[intent_id][2] == 0:
                del model.open[intent_id]
        elif then == "wait":
            env.clock.advance(pick % 20)
            refresh_quotes()

        total, held = D(0), 0
        for symbol in SYMBOLS:
            worst, lowest = model.worst(symbol)
            bid = book[symbol][0]  # every valuation and mark the core uses is >= the bid
            assert worst <= pos_limits.max_shares
            assert worst * bid <= pos_limits.max_notional_per_position
            assert allow_shorting or lowest >= 0
            total += worst * bid
            held += worst > 0
        assert total <= pos_limits.max_total_exposure
        assert held <= pos_limits.max_open_positions


# -- (b) the breaker -------------------------------------------------------------------------


def probe(env, active: bool) -> None:
    """A buy of 1 from flat increases exposure: denied iff the breaker is active."""
    decision = env.check(qty=1)
    if active:
        assert decision.reason_code == Reason.CIRCUIT_BREAKER_ACTIVE, decision
    else:
        assert decision.approved, decision
        env.core.on_order_closed(decision.intent_id)


def run(env, events, apply, breached, trigger: str) -> None:
    """Feed events; `breached(i)` says whether event i breaches by the model."""
    env.quote()
    tripped_at = None
    for i, event in enumerate(events):
        apply(event)
        if tripped_at is None and breached(i, event):
            tripped_at = i
        assert env.core.breaker.active == (tripped_at is not None), (i, event)
        probe(env, tripped_at is not None)
    trips = [e for e in env.events(BreakerTripped) if not e.manual]
    if tripped_at is None:
        assert trips == []
    else:
        assert [t.trigger for t in trips] == [trigger]


money = st.integers(min_value=-12, max_value=12).map(lambda n: D(n) * 250)  # coarse: hits the limit exactly


@SETTINGS
@given(events=st.lists(st.tuples(money, money), min_size=1, max_size=30))
@example(events=[(D(500), D(0)), (D(0), D(-500)), (D(-500), D("-0.01"))])  # exactly 1000 passes
def test_daily_loss_trips_on_the_first_breach(make_env, events):
    env = make_env(max_daily_loss=D(1000), max_quote_age_seconds=10**6)
    start = events[0][0] + events[0][1]
    run(
        env,
        events,
        lambda e: env.core.on_pnl(e[0], e[1], D(10**6)),
        lambda i, e: -(e[0] + e[1] - start) > 1000,
        "daily_loss",
    )


@SETTINGS
@given(events=st.lists(st.integers(min_value=1, max_value=20).map(lambda n: D(n) * 5000), min_size=1, max_size=30))
@example(events=[D(50_000), D(100_000), D(80_000), D(95_000), D("79999.99")])  # exactly 20 % passes
def test_drawdown_trips_on_the_first_breach(make_env, events):
    env = make_env(drawdown_threshold_percent=D(20))
    peak = [D(0)]

    def breached(i, equity):
        peak[0] = max(peak[0], equity)
        return (peak[0] - equity) / peak[0] * 100 > 20

    run(env, events, lambda e: env.core.on_pnl(0, 0, e), breached, "drawdown")


@SETTINGS
@given(
    limit=st.integers(min_value=1, max_value=5),
    events=st.lists(st.integers(min_value=-3, max_value=3), max_size=30),
)
def test_consecutive_losses_trip_on_the_first_breach(make_env, limit, events):
    env = make_env(max_consecutive_losses=limit)
    streak = [0]

    def trade(pnl):
        env.core.on_fill("ZZZ", "buy", D(1), D(100), "b")
        env.core.on_fill("ZZZ", "sell", D(1), D(100 + pnl), "s")

    def breached(i, pnl):
        streak[0] = streak[0] + 1 if pnl < 0 else 0
        return streak[0] >= limit

    run(env, events, trade, breached, "consecutive_losses")


@SETTINGS
@given(
    limit=st.integers(min_value=1, max_value=5),
    events=st.lists(st.sampled_from(["reject", "error", "ok"]), max_size=30),
)
def test_consecutive_rejections_trip_on_the_first_breach(make_env, limit, events):
    env = make_env(max_consecutive_rejections=limit)
    streak = [0]
    calls = {
        "reject": env.core.on_broker_rejection,
        "error": lambda: env.core.on_error("timeout"),
        "ok": env.core.on_broker_ok,
    }

    def breached(i, e):
        streak[0] = 0 if e == "ok" else streak[0] + 1
        return streak[0] >= limit

    run(env, events, lambda e: calls[e](), breached, "consecutive_rejections")


@SETTINGS
@given(
    limit=st.integers(min_value=1, max_value=5),
    events=st.lists(
        st.integers(min_value=0, max_value=4).map(lambda n: n * 10), max_size=30
    ),  # seconds before each error
)
def test_error_rate_trips_on_the_first_breach(make_env, limit, events):
    env = make_env(max_error_rate_per_minute=limit, max_quote_age_seconds=10**6)
    times: list[int] = []

    def error(dt):
        env.clock.advance(dt)
        env.core.on_error("http 500")
        env.core.on_broker_ok()

    def breached(i, dt):
        now = env.clock.now_ns()
        times.append(now)
        return sum(t > now - 60 * 10**9 for t in times) > limit

    run(env, events, error, breached, "error_rate")


@SETTINGS
@given(
    events=st.lists(st.tuples(st.sampled_from(["quote", "tick"]), st.integers(0, 4).map(lambda n: n * 5)), max_size=30)
)
def test_stale_market_data_trips_on_the_first_breach(make_env, events):
    env = make_env(market_data_stale_seconds=25, max_quote_age_seconds=10**6)
    state = {"last": None, "watch": None}

    def apply(e):
        env.clock.advance(e[1])
        if e[0] == "quote":
            env.quote()
        else:
            env.core.on_tick()

    def breached(i, e):
        now = env.clock.now_ns()
        if e[0] == "quote":
            state["last"] = now
            return False
        state["watch"] = state["watch"] or now
        return now - max(state["last"], state["watch"]) > 25 * 10**9

    state["last"] = env.clock.now_ns()  # run() sends a first quote now
    run(env, events, apply, breached, "market_data_stale")


@SETTINGS
@given(events=st.lists(st.sampled_from(["ok", "ok", "violation"]), max_size=20))
def test_integrity_violation_trips_on_the_first_one(make_env, events):
    env = make_env()

    def apply(e):
        if e == "violation":
            env.core.on_integrity_violation("position_mismatch", "test")
        else:
            env.core.on_broker_ok()

    run(env, events, apply, lambda i, e: e == "violation", "integrity")


@SETTINGS
@given(limit=st.integers(min_value=1, max_value=8), attempts=st.integers(min_value=0, max_value=12))
def test_max_trades_per_day_trips_on_the_trade_that_reaches_it(make_env, limit, attempts):
    env = make_env(max_trades_per_day=limit)
    env.quote()
    for i in range(attempts):
        decision = env.check(qty=1)
        assert decision.approved == (i < limit)
        assert env.core.breaker.active == (i + 1 >= limit)
