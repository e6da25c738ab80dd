"""A backtest-style run of the built-in strategies over the real daily bars in the shared
data directory: the core, instant fills, and a sanity check on the number of trades."""

from __future__ import annotations

from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide
from pyrt.services.signals.core import SignalCore
from pyrt.services.signals.strategies import build_strategies
from pyrt.services.signals.strategy import Signal


def round_trips(intents, strategy: str, symbol: str) -> int:
    pos, trips = 0, 0
    for i in intents:
        if i.strategy == strategy and i.symbol == symbol:
            new = pos + (i.qty if i.side is OrderSide.BUY else -i.qty)
            trips += pos != 0 and new == 0
            pos = new
    return trips


def test_daily_bars_backtest_gives_plausible_round_trips(historical_bars, instant_fills):
    symbols = sorted(historical_bars)
    specs = [
        {"name": "ema", "kind": "ema_crossover", "symbols": symbols, "params": {}},
        {
            "name": "rsi",
            "kind": "rsi_mean_reversion",
            "symbols": symbols,
            "params": {"order_qty": 10, "max_position_shares": 30},
        },
    ]
    clock = ManualClock()
    core = SignalCore(build_strategies(specs), clock, intent_epoch="bt")
    fills = instant_fills(core)
    timeline = sorted((b for bars in historical_bars.values() for b in bars), key=lambda b: (b.ts_ns, b.symbol))
    signals = 0
    for bar in timeline:
        clock.set(bar.ts_ns)
        out = core.on_bar(bar)
        signals += sum(isinstance(o, Signal) for o in out)
        fills.process(out)
    assert core.drain_events() == [] and core.pending_intents() == []
    for sym in symbols:
        n_bars = len(historical_bars[sym])
        ema_trips = round_trips(fills.intents, "ema", sym)
        # ~250 daily bars: a 12/26 crossover flips a handful of times a year
        assert 1 <= ema_trips <= n_bars // 20, (sym, ema_trips)
        assert 0 <= round_trips(fills.intents, "rsi", sym) <= n_bars // 15
        for strat in ("ema", "rsi"):
            assert 0 <= fills.positions[(strat, sym)] <= (10 if strat == "ema" else 30)
    assert sum(round_trips(fills.intents, "rsi", s) for s in symbols) >= 1
    assert signals >= len(fills.intents)
