"""How the backtest's files write an instant: ISO-8601 in UTC with a `Z`, fractions only when
there are any (`2024-01-02T14:31:00Z`, `...:00.250000Z`; nanoseconds only when a stamp has
them)."""

from __future__ import annotations

import time

NS_PER_S = 1_000_000_000


def iso_z(ns: int) -> str:
    sec, rem = divmod(ns, NS_PER_S)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if rem == 0:
        return base + "Z"
    if rem % 1000 == 0:
        return f"{base}.{rem // 1000:06d}Z"
    return f"{base}.{rem:09d}Z"


def iso_or_none(ns: int | None) -> str | None:
    return None if ns is None else iso_z(ns)
