"""Cancel every open order at the broker and wait until the broker confirms none is left,
retrying failed cancels, bounded in time. One procedure for the execution engine (with its
request budget) and for the control facade when the engine is down (the engine reconciles
those cancels when it starts)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pyrt.venues.port import VenueError, VenuePort

log = logging.getLogger("pyrt.execution.cancel_all")


def cancel_all_at_broker(
    venue: VenuePort,
    timeout_s: float,
    *,
    may_call: Callable[[], bool] = lambda: True,
    between: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """`may_call()` takes a request from a budget (False: skip this call this round);
    `between()` runs between rounds (the engine processes broker results there)."""
    t0 = time.monotonic()
    attempts, remaining, errors = 0, -1, []
    while True:
        attempts += 1
        try:
            if may_call():
                venue.cancel_all_orders()
            if may_call():
                remaining = len(venue.list_orders("open"))
        except VenueError as exc:
            errors.append(str(exc))
            log.error("cancel all: broker call failed: %s", exc)
        if remaining == 0 or time.monotonic() - t0 >= timeout_s:
            break
        if between is not None:
            between()
        time.sleep(min(0.05 * 2 ** min(attempts, 5), 0.5))
    elapsed_ms = (time.monotonic() - t0) * 1000
    ok = remaining == 0
    (log.warning if ok else log.error)(
        "cancel all: %s open orders left at the broker after %d attempts in %.0f ms", remaining, attempts, elapsed_ms
    )
    return {
        "ok": ok,
        "open_orders_after": remaining,
        "attempts": attempts,
        "elapsed_ms": round(elapsed_ms, 1),
        "errors": errors[-3:],
    }
