"""The one feature definition of the ML path: named features of a bar series, computed
incrementally (live, one bar at a time: `FeatureStream`) and in batch (training over
history: `batch_features`). Both must give the same numbers for every bar (a unit test
checks 1e-9 on a long series), so a model is served on exactly what it was trained on.

The streaming side is built from the signal bridge's indicators (Ema, Rsi); the batch
side is an independent numpy formulation of the same definitions, so the parity test
compares two implementations, not one with itself. Features use only the bar itself and
earlier bars (no look-ahead). `FEATURE_SPEC` (names, order, dtype) is what a model's
manifest must match. Batch imports numpy lazily (the signal bridge's start-up stays light).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

from pyrt.services.signals.indicators import Ema, Rsi

FEATURE_SET = "pyrt-bars-v1"
"""Name of this feature definition; a model's manifest names the set it was trained on."""

FEATURE_NAMES: tuple[str, ...] = (
    "ret_1",  # close / previous close - 1
    "ret_5",  # close / close 5 bars ago - 1
    "ret_10",  # close / close 10 bars ago - 1
    "ema_ratio",  # EMA(12) / EMA(26) - 1 (EMAs seeded with the simple mean, as indicators.Ema)
    "rsi",  # Wilder's RSI(14) / 100
    "vol_20",  # population std of the last 20 one-bar returns
    "range_hl",  # (high - low) / close
)
FEATURE_DTYPE = "float32"
FEATURE_SPEC: tuple[tuple[str, str], ...] = tuple((n, FEATURE_DTYPE) for n in FEATURE_NAMES)
N_FEATURES = len(FEATURE_NAMES)

EMA_FAST, EMA_SLOW, RSI_PERIOD, VOL_WINDOW = 12, 26, 14, 20
WARMUP_BARS = max(EMA_SLOW, RSI_PERIOD + 1, VOL_WINDOW + 1, 11)
"""Bars before the first complete feature row (the row of bar index WARMUP_BARS - 1)."""


class FeatureStream:
    """Per-symbol incremental features: `update(high, low, close)` returns the feature row
    of that bar (a tuple in FEATURE_NAMES order) once warmed up, else None."""

    __slots__ = ("_closes", "_count", "_fast", "_rets", "_rsi", "_slow")

    def __init__(self) -> None:
        self._closes: deque[float] = deque(maxlen=11)
        self._rets: deque[float] = deque(maxlen=VOL_WINDOW)
        self._fast = Ema(EMA_FAST)
        self._slow = Ema(EMA_SLOW)
        self._rsi = Rsi(RSI_PERIOD)
        self._count = 0

    @property
    def ready(self) -> bool:
        return self._count >= WARMUP_BARS

    def update(self, high: float, low: float, close: float) -> tuple[float, ...] | None:
        closes = self._closes
        if closes:
            self._rets.append(close / closes[-1] - 1.0)
        closes.append(close)
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        rsi = self._rsi.update(close)
        self._count += 1
        if self._count < WARMUP_BARS:
            return None
        rets = self._rets
        mean = math.fsum(rets) / len(rets)
        var = math.fsum((r - mean) ** 2 for r in rets) / len(rets)
        return (
            rets[-1],
            close / closes[-6] - 1.0,
            close / closes[0] - 1.0,
            fast / slow - 1.0,
            rsi / 100.0,
            math.sqrt(var),
            (high - low) / close,
        )


def stream_features(highs: Sequence[float], lows: Sequence[float], closes: Sequence[float]) -> list[Any]:
    """Run a FeatureStream over a series; one entry per bar (None while warming up)."""
    fs = FeatureStream()
    return [fs.update(h, lo, c) for h, lo, c in zip(highs, lows, closes, strict=True)]


def _ema(x: Any, period: int) -> Any:
    import numpy as np

    out = np.empty_like(x)
    n = min(period, len(x))
    out[:n] = np.cumsum(x[:n]) / np.arange(1, n + 1)
    alpha = 2.0 / (period + 1)
    value = out[n - 1] if n else 0.0
    for i in range(n, len(x)):
        value = value + alpha * (x[i] - value)
        out[i] = value
    return out


def _rsi(close: Any, period: int) -> Any:
    import numpy as np

    out = np.full(len(close), 50.0)
    change = np.diff(close)
    gain = np.maximum(change, 0.0)
    loss = np.where(change < 0.0, -change, 0.0)
    if len(change) < period:
        return out
    ag = gain[:period].sum() / period
    al = loss[:period].sum() / period
    for i in range(period, len(change) + 1):
        if i > period:
            ag = (ag * (period - 1) + gain[i - 1]) / period
            al = (al * (period - 1) + loss[i - 1]) / period
        if al == 0.0:
            out[i] = 100.0 if ag > 0.0 else 50.0
        else:
            out[i] = 100.0 - 100.0 / (1.0 + ag / al)
    return out


def batch_features(highs: Sequence[float], lows: Sequence[float], closes: Sequence[float]) -> Any:
    """Feature matrix (float64, shape (n_bars, N_FEATURES)) for a whole series; rows before
    WARMUP_BARS - 1 are NaN. Same definitions as FeatureStream."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    c = np.asarray(closes, dtype=np.float64)
    h = np.asarray(highs, dtype=np.float64)
    lo = np.asarray(lows, dtype=np.float64)
    n = len(c)
    out = np.full((n, N_FEATURES), np.nan)
    if n < WARMUP_BARS:
        return out
    rets = np.full(n, np.nan)
    rets[1:] = c[1:] / c[:-1] - 1.0
    s = slice(WARMUP_BARS - 1, n)
    out[s, 0] = rets[s]
    out[s, 1] = (c[5:] / c[:-5] - 1.0)[WARMUP_BARS - 6 :]
    out[s, 2] = (c[10:] / c[:-10] - 1.0)[WARMUP_BARS - 11 :]
    out[s, 3] = (_ema(c, EMA_FAST) / _ema(c, EMA_SLOW) - 1.0)[s]
    out[s, 4] = (_rsi(c, RSI_PERIOD) / 100.0)[s]
    windows = sliding_window_view(rets[1:], VOL_WINDOW)  # window k ends at bar k + VOL_WINDOW
    out[s, 5] = windows.std(axis=1)[WARMUP_BARS - 1 - VOL_WINDOW :]
    out[s, 6] = ((h - lo) / c)[s]
    return out
