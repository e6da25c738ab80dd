"""Parameter spaces for sweeps: the `--grid` syntax, the full grid and a seeded random
search over it.

Syntax: comma-separated terms `NAME=VALUES`; VALUES is
- a range `A..B` (inclusive) with an optional step `A..B:S` (default 1): `fast=5..20`,
  `slow=20..60:5`, `z=0.5..2.0:0.25` (floats when any of A, B, S has a decimal point);
- a list `A|B|C` of numbers or words: `trade_size=50|100`, `mode=fast|slow`;
- one value: `trade_size=100`.
Every error names the term and what is wrong with it (`GridError`, a ValueError)."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pyrt.domain.errors import BadInput

Value = int | float | str
Space = dict[str, list[Value]]
ParamSet = dict[str, Value]

MAX_SETS = 1_000_000  # a grid larger than this is refused (use --random N)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class GridError(BadInput, ValueError):
    """A parameter space that cannot be read: the message names the term."""


def _number(text: str, term: str, what: str) -> int | float:
    t = text.strip()
    if not _NUMBER.match(t):
        raise GridError(f"grid: {term!r}: {what} {t!r} is not a number")
    return float(t) if any(c in t for c in ".eE") else int(t)


def _value(text: str) -> Value:
    t = text.strip()
    if _NUMBER.match(t):
        return float(t) if any(c in t for c in ".eE") else int(t)
    return t


def _range(body: str, term: str) -> list[Value]:
    lo_text, _, rest = body.partition("..")
    hi_text, has_step, step_text = rest.partition(":")
    lo = _number(lo_text, term, "start")
    hi = _number(hi_text, term, "end")
    step = _number(step_text, term, "step") if has_step else 1
    if step <= 0:
        raise GridError(f"grid: {term!r}: step must be > 0 (got {step})")
    if hi < lo:
        raise GridError(f"grid: {term!r}: end {hi} is below start {lo}")
    if all(isinstance(x, int) for x in (lo, hi, step)):
        return list(range(int(lo), int(hi) + 1, int(step)))
    count = int((hi - lo) / step + 1e-9) + 1
    if count > MAX_SETS:
        raise GridError(f"grid: {term!r}: {count} values is too many")
    return [round(lo + i * step, 12) for i in range(count)]


def parse_grid(text: str) -> Space:
    """`fast=5..20,slow=20..60:5` -> {"fast": [5..20], "slow": [20, 25, ..., 60]}."""
    space: Space = {}
    terms = [t.strip() for t in text.split(",")]
    if not text.strip() or not any(terms):
        raise GridError("grid: empty (expected NAME=A..B[:STEP], NAME=A|B|C or NAME=VALUE, comma-separated)")
    for term in terms:
        if not term:
            raise GridError(f"grid: empty term in {text!r} (a stray comma?)")
        name, eq, body = term.partition("=")
        name, body = name.strip(), body.strip()
        if not eq:
            raise GridError(f"grid: {term!r}: expected NAME=VALUES (e.g. fast=5..20)")
        if not _NAME.match(name):
            raise GridError(f"grid: {term!r}: {name!r} is not a parameter name")
        if name in space:
            raise GridError(f"grid: {term!r}: {name} is given twice")
        if not body:
            raise GridError(f"grid: {term!r}: no values")
        if ".." in body:
            values = _range(body, term)
        else:
            values = [_value(v) for v in body.split("|")]
            if any(v == "" for v in values):
                raise GridError(f"grid: {term!r}: empty value in the list")
        if len(set(values)) != len(values):
            raise GridError(f"grid: {term!r}: a value is repeated")
        space[name] = values
    if grid_size(space) > MAX_SETS:
        raise GridError(f"grid: {grid_size(space)} parameter sets is more than {MAX_SETS} (use --random N)")
    return space


def grid_size(space: Mapping[str, Sequence[Value]]) -> int:
    n = 1
    for values in space.values():
        n *= len(values)
    return n


def grid_sets(space: Mapping[str, Sequence[Value]]) -> list[ParamSet]:
    """Every combination, the first parameter varying slowest."""
    names = list(space)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(space[n] for n in names))]


def random_sets(space: Mapping[str, Sequence[Value]], n: int, seed: int) -> list[ParamSet]:
    """`n` distinct combinations drawn uniformly without replacement (all of them when the
    grid holds fewer); the same seed gives the same sets in the same order."""
    if n < 1:
        raise GridError(f"random: the number of sets must be >= 1 (got {n})")
    total = grid_size(space)
    names = list(space)
    rng = random.Random(seed)
    picks = rng.sample(range(total), min(n, total))
    return [_nth(space, names, k) for k in picks]


def _nth(space: Mapping[str, Sequence[Value]], names: list[str], k: int) -> ParamSet:
    out: ParamSet = {}
    for name in reversed(names):
        values = space[name]
        k, i = divmod(k, len(values))
        out[name] = values[i]
    return {name: out[name] for name in names}


def set_label(params: Mapping[str, Any]) -> str:
    """`fast=5,slow=20`: a parameter set as one short string (its order as given)."""
    return ",".join(f"{k}={v}" for k, v in params.items())
