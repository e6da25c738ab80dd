"""Client-side request budget for the broker's REST API (reliability-practices §2.7).

A sliding one-minute window (an exact token bucket: each request holds its token for 60 s)
with tiered reserves, so priority is cancel > read > submit:

- cancels may use the whole `per_minute`;
- reads may use `per_minute - cancel_reserve`;
- submits may use `per_minute - cancel_reserve - read_reserve` (counted with reads).

So reads and submits can never consume the cancel reserve, and submits never the read
reserve. After a 429, non-cancel traffic pauses until X-Ratelimit-Reset, clamped to
[1, 60] s. Pure and synchronous: time comes from the injected clock; callers wait.
The budget covers one process; keep `per_minute` below the account limit (200) to leave
room for other processes using the same key.
"""

from __future__ import annotations

import threading
from collections import deque
from enum import Enum

from pyrt.domain.clock import Clock, WallClock

WINDOW_NS = 60_000_000_000
MIN_PAUSE_S = 1.0
MAX_PAUSE_S = 60.0


class RequestKind(str, Enum):
    """What a REST request is for, in priority order."""

    CANCEL = "cancel"
    READ = "read"
    SUBMIT = "submit"


class RequestBudget:
    """Sliding-minute request budget with reserves for cancels and reads."""

    def __init__(
        self,
        per_minute: int = 150,
        cancel_reserve: int = 30,
        clock: Clock | None = None,
        *,
        read_reserve: int = 10,
    ) -> None:
        if per_minute < 1 or cancel_reserve < 0 or read_reserve < 0:
            raise ValueError("per_minute must be >= 1 and reserves >= 0")
        if cancel_reserve + read_reserve >= per_minute:
            raise ValueError(
                f"reserves ({cancel_reserve} cancel + {read_reserve} read) leave nothing of {per_minute}/min for submits"
            )
        self.per_minute = per_minute
        self.cancel_reserve = cancel_reserve
        self.read_reserve = read_reserve
        self._clock = clock or WallClock()
        self._lock = threading.Lock()
        self._all: deque[int] = deque()  # acquisition times of every request in the window
        self._non_cancel: deque[int] = deque()  # reads and submits only
        self._paused_until_ns = 0

    def limit(self, kind: RequestKind | str) -> int:
        """How many requests of this kind's tier fit in one minute."""
        kind = RequestKind(kind)
        if kind == RequestKind.CANCEL:
            return self.per_minute
        if kind == RequestKind.READ:
            return self.per_minute - self.cancel_reserve
        return self.per_minute - self.cancel_reserve - self.read_reserve

    def try_acquire(self, kind: RequestKind | str) -> bool:
        """Take one request of `kind` now if the budget allows it."""
        kind = RequestKind(kind)
        with self._lock:
            now = self._clock.now_ns()
            if self._wait_ns(kind, now) > 0:
                return False
            self._all.append(now)
            if kind != RequestKind.CANCEL:
                self._non_cancel.append(now)
            return True

    def wait_time(self, kind: RequestKind | str) -> float:
        """Seconds until `try_acquire(kind)` would succeed if nothing else were taken (0.0 = now)."""
        kind = RequestKind(kind)
        with self._lock:
            return self._wait_ns(kind, self._clock.now_ns()) / 1e9

    def on_rate_limited(self, reset_epoch_s: float, now: float | None = None) -> float:
        """A 429 arrived with X-Ratelimit-Reset = `reset_epoch_s` (server epoch seconds; `now`
        is our epoch seconds, default the clock). Pause reads and submits until the reset,
        clamped to [1, 60] s so a skewed clock cannot make it negative or huge. Returns the
        pause in seconds."""
        with self._lock:
            now_ns = self._clock.now_ns()
            current = now_ns / 1e9 if now is None else now
            pause_s = min(max(reset_epoch_s - current, MIN_PAUSE_S), MAX_PAUSE_S)
            self._paused_until_ns = max(self._paused_until_ns, now_ns + int(pause_s * 1e9))
            return pause_s

    def used(self) -> tuple[int, int]:
        """(all requests, reads + submits) in the current window."""
        with self._lock:
            self._prune(self._clock.now_ns())
            return len(self._all), len(self._non_cancel)

    def _wait_ns(self, kind: RequestKind, now: int) -> int:
        self._prune(now)
        wait = _wait_for_room(self._all, self.per_minute, now)
        if kind != RequestKind.CANCEL:
            wait = max(
                wait, _wait_for_room(self._non_cancel, self.limit(kind), now), self._paused_until_ns - now
            )
        return max(wait, 0)

    def _prune(self, now: int) -> None:
        for times in (self._all, self._non_cancel):
            while times and now - times[0] >= WINDOW_NS:
                times.popleft()


def _wait_for_room(times: deque[int], limit: int, now: int) -> int:
    """Nanoseconds until fewer than `limit` of `times` are inside the window."""
    if len(times) < limit:
        return 0
    return times[len(times) - limit] + WINDOW_NS - now
