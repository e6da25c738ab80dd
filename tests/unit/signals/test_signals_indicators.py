"""Streaming indicators against straightforward batch reference computations on real
daily closes (read from the shared data directory, never copied into the repo)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from pyrt.services.signals.indicators import BarSampler, Ema, Rsi, Sma

AAPL_CSV = Path("/work/shared/data/historical/AAPL.csv")


@pytest.fixture(scope="module")
def closes() -> np.ndarray:
    if not AAPL_CSV.exists():
        pytest.skip(f"{AAPL_CSV} not available")
    with AAPL_CSV.open() as f:
        return np.array([float(row["close"]) for row in csv.DictReader(f)])


def ref_sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    for i in range(n - 1, len(x)):
        out[i] = x[i - n + 1 : i + 1].mean()
    return out


def ref_ema(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    alpha = 2.0 / (n + 1)
    out[n - 1] = x[:n].mean()
    for i in range(n, len(x)):
        out[i] = alpha * x[i] + (1 - alpha) * out[i - 1]
    return out


def ref_rsi(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder's RSI, textbook form: changes against the previous close."""
    out = np.full(len(x), np.nan)
    d = np.diff(x)
    gains, losses = np.clip(d, 0, None), np.clip(-d, 0, None)
    ag, al = gains[:n].mean(), losses[:n].mean()
    out[n] = 100 - 100 / (1 + ag / al)
    for i in range(n, len(d)):
        ag = (ag * (n - 1) + gains[i]) / n
        al = (al * (n - 1) + losses[i]) / n
        out[i + 1] = 100 - 100 / (1 + ag / al)
    return out


@pytest.mark.parametrize("n", [1, 5, 20, 50])
def test_sma_matches_reference(closes: np.ndarray, n: int) -> None:
    ref, ind = ref_sma(closes, n), Sma(n)
    for i, c in enumerate(closes):
        v = ind.update(float(c))
        assert ind.ready == (i >= n - 1)
        if ind.ready:
            assert v == pytest.approx(ref[i], rel=1e-12)


@pytest.mark.parametrize("n", [1, 12, 26])
def test_ema_matches_reference(closes: np.ndarray, n: int) -> None:
    ref, ind = ref_ema(closes, n), Ema(n)
    for i, c in enumerate(closes):
        v = ind.update(float(c))
        assert ind.ready == (i >= n - 1)
        if ind.ready:
            assert v == pytest.approx(ref[i], rel=1e-12)


@pytest.mark.parametrize("n", [2, 14, 30])
def test_rsi_matches_wilder_reference(closes: np.ndarray, n: int) -> None:
    ref, ind = ref_rsi(closes, n), Rsi(n)
    for i, c in enumerate(closes):
        v = ind.update(float(c))
        assert ind.ready == (i >= n)
        if ind.ready:
            assert v == pytest.approx(ref[i], rel=1e-9)
        else:
            assert v == 50.0


def test_rsi_measures_changes_against_previous_price_not_first() -> None:
    # Up 1, then down 1 repeatedly: against the previous price gains equal losses
    # (RSI near 50). The original bug (against the first price) would read only gains.
    rsi = Rsi(4)
    for p in [100, 101, 100, 101, 100, 101, 100, 101, 100]:
        rsi.update(p)
    assert 40 < rsi.value < 60


def test_rsi_extremes() -> None:
    up, flat = Rsi(3), Rsi(3)
    for p in range(10):
        up.update(100 + p)
        flat.update(100)
    assert up.value == 100.0 and flat.value == 50.0


def test_sma_has_no_drift_over_long_runs() -> None:
    sma = Sma(3)
    for i in range(20_000):
        sma.update(1e6 + (i % 7) * 0.1)
    expected = np.mean([1e6 + (i % 7) * 0.1 for i in range(19_997, 20_000)])
    assert sma.value == pytest.approx(expected, rel=1e-13)


def test_bad_period_rejected() -> None:
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="period"):
            Ema(bad)  # type: ignore[arg-type]


def test_bar_sampler_emits_previous_interval_close() -> None:
    s = BarSampler(60)
    assert s.update(0 + 60, 1.0) is None
    assert s.update(70, 2.0) is None
    assert s.update(125, 3.0) == 2.0
    assert s.update(50, 9.0) is None  # older interval ignored
    assert s.update(400, 4.0) == 3.0
    assert math.isclose(s.update(460, 5.0) or 0, 4.0)
