"""The feature definition: streaming (live) equals batch (training) for every bar."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from pyrt.services.signals.features import (
    FEATURE_NAMES,
    N_FEATURES,
    WARMUP_BARS,
    FeatureStream,
    batch_features,
    stream_features,
)
from tests.support.history import daily_series


def _assert_parity(highs: list[float], lows: list[float], closes: list[float]) -> int:
    batch = batch_features(highs, lows, closes)
    streamed = stream_features(highs, lows, closes)
    compared = 0
    for i, row in enumerate(streamed):
        if i < WARMUP_BARS - 1:
            assert row is None, f"bar {i}: row before warm-up"
            assert np.isnan(batch[i]).all()
            continue
        assert row is not None, f"bar {i}: no row after warm-up"
        for j, name in enumerate(FEATURE_NAMES):
            assert math.isfinite(row[j]), f"bar {i} {name}: not finite"
            assert abs(row[j] - batch[i, j]) <= 1e-9, f"bar {i} {name}: stream {row[j]!r} batch {batch[i, j]!r}"
        compared += 1
    return compared


@pytest.mark.parametrize("symbol", ["AAPL", "MSFT", "GOOGL"])
def test_streaming_equals_batch_on_shared_daily_bars(symbol: str) -> None:
    highs, lows, closes = daily_series(symbol)
    assert len(closes) > 300
    assert _assert_parity(highs, lows, closes) == len(closes) - WARMUP_BARS + 1


def test_streaming_equals_batch_on_a_long_random_walk() -> None:
    rng = random.Random(7)
    px, highs, lows, closes = 100.0, [], [], []
    for _ in range(20_000):
        px *= math.exp(rng.gauss(0.0, 0.01))
        spread = abs(rng.gauss(0.0, 0.005)) * px
        highs.append(px + spread)
        lows.append(px - spread)
        closes.append(px)
    assert _assert_parity(highs, lows, closes) == 20_000 - WARMUP_BARS + 1


def test_features_match_their_definitions() -> None:
    closes = [100.0 + i for i in range(40)]
    row = stream_features([c + 1 for c in closes], [c - 1 for c in closes], closes)[-1]
    assert row is not None and len(row) == N_FEATURES
    assert row[0] == pytest.approx(139 / 138 - 1)
    assert row[1] == pytest.approx(139 / 134 - 1)
    assert row[2] == pytest.approx(139 / 129 - 1)
    assert row[4] == pytest.approx(1.0)  # only gains
    assert row[6] == pytest.approx(2 / 139)


def test_stream_not_ready_before_warmup() -> None:
    fs = FeatureStream()
    for i in range(WARMUP_BARS - 1):
        assert fs.update(101.0, 99.0, 100.0 + i) is None
    assert not fs.ready
    assert fs.update(101.0, 99.0, 100.0) is not None
    assert fs.ready
