"""The look-ahead check: a strategy that peeks one bar ahead is caught at every cut, with the
first differing decision named; both reference strategies pass; cut times and decision
comparison on their own."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from pyrt.backtest.data import BarData, load_bars
from pyrt.backtest.engine import Backtest
from pyrt.backtest.results import RunResult
from pyrt.backtest.settings import BacktestSettings
from pyrt.research.decisions import Decision, head
from pyrt.research.lookahead import check_lookahead, cut_times, first_difference
from pyrt.services.signals.strategies.ema_cross_reference import EmaCrossLongOnly, EmaCrossReversal
from pyrt.services.signals.strategy import Strategy
from tests.support.backtest import SHARED, permissive_limits
from tests.support.peeking import PeekNextBar

DAILY = SHARED / "data" / "historical"


@pytest.fixture(scope="module")
def daily() -> BarData:
    if not DAILY.is_dir():
        pytest.skip(f"{DAILY} not found")
    return load_bars([DAILY / "AAPL.csv", DAILY / "MSFT.csv"])


def runner(make: type[Strategy], params: dict[str, object] | None = None):
    def run(data: BarData) -> RunResult:
        strategy = make("s", ["AAPL", "MSFT"], params)
        return Backtest([strategy], permissive_limits(), data, BacktestSettings(close_at_end=False)).run()

    return run


def test_a_strategy_peeking_one_bar_ahead_is_caught_at_every_cut(daily: BarData) -> None:
    short = head(daily, int(np.unique(daily.close_ns)[60]))  # it trades every bar: 61 days are plenty
    report = check_lookahead(runner(PeekNextBar), short, cuts=8)
    assert not report.passed
    assert len(report.cuts) == 8 and len(report.differences) == 8
    for diff, cut in zip(report.differences, report.cuts, strict=True):
        assert diff.cut_ns == cut and diff.bar_ns == cut  # the decision on the cut's last bar
        assert diff.strategy == "s" and diff.symbol in ("AAPL", "MSFT")
        assert diff.what.startswith("missing decision ")
    assert report.first is report.differences[0]


@pytest.mark.parametrize("kind", [EmaCrossLongOnly, EmaCrossReversal])
def test_the_reference_strategies_pass(daily: BarData, kind: type[Strategy]) -> None:
    report = check_lookahead(runner(kind, {"fast": 5, "slow": 20, "trade_size": 10}), daily, cuts=6)
    assert report.reference_decisions > 4
    assert report.passed, report.to_dict()
    assert report.to_dict()["cuts_checked"] == 6


def test_cut_times_are_spread_and_never_the_last_bar(daily: BarData) -> None:
    cuts = cut_times(daily, 5)
    assert len(cuts) == 5 and cuts == sorted(set(cuts))
    assert cuts[-1] < int(daily.close_ns.max())
    assert len(head(daily, cuts[0])) < len(head(daily, cuts[-1])) < len(daily)
    with pytest.raises(ValueError, match="cuts"):
        cut_times(daily, 0)


def _d(side: str, t: int, qty: int = 1, strategy: str = "s") -> Decision:
    return Decision(strategy, "AAPL", side, Decimal(qty), "market", "day", None, None, t)


def test_first_difference_names_the_earliest_changed_decision_up_to_the_cut() -> None:
    ref = [_d("buy", 1), _d("sell", 2), _d("buy", 3, strategy="t"), _d("buy", 9)]
    assert first_difference(ref, ref[:3], cut_ns=5) is None  # after the cut: not compared
    diff = first_difference(ref, [_d("buy", 1), _d("sell", 2, qty=2), _d("sell", 3, strategy="t")], cut_ns=5)
    assert diff is not None and (diff.strategy, diff.bar_ns) == ("s", 2)
    assert "qty 1 vs 2" in diff.what
    extra = first_difference(ref[:1], [_d("buy", 1), _d("buy", 4)], cut_ns=5)
    assert extra is not None and extra.what.startswith("extra decision buy 1 AAPL")
