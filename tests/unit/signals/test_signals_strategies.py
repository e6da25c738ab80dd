"""Built-in strategies driven through the SignalCore with instant fills."""

from __future__ import annotations

import itertools
from decimal import Decimal

from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide, OrderType
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar, Quote
from pyrt.domain.orders import OrderState
from pyrt.services.signals.core import SignalCore
from pyrt.services.signals.strategies import BenchmarkStrategy, EmaCrossover, RsiMeanReversion
from pyrt.services.signals.strategy import Signal, SignalDirection

DAY_NS = 86_400 * 10**9


_DAYS = itertools.count()  # bar times only move forward, across calls too (a core runs each bar once)


def bars(symbol: str, closes: list[float]) -> list[Bar]:
    return [Bar(symbol, c, c, c, c, 1000.0, next(_DAYS) * DAY_NS) for c in closes]


def ramp(start: float, end: float, n: int) -> list[float]:
    return [start + (end - start) * (i + 1) / n for i in range(n)]


def run(core: SignalCore, fills, series: list[Bar]) -> tuple[list[Signal], list[OrderIntent]]:
    signals, intents = [], []
    for b in series:
        out = core.on_bar(b)
        signals += [o for o in out if isinstance(o, Signal)]
        intents += [o for o in out if isinstance(o, OrderIntent)]
        fills.process(out)
    return signals, intents


def test_crossover_goes_long_then_flat(instant_fills) -> None:
    strat = EmaCrossover("ema", ["AAPL"], {"order_qty": 7})
    core = SignalCore([strat], ManualClock(), intent_epoch="t")
    fills = instant_fills(core)
    series = bars("AAPL", [100.0] * 30 + ramp(100, 130, 30) + ramp(130, 90, 40))
    signals, intents = run(core, fills, series)
    assert [s.direction for s in signals] == [SignalDirection.LONG, SignalDirection.FLAT]
    assert all(0 <= s.strength <= 1 and s.features["ema_fast"] > 0 for s in signals)
    assert [(i.side, i.qty) for i in intents] == [(OrderSide.BUY, 7), (OrderSide.SELL, 7)]
    assert intents[0].order_type is OrderType.MARKET
    assert core.position("ema", "AAPL") == 0


def test_crossover_target_waits_for_pending_intent_then_acts() -> None:
    strat = EmaCrossover("ema", ["X"], {"fast": 2, "slow": 4, "order_qty": 5})
    core = SignalCore([strat], ManualClock(), intent_epoch="t")
    out = [o for b in bars("X", [10, 10, 10, 10, 12, 14]) for o in core.on_bar(b)]
    (buy,) = [o for o in out if isinstance(o, OrderIntent)]
    # cross down while the buy is still pending: a flat signal but no intent yet
    out = [o for b in bars("X", [9, 6]) for o in core.on_bar(b)]
    assert [o.direction for o in out if isinstance(o, Signal)] == [SignalDirection.FLAT]
    assert not [o for o in out if isinstance(o, OrderIntent)]
    core.on_execution_report("ema", "X", OrderState.FILLED, Decimal(5), buy.intent_id)
    out = core.on_bar(bars("X", [6])[0])
    assert [(o.side, o.qty) for o in out if isinstance(o, OrderIntent)] == [(OrderSide.SELL, 5)]


def test_crossover_does_not_add_to_an_existing_long() -> None:
    strat = EmaCrossover("ema", ["X"], {"fast": 2, "slow": 4, "order_qty": 5})
    core = SignalCore([strat], ManualClock(), intent_epoch="t")
    core.set_position("ema", "X", Decimal(5))
    out = [o for b in bars("X", [10, 10, 10, 10, 12, 14]) for o in core.on_bar(b)]
    assert [o.direction for o in out if isinstance(o, Signal)] == [SignalDirection.LONG]
    assert not [o for o in out if isinstance(o, OrderIntent)]


def test_crossover_with_shorting_reverses_in_two_steps(instant_fills) -> None:
    strat = EmaCrossover(
        "ema", ["X"], {"fast": 2, "slow": 4, "allow_short": True, "order_qty": 3, "max_position_shares": 3}
    )
    core = SignalCore([strat], ManualClock(), intent_epoch="t")
    fills = instant_fills(core)
    _, intents = run(core, fills, bars("X", [10, 10, 10, 10, 12, 14, 16, 12, 8, 6, 5]))
    assert [(i.side, i.qty) for i in intents] == [(OrderSide.BUY, 3), (OrderSide.SELL, 3), (OrderSide.SELL, 3)]
    assert core.position("ema", "X") == -3


