"""The return metrics against empyrical-reloaded on fixed return series. Where empyrical
gives NaN or inf (a flat series, no drawdown) ours is None, by the module's rule."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import empyrical as ep
import numpy as np
import pandas as pd
import pytest

from pyrt.backtest import metrics as m

rng = np.random.default_rng(20240102)

SERIES = {
    # a year of strong gains: CAGR well above 100 %
    "cagr_above_100pct": rng.normal(0.004, 0.012, 252),
    "mixed_two_years": rng.normal(0.0004, 0.015, 504),
    "flat": np.zeros(60),
    # gains, then ten losing days in a row, then a partial recovery
    "loss_streak": np.concatenate([np.full(20, 0.01), np.full(10, -0.02), np.full(15, 0.005), [0.003, -0.001]]),
    "short_history": np.array([0.02, -0.01, 0.015]),
    "only_gains": np.array([0.01, 0.02, 0.005, 0.01]),
}

CHECKS = {
    "total_return": (m.total_return, ep.cum_returns_final),
    "annual_return": (m.annual_return, ep.annual_return),
    "annual_volatility": (m.annual_volatility, ep.annual_volatility),
    "sharpe": (m.sharpe_ratio, ep.sharpe_ratio),
    "sortino": (m.sortino_ratio, ep.sortino_ratio),
    "calmar": (m.calmar_ratio, ep.calmar_ratio),
    "max_drawdown": (m.max_drawdown_of_returns, ep.max_drawdown),
}


def _as_pd(r: np.ndarray) -> pd.Series:
    return pd.Series(r, index=pd.bdate_range("2024-01-02", periods=r.size, tz="UTC"))


@pytest.mark.parametrize("series", sorted(SERIES))
@pytest.mark.parametrize("metric", sorted(CHECKS))
def test_metric_matches_empyrical(series: str, metric: str) -> None:
    ours_fn, theirs_fn = CHECKS[metric]
    r = SERIES[series]
    ours = ours_fn(r)
    theirs = float(theirs_fn(_as_pd(r)))
    if math.isfinite(theirs):
        assert ours is not None, f"{metric} on {series}: empyrical {theirs}, ours None"
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)
    else:
        assert ours is None, f"{metric} on {series}: empyrical {theirs}, ours {ours}"


def test_the_high_growth_series_really_is_above_100pct() -> None:
    cagr = m.annual_return(SERIES["cagr_above_100pct"])
    assert cagr is not None and cagr > 1.0


def test_flat_series_has_no_ratios_and_no_nan() -> None:
    r = SERIES["flat"]
    assert m.total_return(r) == 0.0
    assert m.annual_return(r) == 0.0
    assert m.annual_volatility(r) == 0.0
    assert (m.sharpe_ratio(r), m.sortino_ratio(r), m.calmar_ratio(r)) == (None, None, None)
    assert m.max_drawdown_of_returns(r) == 0.0


def test_one_day_and_empty() -> None:
    one = np.array([0.01])
    assert m.total_return(one) == pytest.approx(0.01)
    assert m.annual_volatility(one) is None
    assert m.sharpe_ratio(one) is None
    empty = np.zeros(0)
    assert m.annual_return(empty) is None
    assert m.max_drawdown_of_returns(empty) == 0.0


def test_overflowing_cagr_is_none() -> None:
    assert m.annual_return(np.array([20.0])) is None  # 21 ** 252 overflows a float


def _ns(s: str) -> int:
    return int(datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


def test_daily_closes_take_each_new_york_days_last_point() -> None:
    ts = [
        _ns("2024-01-02T14:31:00"),
        _ns("2024-01-02T20:59:00"),
        _ns("2024-01-03T01:00:00"),  # still 2 Jan in New York (20:00 EST)
        _ns("2024-01-03T14:31:00"),
        _ns("2024-01-03T21:00:00"),
    ]
    days, closes = m.daily_closes(ts, [100.0, 101.0, 102.0, 103.0, 99.0])
    assert days == ["2024-01-02", "2024-01-03"]
    assert closes.tolist() == [102.0, 99.0]
    r = m.returns_from_closes(100.0, closes)
    assert r.tolist() == pytest.approx([0.02, 99 / 102 - 1])


def test_max_drawdown_duration_runs_peak_to_recovery_or_to_the_end() -> None:
    ts = [i * 1_000 for i in range(1, 8)]
    dd = m.max_drawdown(ts, [110.0, 99.0, 88.0, 100.0, 111.0, 105.0, 106.0], 100.0)
    assert dd.depth == pytest.approx(88 / 110 - 1)
    assert (dd.peak_ns, dd.trough_ns, dd.recovery_ns) == (1_000, 3_000, 5_000)
    assert dd.duration_ns == 4_000
    unrecovered = m.max_drawdown(ts[:3], [95.0, 90.0, 92.0], 100.0)
    assert unrecovered.depth == pytest.approx(-0.10)
    assert unrecovered.peak_ns == 1_000  # the initial cash, before the first point
    assert unrecovered.recovery_ns is None
    assert unrecovered.duration_ns == 2_000
    assert m.max_drawdown(ts[:2], [100.0, 101.0], 100.0).depth == 0.0


def test_curve_drawdown_agrees_with_empyrical_on_the_same_returns() -> None:
    r = SERIES["loss_streak"]
    curve = 1000.0 * np.cumprod(1.0 + r)
    dd = m.max_drawdown(list(range(1, r.size + 1)), curve.tolist(), 1000.0)
    assert dd.depth == pytest.approx(float(ep.max_drawdown(_as_pd(r))), rel=1e-9)


def test_trade_stats() -> None:
    s = m.trade_stats([100.0, -50.0, 25.0, -25.0, 0.0])
    assert (s.trades, s.wins, s.losses) == (5, 2, 2)
    assert s.win_rate == pytest.approx(0.4)
    assert s.profit_factor == pytest.approx(125 / 75)
    assert s.expectancy == pytest.approx(10.0)
    assert (s.avg_win, s.avg_loss) == (pytest.approx(62.5), pytest.approx(-37.5))
    none = m.trade_stats([])
    assert (none.win_rate, none.profit_factor, none.expectancy) == (None, None, None)
    assert m.trade_stats([5.0]).profit_factor is None  # no losing trade: undefined


def test_exposure_is_the_share_of_points_with_a_position() -> None:
    assert m.exposure([0.0, 10.0, 10.0, 0.0]) == 0.5
    assert m.exposure([]) == 0.0
