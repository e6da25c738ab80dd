"""A strategy decides the same in the backtester as in the live signal core: the signal
core is fed the same closed bars the signal bridge receives (at their close), each approved
intent is reported filled as the execution engine would report it, and the intents match
the backtest's one for one."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from pyrt.backtest.data import load_bars
from pyrt.backtest.engine import Backtest
from pyrt.backtest.settings import BacktestSettings
from pyrt.domain.clock import ManualClock
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar
from pyrt.services.signals.core import SignalCore
from pyrt.services.signals.strategies.registry import build_strategies
from tests.support.backtest import SHARED, permissive_limits

SPEC = {
    "name": "ref",
    "kind": "ema_cross_reversal",
    "symbols": ["AAPL"],
    "params": {"fast": 5, "slow": 12, "trade_size": 7},
}


def test_the_backtest_sends_the_intents_the_live_signal_core_sends() -> None:
    data = load_bars([SHARED / "data" / "bench" / "aapl_1m_100k.csv"])
    n = 3000
    data = dataclasses.replace(
        data,
        **{f: getattr(data, f)[:n] for f in ("open_ns", "close_ns", "sym", "open", "high", "low", "close", "volume")},
    )
    settings = BacktestSettings(fill_at="close", cash=Decimal(1_000_000), fees="none", close_at_end=False)
    result = Backtest(build_strategies([SPEC]), permissive_limits(), data, settings).run()

    clock = ManualClock(int(data.open_ns[0]))
    live = SignalCore(build_strategies([SPEC]), clock, intent_epoch="bt")  # as the signal bridge builds it
    position = Decimal(0)
    intents: list[OrderIntent] = []
    for o_ns, c_ns, _sym, o, h, lo, c, v in zip(*next(data.chunks(n)), strict=True):
        clock.set(c_ns)
        for out in live.on_bar(Bar("AAPL", o, h, lo, c, v, o_ns)):
            if isinstance(out, OrderIntent):
                intents.append(out)
                live.on_risk_decision(out.intent_id, True, "OK")
                position += out.qty if out.side.value == "buy" else -out.qty
                live.on_report("ref", "AAPL", "filled", position, out.intent_id)

    assert len(intents) > 50
    got = [(r.intent_id, r.side, r.qty, r.decided_ns, r.reason) for r in result.orders]
    want = [(i.intent_id, i.side.value, i.qty, i.ts_ns, i.reason) for i in intents]
    assert got == want
