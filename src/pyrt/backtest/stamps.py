"""How the backtest's files write an instant: ISO-8601 in UTC with a `Z`, fractions only when
there are any (`2024-01-02T14:31:00Z`, `...:00.250000Z`; nanoseconds only when a stamp has
them)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

NS_PER_S = 1_000_000_000
_DAY_S = 86_400
_day_cache: dict[int, str] = {}


def iso_z(ns: int) -> str:
    sec, rem = divmod(ns, NS_PER_S)
    day, sod = divmod(sec, _DAY_S)
    prefix = _day_cache.get(day)
    if prefix is None:
        prefix = time.strftime("%Y-%m-%dT", time.gmtime(day * _DAY_S))
        if len(_day_cache) > 4096:
            _day_cache.clear()
        _day_cache[day] = prefix
    h, rest = divmod(sod, 3600)
    m, s = divmod(rest, 60)
    if rem == 0:
        return f"{prefix}{h:02d}:{m:02d}:{s:02d}Z"
    if rem % 1000 == 0:
        return f"{prefix}{h:02d}:{m:02d}:{s:02d}.{rem // 1000:06d}Z"
    return f"{prefix}{h:02d}:{m:02d}:{s:02d}.{rem:09d}Z"


def iso_or_none(ns: int | None) -> str | None:
    return None if ns is None else iso_z(ns)


def iso_z_many(ns: Sequence[int]) -> list[str]:
    """`iso_z` of every stamp; whole seconds (bar closes) are formatted by numpy at once."""
    arr = np.asarray(ns, dtype=np.int64)
    if arr.size and not np.any(arr % NS_PER_S):
        text = np.datetime_as_string((arr // NS_PER_S).astype("datetime64[s]"), unit="s")
        return [f"{t}Z" for t in text.tolist()]
    return [iso_z(int(t)) for t in arr.tolist()]
