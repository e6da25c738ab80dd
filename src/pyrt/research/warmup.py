"""`pyrt backtest check-warmup`: how many bars a strategy needs before its decisions stop
depending on where the data starts. Each strategy runs alone on all the data (the
reference), then on the data started later, at `offsets` bar times spread over the first
half. For a late start, the decisions from some bar on are the reference's decisions from
that bar on; the bars from the late start up to and including the last decision that
differs are what the strategy needed there. The warm-up is the largest such count over the
starts ("at least" when a start never agreed before the data ended), and `silent_bars` the
fewest bars any late start went before its first decision (its indicators' own warm-up,
e.g. `slow` bars for the EMA-cross reference strategies).

Decisions include sizes, so a strategy that starts flat where the reference held a
position differs until its position path joins the reference's: that is part of "depending
on where the data starts" and counted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pyrt.backtest.data import BarData
from pyrt.backtest.results import RunResult
from pyrt.research.decisions import Decision, bar_times, decisions, tail

DEFAULT_OFFSETS = 10

StrategyRunner = Callable[[str, BarData], RunResult]
"""Runs one named strategy alone on the given bars (fresh state)."""


@dataclass
class StrategyWarmup:
    strategy: str
    warmup_bars: int  # bars a late start needed before its decisions agreed (the most over the starts)
    reached: bool  # False: some start never agreed before the data ended (warm-up is at least warmup_bars)
    silent_bars: int | None  # fewest bars before a late start's first decision (None: no decision)
    per_offset: list[tuple[int, int, bool]] = field(default_factory=list)  # (start bar index, bars needed, agreed)

    def to_dict(self) -> dict[str, object]:
        return {
            "strategy": self.strategy,
            "warmup_bars": self.warmup_bars,
            "reached": self.reached,
            "silent_bars": self.silent_bars,
            "starts": [{"start_bar": s, "bars_needed": n, "agreed": ok} for s, n, ok in self.per_offset],
        }


def offsets(n_times: int, count: int) -> list[int]:
    """Start indexes (into the distinct bar times) spread over the first half, 0 excluded."""
    if count < 1:
        raise ValueError(f"offsets: must be >= 1, got {count}")
    half = n_times // 2
    if half < 1:
        raise ValueError("too few bars to start the data later")
    return sorted({max(1, round(half * (i + 1) / count)) for i in range(count)})


def bars_needed(
    reference: Sequence[Decision], late: Sequence[Decision], times: np.ndarray, start: int
) -> tuple[int, bool]:
    """Bars from `times[start]` through the late run's last differing decision; (n, agreed).
    The runs agree from the first bar after which their remaining decisions are equal."""
    t0 = int(times[start])
    ref = [d for d in reference if d.decided_ns >= t0]
    i, j = len(ref), len(late)
    while i and j and ref[i - 1] == late[j - 1]:
        i, j = i - 1, j - 1
    differing = [d.decided_ns for d in (*ref[:i], *late[:j])]
    if not differing:
        return 0, True
    last = max(differing)
    n = int(np.searchsorted(times, last, side="right")) - start
    agreed = last < int(times[-1]) and n < len(times) - start
    return n, agreed


def silent(late: Sequence[Decision], times: np.ndarray, start: int) -> int | None:
    if not late:
        return None
    return int(np.searchsorted(times, late[0].decided_ns, side="right")) - start


def check_warmup(
    run: StrategyRunner, names: Sequence[str], data: BarData, count: int = DEFAULT_OFFSETS
) -> list[StrategyWarmup]:
    times = bar_times(data)
    starts = offsets(len(times), count)
    out = []
    for name in names:
        reference = decisions(run(name, data))
        result = StrategyWarmup(name, 0, True, None)
        for start in starts:
            late = decisions(run(name, tail(data, int(times[start]))))
            n, agreed = bars_needed(reference, late, times, start)
            result.per_offset.append((start, n, agreed))
            q = silent(late, times, start)
            if q is not None:
                result.silent_bars = q if result.silent_bars is None else min(result.silent_bars, q)
        result.warmup_bars = max(n for _, n, _ in result.per_offset)
        result.reached = all(ok for _, _, ok in result.per_offset)
        out.append(result)
    return out