def test_rsi_buys_oversold_scales_in_to_max_and_exits_overbought(instant_fills) -> None:
    strat = RsiMeanReversion("rsi", ["MSFT"], {"order_qty": 10, "max_position_shares": 25})
    core = SignalCore([strat], ManualClock(), intent_epoch="t")
    fills = instant_fills(core)
    series = bars("MSFT", ramp(100, 80, 20) + ramp(80, 110, 20))
    signals, intents = run(core, fills, series)
    buys = [i for i in intents if i.side is OrderSide.BUY]
    sells = [i for i in intents if i.side is OrderSide.SELL]
    assert [b.qty for b in buys] == [10, 10, 5]  # clipped to stay within 25
    assert [s.qty for s in sells] == [25]  # exits sell exactly the position
    assert signals[0].direction is SignalDirection.LONG and signals[0].features["rsi"] < 30
    assert signals[-1].direction is SignalDirection.FLAT and signals[-1].features["rsi"] > 70
    assert core.position("rsi", "MSFT") == 0


def test_no_new_entry_while_intent_pending() -> None:
    strat = RsiMeanReversion("rsi", ["X"], {"order_qty": 1})
    core = SignalCore([strat], ManualClock(), intent_epoch="t")
    out = [o for b in bars("X", ramp(100, 70, 30)) for o in core.on_bar(b)]
    intents = [o for o in out if isinstance(o, OrderIntent)]
    assert len(intents) == 1  # never filled, so never re-sent
    assert len([o for o in out if isinstance(o, Signal)]) > 5
    core.on_risk_decision(intents[0].intent_id, False, "MAX_ORDER_VALUE")
    out = core.on_bar(bars("X", [69])[0])
    assert len([o for o in out if isinstance(o, OrderIntent)]) == 1  # denial frees the slot


def test_limit_orders_buy_at_ask_and_sell_at_bid(instant_fills) -> None:
    strat = RsiMeanReversion("rsi", ["X"], {"order_type": "limit", "order_qty": 2})
    core = SignalCore([strat], ManualClock(), intent_epoch="t")
    fills = instant_fills(core)
    core.on_quote(Quote("X", 69.5, 100, 69.52, 100, 0))
    _, intents = run(core, fills, bars("X", ramp(100, 70, 20)))
    assert intents[0].order_type is OrderType.LIMIT
    assert intents[0].limit_price == Decimal("69.52")
    core.on_quote(Quote("X", 120.1, 100, 120.2, 100, 0))
    _, intents = run(core, fills, bars("X", ramp(70, 120, 20)))
    assert intents[-1].side is OrderSide.SELL and intents[-1].limit_price == Decimal("120.10")


def test_ema_on_quote_mids_sampled_per_interval(instant_fills) -> None:
    strat = EmaCrossover("emaq", ["X"], {"source": "quote", "sample_interval_s": 60, "fast": 2, "slow": 4})
    core = SignalCore([strat], ManualClock(), intent_epoch="t")
    fills = instant_fills(core)
    mids = [10, 10, 10, 10, 10, 12, 14, 16, 12, 8, 6]
    outs = []
    for minute, mid in enumerate(mids):
        for k in range(3):  # three quotes per minute; the last mid is the close
            q = Quote("X", mid - 0.01, 1, mid + 0.01, 1, (minute * 60 + k * 10) * 10**9)
            out = core.on_quote(q)
            fills.process(out)
            outs += out
    assert core.on_bar(Bar("X", 1, 1, 1, 1, 1, 0)) == ()  # bars are ignored
    assert [o.direction for o in outs if isinstance(o, Signal)] == [SignalDirection.LONG, SignalDirection.FLAT]
    assert core.position("emaq", "X") == 0 and len(fills.intents) == 2


def test_benchmark_alternates_every_nth_quote() -> None:
    core = SignalCore([BenchmarkStrategy("bench", ["X"], {"every_n": 3})], ManualClock(), intent_epoch="t")
    intents = []
    for i in range(12):
        intents += core.on_quote(Quote("X", 10, 1, 10.01, 1, i))
    assert [i.side for i in intents] == [OrderSide.BUY, OrderSide.SELL] * 2
    assert all(i.qty == 1 for i in intents) and intents[0].reason == "q=2"
    core.on_execution_report("bench", "X", OrderState.FILLED, Decimal(1), intents[0].intent_id)
    assert len(core.pending_intents()) == 3
