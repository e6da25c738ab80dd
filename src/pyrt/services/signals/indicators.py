"""Streaming indicators: each update is O(1) and allocation-free, values are floats.

Every indicator has `update(x) -> float` (returns the new value), `value`, `count` (inputs
seen) and `ready` (True once the warm-up is over and `value` means what its name says).
Before `ready`, `value` is a best-effort estimate (see each class) and must not drive orders.
"""

from __future__ import annotations

import math
from collections import deque


def _check_period(period: int, minimum: int = 1) -> int:
    if isinstance(period, bool) or not isinstance(period, int) or period < minimum:
        raise ValueError(f"period: expected an integer >= {minimum}, got {period!r}")
    return period


class Sma:
    """Simple moving average of the last `period` inputs.

    Keeps a running sum; to stop floating-point drift the sum is recomputed from the
    window once every `period * 64` updates (amortised O(1)). Before `ready` the value
    is the mean of the inputs seen so far (NaN before the first input)."""

    __slots__ = ("_since_resum", "_sum", "_window", "count", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self.count = 0
        self.value = math.nan
        self._window: deque[float] = deque(maxlen=self.period)
        self._sum = 0.0
        self._since_resum = 0

    @property
    def ready(self) -> bool:
        """True once `period` inputs have been seen."""
        return self.count >= self.period

    def update(self, x: float) -> float:
        """Add one input and return the new average."""
        window = self._window
        if len(window) == self.period:
            self._sum -= window[0]
        window.append(x)
        self._sum += x
        self.count += 1
        self._since_resum += 1
        if self._since_resum >= self.period * 64:
            self._sum = math.fsum(window)
            self._since_resum = 0
        self.value = self._sum / len(window)
        return self.value


class Ema:
    """Exponential moving average with alpha = 2 / (period + 1), seeded with the simple
    average of the first `period` inputs (the usual TA convention).

    Before `ready` the value is the mean of the inputs seen so far (NaN before any)."""

    __slots__ = ("_seed_sum", "alpha", "count", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self.alpha = 2.0 / (self.period + 1)
        self.count = 0
        self.value = math.nan
        self._seed_sum = 0.0

    @property
    def ready(self) -> bool:
        """True once `period` inputs have been seen (the SMA seed is complete)."""
        return self.count >= self.period

    def update(self, x: float) -> float:
        """Add one input and return the new EMA."""
        self.count += 1
        if self.count <= self.period:
            self._seed_sum += x
            self.value = self._seed_sum / self.count
        else:
            self.value += self.alpha * (x - self.value)
        return self.value


class Rsi:
    """Relative Strength Index with Wilder's smoothing.

    Each change is measured against the *previous* input (the original system measured
    every change against the first price, which is wrong). The first average gain and
    loss are the simple means of the first `period` changes; after that
    avg = (avg * (period - 1) + current) / period. Ready after `period + 1` inputs.
    RSI is 100 when there are no losses, 50 when there are neither gains nor losses, and
    50 (neutral) before `ready`."""

    __slots__ = ("_changes", "_prev", "avg_gain", "avg_loss", "count", "period", "value")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period(period)
        self.count = 0
        self.value = 50.0
        self.avg_gain = 0.0
        self.avg_loss = 0.0
        self._prev = math.nan
        self._changes = 0

    @property
    def ready(self) -> bool:
        """True once `period` changes (so `period + 1` inputs) have been seen."""
        return self._changes >= self.period

    def update(self, x: float) -> float:
        """Add one input and return the new RSI (50 while warming up)."""
        self.count += 1
        prev = self._prev
        self._prev = x
        if self.count == 1:
            return self.value
        change = x - prev
        gain = max(0.0, change)
        loss = -change if change < 0.0 else 0.0
        self._changes += 1
        n = self.period
        if self._changes <= n:
            # Accumulate sums during warm-up; turn them into means at the end of it.
            self.avg_gain += gain
            self.avg_loss += loss
            if self._changes < n:
                return self.value
            self.avg_gain /= n
            self.avg_loss /= n
        else:
            self.avg_gain = (self.avg_gain * (n - 1) + gain) / n
            self.avg_loss = (self.avg_loss * (n - 1) + loss) / n
        if self.avg_loss == 0.0:
            self.value = 100.0 if self.avg_gain > 0.0 else 50.0
        else:
            self.value = 100.0 - 100.0 / (1.0 + self.avg_gain / self.avg_loss)
        return self.value


class BarSampler:
    """Turns a stream of (ts_ns, price) samples into closes of fixed-length intervals.

    `update(ts_ns, price)` returns the close (last price) of the previous interval when a
    sample falls into a new interval, else None. Intervals are aligned to multiples of
    `interval_ns` since the epoch. Used to run bar-based strategies on quote mids."""

    __slots__ = ("_bucket", "_last", "interval_ns")

    def __init__(self, interval_ns: int) -> None:
        if isinstance(interval_ns, bool) or not isinstance(interval_ns, int) or interval_ns <= 0:
            raise ValueError(f"interval_ns: expected a positive integer, got {interval_ns!r}")
        self.interval_ns = interval_ns
        self._bucket = -1
        self._last = math.nan

    def update(self, ts_ns: int, price: float) -> float | None:
        """Record a sample; return the previous interval's close if this one starts a new
        interval. Samples from an earlier interval than the current one are ignored."""
        bucket = ts_ns // self.interval_ns
        if bucket == self._bucket:
            self._last = price
            return None
        if bucket < self._bucket:
            return None
        closed = self._last if self._bucket >= 0 else None
        self._bucket = bucket
        self._last = price
        return closed
