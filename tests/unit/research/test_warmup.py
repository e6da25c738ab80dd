"""The warm-up check: EMA(20) needs its 20 bars (and more while its position path differs),
a strategy without memory needs none; the agreement rule on hand-made decisions."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import ClassVar

import numpy as np
import pytest

from pyrt.backtest.data import BarData, load_bars
from pyrt.backtest.engine import Backtest
from pyrt.backtest.results import RunResult
from pyrt.backtest.settings import BacktestSettings
from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar
from pyrt.research.decisions import Decision
from pyrt.research.warmup import bars_needed, check_warmup, offsets
from pyrt.services.signals.strategies.ema_cross_reference import EmaCrossLongOnly
from pyrt.services.signals.strategy import NO_OUTPUT, Output, Strategy, StrategyContext
from tests.support.backtest import SHARED, permissive_limits

DAILY = SHARED / "data" / "historical"


class UpDay(Strategy):
    """No memory: buys 1 on every bar that closed above its open."""

    kind: ClassVar[str] = "test_up_day"
    allow_concurrent_intents = True

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Sequence[Output]:
        if bar.close <= bar.open:
            return NO_OUTPUT
        return (
            OrderIntent(
                intent_id=ctx.next_intent_id(bar.symbol), strategy=self.name, symbol=bar.symbol, side=OrderSide.BUY,
                qty=Decimal(1), order_type=OrderType.MARKET, time_in_force=TimeInForce.DAY, ts_ns=ctx.now_ns(),
            ),
        )  # fmt: skip


@pytest.fixture(scope="module")
def daily() -> BarData:
    if not DAILY.is_dir():
        pytest.skip(f"{DAILY} not found")
    return load_bars([DAILY / "AAPL.csv"])


def run(name: str, data: BarData) -> RunResult:
    strategy = (
        EmaCrossLongOnly(name, ["AAPL"], {"fast": 10, "slow": 20, "trade_size": 10})
        if name == "ema20"
        else UpDay(name, ["AAPL"])
    )
    return Backtest([strategy], permissive_limits(), data, BacktestSettings(close_at_end=False)).run()


def test_ema20_reports_its_warmup_and_a_memoryless_strategy_none(daily: BarData) -> None:
    ema, memoryless = check_warmup(run, ["ema20", "up_day"], daily, count=6)
    assert ema.strategy == "ema20" and ema.reached
    assert ema.silent_bars == 20  # no decision before both EMAs have had 20 closes
    assert ema.warmup_bars >= 20
    assert len(ema.per_offset) == 6
    assert memoryless.warmup_bars == 0 and memoryless.reached and memoryless.silent_bars is not None
    assert memoryless.silent_bars <= 3


def test_offsets_spread_over_the_first_half() -> None:
    assert offsets(100, 5) == [10, 20, 30, 40, 50]
    assert offsets(4, 10) == [1, 2]
    with pytest.raises(ValueError, match="too few"):
        offsets(1, 3)


def _d(t: int, side: str = "buy") -> Decision:
    return Decision("s", "AAPL", side, Decimal(1), "market", "day", None, None, t)


def test_bars_needed_counts_through_the_last_differing_decision() -> None:
    times = np.arange(10, 110, 10, dtype=np.int64)  # ten bar times 10..100
    ref = [_d(20), _d(40, "sell"), _d(70), _d(90, "sell")]
    # started at index 2 (t=30): misses the sell at 40, adds a buy at 60, then agrees from 70 on
    assert bars_needed(ref, [_d(60), _d(70), _d(90, "sell")], times, 2) == (4, True)
    assert bars_needed(ref, ref[1:], times, 2) == (0, True)
    assert bars_needed(ref, ref[2:], times, 2) == (2, True)  # only the sell at 40 missed
    assert bars_needed(ref, [_d(100)], times, 2) == (8, False)  # differs to the last bar: not reached
