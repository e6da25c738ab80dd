"""Population stability index (PSI) of live values against a training reference, and the
reference itself (`make_reference`, used by the trainer). Pure Python on the serving side.

PSI = sum over bins of (a - e) * ln(a / e), with a and e the live and training fractions
(each floored at 1e-4 so an empty bin counts but does not explode). Usual reading: < 0.1
stable, 0.1-0.25 drifting (warn), >= 0.25 shifted (act)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from pyrt.services.signals.model.manifest import Reference

PSI_FLOOR = 1e-4


def make_reference(values: Any, bins: int = 10) -> Reference:
    """Decile edges of `values` (a 1-D array) and the training fraction in each bin."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    edges = sorted(set(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]).tolist()))
    counts = [0] * (len(edges) + 1)
    for x in v.tolist():
        counts[bisect_right(edges, x)] += 1
    total = max(1, len(v))
    return Reference(edges=[float(e) for e in edges], fractions=[c / total for c in counts])


def psi(ref: Reference, values: Iterable[float]) -> float:
    """PSI of `values` against `ref` (NaN when there are no values)."""
    counts = [0] * (len(ref.edges) + 1)
    n = 0
    for x in values:
        counts[bisect_right(ref.edges, x)] += 1
        n += 1
    if n == 0:
        return math.nan
    total = 0.0
    for c, e in zip(counts, ref.fractions, strict=True):
        a = max(c / n, PSI_FLOOR)
        e = max(e, PSI_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


class DriftWindow:
    """The last `size` live values of each named series (features and the prediction),
    kept as bin counts against the training references, and their PSI once `min_samples`
    have been seen. Once a window is full its PSI is kept up to date in O(1) per value (a
    value changes two bins' terms), recomputed in full every `size` values against rounding."""

    def __init__(self, references: dict[str, Reference], names: Sequence[str], size: int, min_samples: int) -> None:
        self.references = references
        self.names = [n for n in names if n in references]
        self.min_samples = min_samples
        self.size = size
        self._bins: dict[str, deque[int]] = {n: deque(maxlen=size) for n in self.names}
        self._counts: dict[str, list[int]] = {n: [0] * (len(references[n].edges) + 1) for n in self.names}
        self._expected = {n: [max(e, PSI_FLOOR) for e in references[n].fractions] for n in self.names}
        self._terms: dict[str, list[float]] = {n: [0.0] * len(self._counts[n]) for n in self.names}
        self._psi: dict[str, float | None] = dict.fromkeys(self.names)  # None: recompute in full
        self._since_full = 0

    def _term(self, n: str, b: int, total: int) -> float:
        a = self._counts[n][b] / total
        if a < PSI_FLOOR:
            a = PSI_FLOOR
        e = self._expected[n][b]
        return (a - e) * math.log(a / e)

    def add(self, values: dict[str, float]) -> None:
        self._since_full += 1
        refresh = self._since_full >= self.size
        if refresh:
            self._since_full = 0
        for n in self.names:
            x = values.get(n)
            if x is None:
                continue
            window, counts = self._bins[n], self._counts[n]
            full = len(window) == window.maxlen
            old = window[0] if full else -1
            if full:
                counts[old] -= 1
            b = bisect_right(self.references[n].edges, x)
            window.append(b)
            counts[b] += 1
            psi_now = self._psi[n]
            if not full or refresh or psi_now is None:
                self._psi[n] = None
                continue
            terms = self._terms[n]
            for k in (old, b) if old != b else (b,):
                t = self._term(n, k, self.size)
                psi_now += t - terms[k]
                terms[k] = t
            self._psi[n] = psi_now

    def scores(self) -> dict[str, float]:
        """PSI per series that has at least `min_samples` values."""
        out = {}
        for n, window in self._bins.items():
            total = len(window)
            if total < self.min_samples:
                continue
            value = self._psi[n]
            if value is None:
                terms = self._terms[n]
                for k in range(len(terms)):
                    terms[k] = self._term(n, k, total)
                value = math.fsum(terms)
                if total == self.size:
                    self._psi[n] = value
            out[n] = value
        return out
