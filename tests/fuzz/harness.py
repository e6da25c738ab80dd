"""The fuzz harness: hypothesis draws a small *recipe* per example (a few structurally
valid inputs and a seed), and the recipe is expanded into a *batch* of hundreds of inputs
by cheap deterministic mutations (`tests.fuzz.mutate`). Hypothesis alone cannot reach a
million inputs per decoder in minutes: drawing every input through its engine costs far
more than decoding it, so it chooses the interesting starting points and a seeded
`random.Random` does the volume.

Each input goes through `check`, which returns True (accepted, and the result passed the
decoder's own invariants) or False (rejected *and counted*: the decoder's own error type or
its drop counter, which the check verifies). Anything else that escapes is a crash: it is
recorded with the input and the test fails at the end of its run, after the whole budget,
so the summary table shows how many there were.

The budget is `PYRT_FUZZ_INPUTS` inputs per decoder (`make test-fuzz` sets 1,000,000);
without it a quick run of `QUICK_INPUTS` per decoder is part of the normal `make test`.
Hypothesis runs derandomized (the same inputs every run) and writes no example database.
"""

from __future__ import annotations

import math
import os
import random
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

BUDGET_ENV = "PYRT_FUZZ_INPUTS"
QUICK_INPUTS = 2_000
MAX_CRASH_KINDS = 20


def budget() -> int:
    """Inputs per decoder: $PYRT_FUZZ_INPUTS, else the quick budget."""
    raw = os.environ.get(BUDGET_ENV, "").strip().replace("_", "")
    if not raw:
        return QUICK_INPUTS
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{BUDGET_ENV} must be a whole number of inputs, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{BUDGET_ENV} must be at least 1, got {value}")
    return value


def batch_size(total: int) -> int:
    """Inputs per hypothesis example: 500 for a full run, 100 for a quick one."""
    return 500 if total >= 50_000 else 100


@dataclass
class Tally:
    """What one decoder did with its inputs."""

    decoder: str
    inputs: int = 0
    accepted: int = 0
    rejected: int = 0
    crashes: int = 0
    seconds: float = 0.0
    kinds: dict[str, list[Any]] = field(default_factory=dict)  # crash signature -> [count, first input]

    def crash(self, data: Any, exc: BaseException) -> None:
        """Count a crash under its signature (type and where it was raised), keeping the
        first input of each."""
        self.crashes += 1
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" at {where.filename}:{where.lineno}" if where else ""
        key = f"{type(exc).__name__}{at}"
        if key in self.kinds:
            self.kinds[key][0] += 1
        elif len(self.kinds) < MAX_CRASH_KINDS:
            self.kinds[key] = [1, f"{str(exc)[:300]}\n    input: {data!r:.600}"]

    def report(self) -> str:
        lines = [f"{self.decoder}: {self.crashes} crash(es) in {self.inputs} inputs:"]
        lines += [f"  {count} x {key}: {first}" for key, (count, first) in self.kinds.items()]
        return "\n".join(lines)


TALLIES: list[Tally] = []
"""Every decoder's tally of this session, for the summary table (tests/fuzz/conftest.py)."""


def fuzz(
    decoder: str,
    recipes: st.SearchStrategy[Any],
    expand: Callable[[Any, random.Random, int], Iterable[Any]],
    check: Callable[[Any], bool] | None = None,
    total: int | None = None,
    check_batch: Callable[[list[Any]], Iterable[tuple[Any, bool | BaseException]]] | None = None,
) -> Tally:
    """Run `check` on `total` inputs (default: the budget) expanded from hypothesis
    recipes; return the tally, after failing if anything crashed. A decoder that takes its
    inputs together (journal rows) gives `check_batch` instead: it yields each input with
    True, False or the exception it crashed with."""
    total = budget() if total is None else total
    size = batch_size(total)
    tally = Tally(decoder)
    TALLIES.append(tally)
    started = time.perf_counter()
    last: list[Any] = []

    def run_batch(recipe: Any, seed: int) -> None:
        n = min(size, total - tally.inputs)
        if n <= 0:
            return
        if check_batch is not None:
            for data, result in check_batch(list(expand(recipe, random.Random(seed), n))):
                tally.inputs += 1
                if isinstance(result, BaseException):
                    tally.crash(data, result)
                elif result:
                    tally.accepted += 1
                else:
                    tally.rejected += 1
            return
        assert check is not None
        for data in expand(recipe, random.Random(seed), n):
            tally.inputs += 1
            try:
                ok = check(data)
            except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
                tally.crash(data, exc)
                continue
            if ok:
                tally.accepted += 1
            else:
                tally.rejected += 1

    @settings(
        max_examples=math.ceil(total / size),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(recipe=recipes, seed=st.integers(0, 2**32 - 1))
    def batches(recipe: Any, seed: int) -> None:
        last[:] = [recipe]
        run_batch(recipe, seed)

    batches()
    # Hypothesis may end early if its search space runs dry (it never re-runs a duplicate);
    # top up with fresh seeds on the recipes it last drew so the count is always met.
    extra = random.Random(total)
    while tally.inputs < total and last:
        run_batch(last[0], extra.getrandbits(32))
    tally.seconds = time.perf_counter() - started
    assert tally.inputs >= total, f"{decoder}: only {tally.inputs} of {total} inputs were generated"
    assert tally.crashes == 0, tally.report()
    return tally
