"""SignalCore: routing, error isolation, safe mode, intent ids and bookkeeping."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar, Quote, Trade
from pyrt.domain.orders import OrderState
from pyrt.services.signals.core import IntentDropped, SignalCore, StrategyDisabled, StrategyError
from pyrt.services.signals.strategies import BenchmarkStrategy
from pyrt.services.signals.strategy import (
    IntentIdFactory,
    Signal,
    SignalDirection,
    Strategy,
    StrategyContext,
)


def q(symbol: str = "AAPL", ts: int = 0) -> Quote:
    return Quote(symbol, 100.0, 1, 100.02, 1, ts)


class Echo(Strategy):
    """Emits a long signal and a 1-share buy per quote."""

    kind = "echo"
    allow_concurrent_intents = True

    def on_quote(self, ctx: StrategyContext, quote: Quote):
        sig = Signal(
            strategy=self.name, symbol=quote.symbol, direction=SignalDirection.LONG, strength=0.5, ts_ns=quote.ts_ns
        )
        return [sig, self.make_intent(ctx, quote.symbol, OrderSide.BUY, Decimal(1), "echo")]


class Boom(Strategy):
    kind = "boom"

    def __init__(self, *a, fail: bool = True, **kw) -> None:
        super().__init__(*a, **kw)
        self.fail = fail

    def on_quote(self, ctx: StrategyContext, quote: Quote):
        if self.fail:
            raise ZeroDivisionError("bad math")
        return ()


def test_routes_only_to_subscribed_strategies_and_hooks() -> None:
    seen: list[str] = []

    class Recorder(Strategy):
        def on_trade(self, ctx, trade):
            seen.append(f"{self.name}:trade:{trade.symbol}")
            return ()

        def on_bar(self, ctx, bar):
            seen.append(f"{self.name}:bar:{bar.symbol}")
            return ()

    core = SignalCore([Recorder("a", ["AAPL"]), Recorder("b", ["MSFT", "AAPL"])], ManualClock())
    assert core.on_quote(q("AAPL")) == ()  # no on_quote overrides: no routes
    core.on_trade(Trade("AAPL", 1.0, 1.0, 0))
    core.on_bar(Bar("MSFT", 1, 1, 1, 1, 1, 0))
    core.on_bar(Bar("GOOGL", 1, 1, 1, 1, 1, 0))
    assert seen == ["a:trade:AAPL", "b:trade:AAPL", "b:bar:MSFT"]


def test_last_quote_visible_to_strategies_for_any_symbol() -> None:
    core = SignalCore([Echo("e", ["AAPL"])], ManualClock())
    core.on_quote(q("SPY", ts=5))
    ctx = core._runtimes["e"].ctx
    assert ctx.last_quote("SPY") == q("SPY", ts=5) and ctx.last_quote("QQQ") is None


def test_raising_strategy_is_isolated_then_disabled() -> None:
    clock = ManualClock()
    boom = Boom("boom", ["AAPL"])
    core = SignalCore([boom, Echo("echo", ["AAPL"])], clock, max_consecutive_errors=3)
    for i in range(5):
        out = core.on_quote(q(ts=i))
        assert len([o for o in out if isinstance(o, OrderIntent)]) == 1  # echo unaffected
    events = core.drain_events()
    errors = [e for e in events if isinstance(e, StrategyError)]
    assert len(errors) == 3
    assert errors[0] == StrategyError(
        strategy="boom",
        symbol="AAPL",
        hook="on_quote",
        error_type="ZeroDivisionError",
        message="bad math",
        consecutive=1,
        ts_ns=clock.now_ns(),
    )
    assert [e for e in events if isinstance(e, StrategyDisabled)] == [
        StrategyDisabled(strategy="boom", reason="3 consecutive errors", ts_ns=clock.now_ns())
    ]
    assert core.disabled_strategies == ["boom"]
    assert core.errors_by_strategy() == {"boom": 3, "echo": 0}


def test_errors_must_be_consecutive_to_disable() -> None:
    boom = Boom("boom", ["AAPL"])
    core = SignalCore([boom], ManualClock(), max_consecutive_errors=3)
    for i in range(10):
        boom.fail = i % 3 != 2  # two failures, then a success
        core.on_quote(q())
    assert core.disabled_strategies == []
    assert core.errors_by_strategy()["boom"] == 7
    core.disable_strategy("boom")
    core.enable_strategy("boom")
    assert core.disabled_strategies == []


def test_invalid_outputs_are_errors_and_bad_intents_are_dropped() -> None:
    class Bad(Strategy):
        def on_quote(self, ctx, quote):
            good = self.make_intent(ctx, "AAPL", OrderSide.BUY, Decimal(1), "")
            return [
                "nonsense",
                OrderIntent(intent_id="x1", strategy="other", symbol="AAPL", side=OrderSide.BUY, qty=Decimal(1)),
                OrderIntent(intent_id="x2", strategy="bad", symbol="AAPL", side=OrderSide.BUY, qty=Decimal(0)),
                good,
            ]

    core = SignalCore([Bad("bad", ["AAPL"])], ManualClock())
    out = core.on_quote(q())
    assert len(out) == 1 and out[0].strategy == "bad"
    events = core.drain_events()
    assert [type(e) for e in events] == [StrategyError, IntentDropped, IntentDropped]
    assert core.dropped_intents == 2 and core.sent_intents == 1


def test_safe_mode_keeps_signals_and_suppresses_intents() -> None:
    core = SignalCore([Echo("echo", ["AAPL"])], ManualClock(), trading_enabled=False)
    out = [o for i in range(4) for o in core.on_quote(q(ts=i))]
    assert len(out) == 4 and all(isinstance(o, Signal) for o in out)
    assert core.suppressed_intents == 4 and core.pending_intents() == []
    core.set_trading_enabled(True)
    out = core.on_quote(q())
    assert [type(o) for o in out] == [Signal, OrderIntent]
    assert core.pending_intents() == [out[1]]


def test_single_pending_intent_enforced_by_core() -> None:
    class Greedy(Echo):
        allow_concurrent_intents = False

    core = SignalCore([Greedy("g", ["AAPL"])], ManualClock())
    first = core.on_quote(q())[1]
    assert [type(o) for o in core.on_quote(q())] == [Signal]
    assert isinstance(core.drain_events()[0], IntentDropped)
    core.on_execution_report("g", "AAPL", "partially_filled", Decimal("0.5"), first.intent_id)
    assert core.pending_intents() == [first] and core.position("g", "AAPL") == Decimal("0.5")
    core.on_execution_report("g", "AAPL", "filled", Decimal(1), first.intent_id)
    assert core.pending_intents() == [] and core.position("g", "AAPL") == 1
    assert [type(o) for o in core.on_quote(q())] == [Signal, OrderIntent]


def test_intent_closed_hook_sees_denials_and_terminal_events() -> None:
    closed: list[tuple[str, str]] = []

    class Listener(Echo):
        def on_intent_closed(self, ctx, intent, outcome):
            closed.append((intent.intent_id, outcome))

    core = SignalCore([Listener("l", ["AAPL"])], ManualClock())
    a, b, c = (core.on_quote(q())[1] for _ in range(3))
    core.on_risk_decision(a.intent_id, False, "MAX_ORDER_VALUE")
    core.on_risk_decision(b.intent_id, True, "OK")
    core.on_execution_report("l", "AAPL", OrderState.ACCEPTED, None, b.intent_id)
    core.on_execution_report("l", "AAPL", OrderState.CANCELED, None, b.intent_id)
    core.on_execution_report("l", "AAPL", OrderState.FILLED, Decimal(1), "unknown-id")
    assert closed == [(a.intent_id, "denied"), (b.intent_id, "canceled")]
    assert core.pending_intents() == [c] and core.position("l", "AAPL") == 1


def test_intent_ids_unique_short_and_distinct_across_runs() -> None:
    clock = ManualClock()
    long_symbol = "VERYLONGSYMBOLNAME.WITH/SLASH"
    ids = [IntentIdFactory.from_clock(clock).next("X")]
    core = SignalCore([Echo("e", ["AAPL", long_symbol])], clock)
    for i in range(3000):
        for out in (core.on_quote(q("AAPL", i)), core.on_quote(q(long_symbol, i))):
            ids.append(out[1].intent_id)
    clock.advance(0.001)  # a restart: a new epoch from the clock
    restarted = SignalCore([Echo("e", ["AAPL"])], clock)
    ids += [restarted.on_quote(q())[1].intent_id for _ in range(100)]
    assert len(set(ids[1:])) == len(ids) - 1
    assert max(map(len, ids)) <= 32
    assert all("/" not in i for i in ids)
    with pytest.raises(ValueError, match="epoch"):
        IntentIdFactory("has-dash")


def test_benchmark_ids_fit_client_order_id_budget() -> None:
    core = SignalCore([BenchmarkStrategy("bench_15chars_x", ["AAPL"], {"every_n": 1})], ManualClock())
    intent = core.on_quote(q())[0]
    assert len(f"{intent.strategy}-{intent.intent_id}") <= 48


def test_unsubscribed_quote_is_cheap() -> None:
    core = SignalCore([Echo("e", ["AAPL"]), BenchmarkStrategy("b", ["MSFT"])], ManualClock())
    quote = q("TSLA")
    n = 50_000
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            core.on_quote(quote)
        best = min(best, (time.perf_counter() - t0) / n)
    assert best < 1e-6, f"{best * 1e9:.0f} ns per unsubscribed quote"


def test_historical_bars_warm_strategies_up_but_never_trade() -> None:
    closes: list[float] = []

    class OnBar(Strategy):
        kind = "on_bar"
        allow_concurrent_intents = True

        def on_bar(self, ctx: StrategyContext, bar: Bar):
            closes.append(bar.close)
            return [self.make_intent(ctx, bar.symbol, OrderSide.BUY, Decimal(1), "bar")]

    minute = 60_000_000_000
    clock = ManualClock(1_000 * minute)
    core = SignalCore([OnBar("b", ["AAPL"])], clock, max_bar_age_ns=2 * minute)
    core.on_quote(q(ts=clock.now_ns()))

    def bar(start_minute: int, close: float) -> Bar:
        return Bar("AAPL", close, close, close, close, 1.0, start_minute * minute)

    assert core.on_bar(bar(900, 1.0)) == ()  # ended 99 minutes ago: a gap fill
    assert core.on_bar(bar(996, 2.0)) == ()  # ended 3 minutes ago: over the 2-minute limit
    fresh = core.on_bar(bar(997, 3.0))  # ended exactly 2 minutes ago: still live
    assert closes == [1.0, 2.0, 3.0]  # every bar reached the strategy
    assert len(fresh) == 1 and isinstance(fresh[0], OrderIntent)
    dropped = [e for e in core.drain_events() if isinstance(e, IntentDropped)]
    assert [e.reason.split(" (")[0] for e in dropped] == ["historical bar", "historical bar"]
    assert core.dropped_intents == 2 and core.sent_intents == 1
