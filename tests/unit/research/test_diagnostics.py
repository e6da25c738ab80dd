"""Overfitting diagnostics on fixed series with known answers."""

from __future__ import annotations

import math
from decimal import Decimal
from statistics import NormalDist

import numpy as np
import pytest

from pyrt.backtest.results import DataSource, FillRow, OrderRow, RunResult, SymbolPrices
from pyrt.research import diagnostics as d

DAY = 86_400 * 1_000_000_000


def test_t_test_of_a_small_series() -> None:
    # mean 0.01, sample sd sqrt(2.5e-4): t = 0.01 / (0.0158114 / sqrt(5)) = sqrt(2)
    tt = d.t_test(np.array([0.01, 0.02, -0.01, 0.03, 0.00]))
    assert tt.n == 5 and tt.mean == pytest.approx(0.01)
    assert tt.t == pytest.approx(math.sqrt(2))
    assert tt.p_value == pytest.approx(0.11509982054024942, rel=1e-9)  # Student t, 4 df, one-sided


@pytest.mark.parametrize(
    ("t", "df", "sf"), [(2.0, 10, 0.03669401738537018), (-1.3, 5, 0.8748496829146615), (0.0, 3, 0.5)]
)
def test_student_t_tail(t: float, df: int, sf: float) -> None:
    assert d.student_t_sf(t, df) == pytest.approx(sf, rel=1e-10)


def test_probabilistic_sharpe_of_a_two_point_series() -> None:
    # +-1 % around a 0.1 % mean: skew 0, kurtosis 1, so PSR = N(SR * sqrt(T - 1))
    n = 100
    r = 0.001 + 0.01 * np.array([1.0, -1.0] * (n // 2))
    sr = 0.001 / (0.01 * math.sqrt(n / (n - 1)))
    assert d.sharpe(r) == pytest.approx(sr)
    assert d.probabilistic_sharpe(r) == pytest.approx(NormalDist().cdf(sr * math.sqrt(n - 1)))
    assert d.probabilistic_sharpe(r, benchmark=sr) == pytest.approx(0.5)


def test_expected_max_sharpe_of_100_trials() -> None:
    # (1 - g) * z(0.99) + g * z(1 - 1/(100 e)), g the Euler-Mascheroni constant: ~2.53 sd
    assert d.expected_max_sharpe(100, 1.0) == pytest.approx(2.5306, abs=2e-3)
    assert d.expected_max_sharpe(1, 1.0) == 0.0
    assert d.expected_max_sharpe(100, 0.04) == pytest.approx(0.2 * d.expected_max_sharpe(100, 1.0))


def test_deflated_sharpe_grows_stricter_with_more_trials() -> None:
    rng = np.random.default_rng(3)
    r = rng.normal(0.001, 0.01, 500)
    one, many = d.deflated_sharpe(r, 1), d.deflated_sharpe(r, 1000)
    assert one.benchmark_annual == 0.0 and many.benchmark_annual > 0
    assert many.dsr is not None and one.dsr is not None and many.dsr < one.dsr
    assert one.p_value == pytest.approx(1 - one.dsr)


def test_monte_carlo_tells_an_edge_from_luck() -> None:
    rng = np.random.default_rng(11)
    edge = d.monte_carlo(rng.normal(0.004, 0.01, 250))
    assert edge.percentile is not None and edge.percentile > 99 and not edge.possibly_lucky
    assert edge.p_value is not None and edge.p_value < 0.01
    noise = rng.normal(0.0, 0.01, 250)
    noise = noise - noise.mean() + 0.0002  # made a little money with no edge
    luck = d.monte_carlo(noise)
    assert luck.possibly_lucky
    assert luck.sharpe_p05_annual is not None and luck.sharpe_p05_annual < 0 < (luck.sharpe_p95_annual or 0)
    assert d.monte_carlo(noise) == luck  # seeded


def test_block_bootstrap_keeps_blocks_of_consecutive_days() -> None:
    r = np.arange(10, dtype=np.float64)
    x = d.block_bootstrap(r, 3, seed=1, block=5)
    assert x.shape == (3, 10)
    for row in x:
        for k in (0, 5):
            block = row[k : k + 5]
            assert all((block[i + 1] - block[i]) % 10 == 1 for i in range(4))


def test_too_few_trades_and_flat_curve() -> None:
    assert d.too_few_trades(5, 3) == (True, 30)
    assert d.too_few_trades(35, 4) == (True, 40)
    assert d.too_few_trades(50, 2) == (False, 30)
    assert d.flat_share(np.zeros(10)) == 1.0
    assert d.flat_share(np.array([0.0, 0.01, 0.0, -0.01])) == 0.5
    out = d.diagnose(np.zeros(50), closed_trades=0, n_params=2)
    assert out["flat_equity"] and out["trades"]["too_few"]
    assert any("flat equity" in w for w in out["warnings"]) and any("too few trades" in w for w in out["warnings"])


def _fill(ts: int, intent: str) -> FillRow:
    z = Decimal(0)
    return FillRow(ts, "AAPL", "buy", Decimal(1), Decimal(100), z, z, z, "s", intent, "c-" + intent, "r", Decimal(1))


def _order(intent: str, decided: int) -> OrderRow:
    return OrderRow(intent, "s", "AAPL", "buy", Decimal(1), "market", "day", None, None, decided, "r")


def test_stale_fills_after_the_last_bar_or_days_after_the_decision() -> None:
    run = RunResult(
        version="t", config={}, sources=[DataSource("m", "0" * 64, 3, ("AAPL",), "1Day")],
        initial_cash=Decimal(1000), final_cash=Decimal(1000), final_equity=Decimal(1000), start_ns=0,
        end_ns=30 * DAY, timeframe="1Day",
        fills=[_fill(2 * DAY, "ok"), _fill(12 * DAY, "late"), _fill(25 * DAY, "after")],
        orders=[_order("ok", 1 * DAY), _order("late", 3 * DAY), _order("after", 24 * DAY)],
        prices={"AAPL": SymbolPrices(0, 100.0, 20 * DAY, 100.0, 20)},
    )  # fmt: skip
    stale = d.stale_fills(run)
    assert len(stale) == 2
    assert "9.0 days after the decision (late)" in stale[0]
    assert "after the symbol's last bar (after)" in stale[1]
