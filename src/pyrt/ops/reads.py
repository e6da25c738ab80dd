"""The control API's reads of positions, orders and the account, without spending the
broker's rate limit (review S2: a flood of API reads exhausted the key's 200/min and the
execution engine got 429s on its own reads and submits).

Where a read comes from, first that answers:
1. the execution engine's projection over the bus (`SnapshotRequest`), while the engine
   is up: no broker request at all; its answer is kept `ENGINE_TTL_S` so a flood does not
   load the engine's order thread either. An engine that did not answer is not asked
   again for `ENGINE_RETRY_S` (a stopped engine costs one timeout, not one per read);
2. the broker, through this process's own `RequestBudget` (reads only, with the same
   reserves as the engine's, so the broker's X-RateLimit-Remaining keeps the engine's
   submit and cancel reserves free) and a cache of `BROKER_TTL_S`: a flood of reads
   costs at most one broker request per kind of read every two seconds;
3. the last answer, however old, when the budget says no; with none, `ReadThrottled`
   (HTTP 429 in the API: the caller reads too often, not a server fault).

Keys are few and fixed (positions, account, orders by status fetched at the broker's
maximum page and sliced), so varied query parameters cannot multiply broker requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pyrt.domain.errors import Retryable
from pyrt.services.execution.budget import RequestBudget

ENGINE_TTL_S = 0.5
BROKER_TTL_S = 2.0
ENGINE_RETRY_S = 5.0

T = TypeVar("T")


class ReadThrottled(Retryable):
    """The broker read budget is used up and nothing was read before."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many broker reads: the read budget is used up, retry in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


class CachedReads:
    """Read-through cache with one fetch at a time per process (a flood waits for the
    one request in flight instead of sending its own)."""

    def __init__(self, budget: RequestBudget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._engine_down_until = 0.0
        self.broker_requests = 0  # sent by this process through `broker` (for tests and status)

    def engine(self, kind: str, fetch: Callable[[], T | None]) -> T | None:
        """The engine's answer for `kind` (cached `ENGINE_TTL_S`), or None when it is down
        (`fetch` returned None or raised TimeoutError-like errors it maps to None)."""
        key = ("engine", kind)
        with self._lock:
            now = self._clock()
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < ENGINE_TTL_S:
                return hit[1]
            if now < self._engine_down_until:
                return None
            value = fetch()
            if value is None:
                self._engine_down_until = self._clock() + ENGINE_RETRY_S
                return None
            self._cache[key] = (self._clock(), value)
            return value

    def broker(self, key: tuple[str, ...], fetch: Callable[[], T]) -> T:
        """`fetch()` from the broker within the budget and the cache (errors are not cached)."""
        with self._lock:
            now = self._clock()
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < BROKER_TTL_S:
                return hit[1]
            if not self.budget.try_acquire("read"):
                if hit is not None:
                    return hit[1]
                raise ReadThrottled(max(self.budget.wait_time("read"), 1.0))
            self.broker_requests += 1
            value = fetch()
            self._cache[key] = (self._clock(), value)
            return value

    def acquire(self) -> None:
        """One uncached broker read (a single order by id), or ReadThrottled."""
        if not self.budget.try_acquire("read"):
            raise ReadThrottled(max(self.budget.wait_time("read"), 1.0))
        with self._lock:
            self.broker_requests += 1

    def forget(self) -> None:
        """Drop every cached answer (after an action that changed orders or positions)."""
        with self._lock:
            self._cache.clear()
