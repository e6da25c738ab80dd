"""Opt-in order-path stage timestamps, for finding where tick-to-submit latency goes.

Set ``PYRT_STAGE_TRACE`` to a file path and each service appends one line per stage an
order intent passes: ``<stage> <intent_id> <time_ns>`` (wall clock, comparable across the
processes of one machine). ``benchmarks/pipeline.py --stages`` sets it and prints the
breakdown. Unset (the default), ``mark`` is a no-op function."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from itertools import pairwise
from typing import Protocol

ENV = "PYRT_STAGE_TRACE"

# in path order; "tick" is the market-data receipt of the triggering quote
STAGES = ("tick", "signal_in", "signal_out", "risk_in", "risk_out", "exec_in", "exec_committed", "exec_submit")


class Marker(Protocol):
    def __call__(self, stage: str, intent_id: str, ns: int | None = None) -> None: ...


def _noop(stage: str, intent_id: str, ns: int | None = None) -> None:
    return None


def _make_writer(path: str) -> Marker:
    fh = open(path, "a", buffering=1)  # noqa: SIM115 - open for the life of the process
    now = time.time_ns

    def mark(stage: str, intent_id: str, ns: int | None = None) -> None:
        fh.write(f"{stage} {intent_id} {now() if ns is None else ns}\n")

    return mark


mark: Marker = _make_writer(os.environ[ENV]) if os.environ.get(ENV) else _noop


def breakdown(lines: Iterable[str], window_ns: tuple[int, int] | None = None) -> dict[str, list[float]]:
    """Per consecutive stage pair ("a->b"), the durations in microseconds of the intents
    that passed every stage (first mark of each stage per intent), optionally only those
    whose tick lies in ``window_ns``."""
    seen: dict[str, dict[str, int]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] in STAGES:
            seen.setdefault(parts[1], {}).setdefault(parts[0], int(parts[2]))
    complete = [s for s in seen.values() if all(k in s for k in STAGES)]
    if window_ns is not None:
        complete = [s for s in complete if window_ns[0] <= s["tick"] <= window_ns[1]]
    out: dict[str, list[float]] = {}
    for a, b in pairwise(STAGES):
        out[f"{a}->{b}"] = [(s[b] - s[a]) / 1000.0 for s in complete]
    out["total"] = [(s[STAGES[-1]] - s[STAGES[0]]) / 1000.0 for s in complete]
    return out
