"""The two reference strategies through the whole backtester (live cores, simulated venue)
against a plain loop that applies the specification directly, on the shared 100k-bar file:
the same fills, bar for bar, at the same prices."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from pyrt.backtest.data import load_bars
from pyrt.backtest.engine import Backtest
from pyrt.backtest.settings import BacktestSettings
from pyrt.services.signals.strategies.registry import build_strategies
from tests.support.backtest import SHARED, permissive_limits

BENCH = SHARED / "data" / "bench" / "aapl_1m_100k.csv"


def plain_loop(
    rows: list[dict[str, str]], fast: int, slow: int, reversal: bool, fill_at: str
) -> list[tuple[int, str, float]]:
    """(bar index of the fill, side, price) by the specification, without any engine."""
    af, as_ = 2 / (fast + 1), 2 / (slow + 1)
    ef = es = 0.0
    n, pos, out = 0, 0, []
    pending: list[str] = []
    for i, r in enumerate(rows):
        o, h, lo, c = (float(r[k]) for k in ("open", "high", "low", "close"))
        for side in pending:  # next_open: decided on bar i-1, filled at bar i's open
            out.append((i, side, o))
        pending = []
        if n == 0:
            ef = es = c
        else:
            ef += af * (c - ef)
            es += as_ * (c - es)
        n += 1
        if n < slow or o == h == lo == c:
            continue
        up = ef >= es
        sides: list[str] = []
        if pos == 0:
            sides = ["buy"] if up else (["sell"] if reversal else [])
        elif pos > 0 and not up:
            sides = ["sell", "sell"] if reversal else ["sell"]
        elif pos < 0 and up and reversal:
            sides = ["buy", "buy"]
        for side in sides:
            pos += 100 if side == "buy" else -100
            if reversal:
                pos = max(-100, min(100, pos))
        if fill_at == "close":
            out += [(i, s, c) for s in sides]
        else:
            pending = sides
    return out


def engine_fills(kind: str, rows: int, fill_at: str) -> list[tuple[int, str, float]]:
    data = load_bars([BENCH])
    if rows < len(data):
        import dataclasses

        cut = {
            f: getattr(data, f)[:rows] for f in ("open_ns", "close_ns", "sym", "open", "high", "low", "close", "volume")
        }
        data = dataclasses.replace(data, **cut)
    spec = {"name": "ref", "kind": kind, "symbols": ["AAPL"], "params": {"fast": 10, "slow": 20, "trade_size": 100}}
    settings = BacktestSettings(fill_at=fill_at, cash=Decimal(1_000_000), fees="none", close_at_end=False)  # type: ignore[arg-type]
    result = Backtest(build_strategies([spec]), permissive_limits(), data, settings).run()
    index = {int(ts): i for i, ts in enumerate(data.close_ns)}
    opens = {int(ts): i for i, ts in enumerate(data.open_ns)}
    out = []
    for f in result.fills:
        bar = index[f.ts_ns] if fill_at == "close" else opens[f.ts_ns]
        out.append((bar, f.side, float(f.price)))
    return out


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    if not BENCH.is_file():
        pytest.skip(f"{BENCH} not found")
    with BENCH.open() as f:
        return list(csv.DictReader(f))


def test_long_only_at_the_close_fills_4360_times_like_the_specification(rows: list[dict[str, str]]) -> None:
    expected = plain_loop(rows, 10, 20, reversal=False, fill_at="close")
    got = engine_fills("ema_cross_long_only", len(rows), "close")
    assert len(expected) == 4359  # plus the end-of-data close: 4,360 fills
    assert got == expected


@pytest.mark.parametrize("fill_at", ["next_open", "close"])
def test_reversal_matches_the_specification(rows: list[dict[str, str]], fill_at: str) -> None:
    n = 20_000
    assert engine_fills("ema_cross_reversal", n, fill_at) == plain_loop(
        rows[:n], 10, 20, reversal=True, fill_at=fill_at
    )


def test_long_only_next_open_matches_the_specification(rows: list[dict[str, str]]) -> None:
    n = 20_000
    assert engine_fills("ema_cross_long_only", n, "next_open") == plain_loop(rows[:n], 10, 20, False, "next_open")
