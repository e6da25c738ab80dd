"""`pyrt backtest check-lookahead`: a strategy that sees the future decides differently
when the future is not there. The check runs the strategies once on all the data (the
reference), then again on the data cut after each of `cuts` bar-close times spread over it;
every decision made up to a cut must be the same, in the same order, as the reference's
decisions up to that time. The first decision that differs (strategy, symbol, bar time,
what differed) fails the check.

A strategy that peeks one bar ahead is caught at a cut whenever what it would have seen
there changes a decision at the cut; each cut is reported, so `cuts_failed` says how often."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pyrt.backtest.data import BarData
from pyrt.research.decisions import Decision, Runner, bar_times, by_strategy, decisions, head, what_differs

DEFAULT_CUTS = 20


@dataclass(frozen=True)
class Difference:
    cut_ns: int  # the last bar-close time the cut run saw
    strategy: str
    symbol: str
    bar_ns: int  # the decision time (the close of the bar it was made on)
    what: str

    def to_dict(self) -> dict[str, object]:
        return {"cut_ns": self.cut_ns, "strategy": self.strategy, "symbol": self.symbol, "bar_ns": self.bar_ns,
                "what": self.what}  # fmt: skip


@dataclass
class LookaheadReport:
    reference_decisions: int
    cuts: list[int] = field(default_factory=list)  # cut times checked
    differences: list[Difference] = field(default_factory=list)  # the first one of each failed cut

    @property
    def passed(self) -> bool:
        return not self.differences

    @property
    def first(self) -> Difference | None:
        return min(self.differences, key=lambda d: (d.bar_ns, d.cut_ns), default=None)

    def to_dict(self) -> dict[str, object]:
        first = self.first
        return {
            "passed": self.passed,
            "reference_decisions": self.reference_decisions,
            "cuts_checked": len(self.cuts),
            "cuts_failed": len(self.differences),
            "first_difference": first.to_dict() if first else None,
            "differences": [d.to_dict() for d in self.differences],
        }


def cut_times(data: BarData, cuts: int) -> list[int]:
    """`cuts` bar-close times spread evenly over the data, the last bar excluded (a cut
    there is the reference run)."""
    if cuts < 1:
        raise ValueError(f"cuts: must be >= 1, got {cuts}")
    times = bar_times(data)[:-1]
    if len(times) == 0:
        raise ValueError("the data has a single bar time: nothing to cut")
    k = min(cuts, len(times))
    picks = sorted({round((i + 1) * (len(times) - 1) / k) for i in range(k)})
    return [int(times[i]) for i in picks]


def first_difference(reference: Sequence[Decision], other: Sequence[Decision], cut_ns: int) -> Difference | None:
    """The earliest decision made up to `cut_ns` where `other` differs from `reference`."""
    ref = by_strategy([d for d in reference if d.decided_ns <= cut_ns])
    got = by_strategy([d for d in other if d.decided_ns <= cut_ns])
    found: list[Difference] = []
    for name in sorted(set(ref) | set(got)):
        a, b = ref.get(name, []), got.get(name, [])
        for i in range(max(len(a), len(b))):
            x = a[i] if i < len(a) else None
            y = b[i] if i < len(b) else None
            if x != y:
                at = min(d.decided_ns for d in (x, y) if d is not None)
                symbol = (x or y).symbol  # type: ignore[union-attr]
                found.append(Difference(cut_ns, name, symbol, at, what_differs(x, y)))
                break
    return min(found, key=lambda d: d.bar_ns, default=None)


def check_lookahead(run: Runner, data: BarData, cuts: int = DEFAULT_CUTS) -> LookaheadReport:
    reference = decisions(run(data))
    report = LookaheadReport(reference_decisions=len(reference))
    for cut in cut_times(data, cuts):
        report.cuts.append(cut)
        diff = first_difference(reference, decisions(run(head(data, cut))), cut)
        if diff is not None:
            report.differences.append(diff)
    return report
