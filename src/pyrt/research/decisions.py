"""What the look-ahead and warm-up checks compare: a run's decisions (the intents its
strategies produced, in order, as `RunResult.orders` holds them) and bar data cut in time.

A decision is (strategy, symbol, side, qty, order type, time in force, limit, stop, decision
time): what the strategy asked for, not what became of it (fills depend on the bars after
it). Intents the backtester makes itself at the end of the data are not decisions."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from pyrt.backtest.data import BarData
from pyrt.backtest.engine import END_OF_DATA_PREFIX
from pyrt.backtest.results import OrderRow, RunResult
from pyrt.domain.clock import iso_utc

Runner = Callable[[BarData], RunResult]
"""Runs the backtest on the given bars with fresh strategies (they keep state)."""


class Decision(NamedTuple):
    strategy: str
    symbol: str
    side: str
    qty: Decimal
    order_type: str
    time_in_force: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    decided_ns: int

    def describe(self) -> str:
        px = "".join(f" {k} {v}" for k, v in (("limit", self.limit_price), ("stop", self.stop_price)) if v is not None)
        return f"{self.side} {self.qty} {self.symbol} {self.order_type}{px} {self.time_in_force}"


def decision_of(row: OrderRow) -> Decision:
    return Decision(
        row.strategy,
        row.symbol,
        row.side,
        row.qty,
        row.order_type,
        row.time_in_force,
        row.limit_price,
        row.stop_price,
        row.decided_ns,
    )


def decisions(run: RunResult) -> list[Decision]:
    """The run's decisions in the order they were made."""
    return [decision_of(o) for o in run.orders if not o.intent_id.startswith(END_OF_DATA_PREFIX)]


def by_strategy(found: Sequence[Decision]) -> dict[str, list[Decision]]:
    out: dict[str, list[Decision]] = {}
    for d in found:
        out.setdefault(d.strategy, []).append(d)
    return out


def what_differs(expected: Decision | None, got: Decision | None) -> str:
    """One line: what the reference run decided against what the other run decided."""
    if expected is None and got is not None:
        return f"extra decision {got.describe()} (the reference run made none there)"
    if got is None and expected is not None:
        return f"missing decision {expected.describe()} (the reference run made it)"
    assert expected is not None and got is not None
    fields = [
        f"{name} {a} vs {b}"
        for name, a, b in zip(Decision._fields, expected, got, strict=True)
        if a != b and name != "decided_ns"
    ]
    if expected.decided_ns != got.decided_ns:
        fields.append(f"time {iso_utc(expected.decided_ns)} vs {iso_utc(got.decided_ns)}")
    return f"reference {expected.describe()}, other {got.describe()} ({'; '.join(fields)})"


def bar_times(data: BarData) -> np.ndarray:
    """The distinct bar-close times of the data, in order (one per step of the clock)."""
    return np.unique(data.close_ns)


def head(data: BarData, last_close_ns: int) -> BarData:
    """The bars visible by `last_close_ns` (close time <= it)."""
    n = int(np.searchsorted(data.close_ns, last_close_ns, side="right"))
    return _rows(data, slice(0, n))


def tail(data: BarData, first_close_ns: int) -> BarData:
    """The bars that close at or after `first_close_ns` (as if the data started there)."""
    n = int(np.searchsorted(data.close_ns, first_close_ns, side="left"))
    return _rows(data, slice(n, len(data)))


def _rows(data: BarData, rows: slice) -> BarData:
    cols = ("open_ns", "close_ns", "sym", "open", "high", "low", "close", "volume")
    return dataclasses.replace(data, **{c: getattr(data, c)[rows] for c in cols})
