"""Client-side request budget for the broker's REST API (reliability-practices §2.7).

A sliding one-minute window (an exact token bucket: each request holds its token for 60 s)
with tiered reserves, so that priority is cancel > submit > read and no kind can starve a
more important one (review D2: reads and submits shared one window, so the engine's order
lookups and the operator's reads filled it and approved orders waited for minutes):

- cancels may use the whole `per_minute`;
- reads and submits together may use `per_minute - cancel_reserve` (the cancel reserve);
- submits may use that less `read_reserve` (reads always get their `read_reserve`);
- reads may use that less `submit_reserve` (submits always get their `submit_reserve`,
  whatever the reads do: a flood of reads never delays a submit within it).

The broker's own count (X-RateLimit-Remaining/-Reset, the key's budget shared by every
process using it) is applied with the same reserves through `on_headers`: reads stop when
the broker has `cancel_reserve + submit_reserve` requests left, submits at
`cancel_reserve`, cancels at 0, each until the broker's reset. After a 429, reads and
submits pause until X-Ratelimit-Reset, clamped to [1, 60] s. Pure and synchronous: time
comes from the injected clock; callers wait. Keep `per_minute` below the account limit
(200) to leave room for other processes using the same key.
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
    """What a REST request is for (cancels first, then submits, then reads)."""

    CANCEL = "cancel"
    READ = "read"
    SUBMIT = "submit"


def default_submit_reserve(per_minute: int, cancel_reserve: int, read_reserve: int) -> int:
    """Half of what reads and submits share, but never into the read reserve."""
    shared = per_minute - cancel_reserve
    return max(0, min(shared // 2, shared - read_reserve))


class RequestBudget:
    """Sliding-minute request budget with reserves for cancels, submits and reads."""

    def __init__(
        self,
        per_minute: int = 150,
        cancel_reserve: int = 30,
        clock: Clock | None = None,
        *,
        read_reserve: int = 10,
        submit_reserve: int | None = None,
    ) -> None:
        if per_minute < 1 or cancel_reserve < 0 or read_reserve < 0 or (submit_reserve or 0) < 0:
            raise ValueError("per_minute must be >= 1 and reserves >= 0")
        if cancel_reserve + read_reserve >= per_minute:
            raise ValueError(
                f"reserves ({cancel_reserve} cancel + {read_reserve} read) leave nothing of {per_minute}/min for submits"
            )
        if submit_reserve is None:
            submit_reserve = default_submit_reserve(per_minute, cancel_reserve, read_reserve)
        if cancel_reserve + read_reserve + submit_reserve > per_minute:
            raise ValueError(
                f"reserves ({cancel_reserve} cancel + {read_reserve} read + {submit_reserve} submit) "
                f"exceed {per_minute}/min"
            )
        if cancel_reserve + submit_reserve >= per_minute:
            raise ValueError(
                f"reserves ({cancel_reserve} cancel + {submit_reserve} submit) leave nothing of {per_minute}/min for reads"
            )
        self.per_minute = per_minute
        self.cancel_reserve = cancel_reserve
        self.read_reserve = read_reserve
        self.submit_reserve = submit_reserve
        self._clock = clock or WallClock()
        self._lock = threading.Lock()
        self._all: deque[int] = deque()  # acquisition times of every request in the window
        self._non_cancel: deque[int] = deque()  # reads and submits
        self._reads: deque[int] = deque()
        self._submits: deque[int] = deque()
        self._paused_until_ns = 0
        # the broker's last word: requests left for the key until `_broker_reset_ns`, less
        # what this budget has handed out since (None: no header seen, or its reset passed)
        self._broker_left: int | None = None
        self._broker_reset_ns = 0
        self.broker_limit: int | None = None

    def limit(self, kind: RequestKind | str) -> int:
        """How many requests of this kind fit in one minute when nothing else is taken."""
        kind = RequestKind(kind)
        if kind == RequestKind.CANCEL:
            return self.per_minute
        shared = self.per_minute - self.cancel_reserve
        if kind == RequestKind.READ:
            return shared - self.submit_reserve
        return shared - self.read_reserve

    def floor(self, kind: RequestKind | str) -> int:
        """Requests the broker must have left (X-RateLimit-Remaining) for this kind to go."""
        kind = RequestKind(kind)
        if kind == RequestKind.CANCEL:
            return 0
        if kind == RequestKind.SUBMIT:
            return self.cancel_reserve
        return self.cancel_reserve + self.submit_reserve

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
                (self._reads if kind == RequestKind.READ else self._submits).append(now)
            if self._broker_left is not None:
                self._broker_left -= 1
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
            pause_s = _clamp_pause(reset_epoch_s, now_ns, now)
            self._paused_until_ns = max(self._paused_until_ns, now_ns + int(pause_s * 1e9))
            return pause_s

    def on_headers(
        self, limit: int | None, remaining: int | None, reset_epoch_s: float | None, now: float | None = None
    ) -> None:
        """The broker's X-RateLimit-Limit/-Remaining/-Reset of a response (any missing: ignored).
        From now until the reset (clamped to [1, 60] s) each kind goes only while the broker
        has more than `floor(kind)` requests left, counting ours handed out since."""
        if limit is not None:
            self.broker_limit = limit
        if remaining is None or reset_epoch_s is None:
            return
        with self._lock:
            now_ns = self._clock.now_ns()
            self._broker_left = max(0, remaining)
            self._broker_reset_ns = now_ns + int(_clamp_pause(reset_epoch_s, now_ns, now) * 1e9)

    def remaining(self, kind: RequestKind | str = RequestKind.SUBMIT) -> int:
        """Requests of `kind` that could go now in this minute: the room left in our own
        windows (the kind's, the shared one, the whole minute) and, while the broker's last
        X-RateLimit-Remaining holds (until its reset), what the broker has left above the
        kind's floor; 0 while paused after a 429. `execution_rate_limit_remaining`."""
        kind = RequestKind(kind)
        with self._lock:
            now = self._clock.now_ns()
            self._prune(now)
            room = self.per_minute - len(self._all)
            if kind != RequestKind.CANCEL:
                if self._paused_until_ns > now:
                    return 0
                own = self._reads if kind == RequestKind.READ else self._submits
                room = min(room, self.per_minute - self.cancel_reserve - len(self._non_cancel))
                room = min(room, self.limit(kind) - len(own))
            if self._broker_left is not None:
                room = min(room, self._broker_left - self.floor(kind))
            return max(0, room)

    def used(self) -> tuple[int, int]:
        """(all requests, reads + submits) in the current window."""
        with self._lock:
            self._prune(self._clock.now_ns())
            return len(self._all), len(self._non_cancel)

    def _wait_ns(self, kind: RequestKind, now: int) -> int:
        self._prune(now)
        wait = _wait_for_room(self._all, self.per_minute, now)
        if self._broker_left is not None and self._broker_left <= self.floor(kind):
            wait = max(wait, self._broker_reset_ns - now)
        if kind != RequestKind.CANCEL:
            own = self._reads if kind == RequestKind.READ else self._submits
            wait = max(
                wait,
                _wait_for_room(self._non_cancel, self.per_minute - self.cancel_reserve, now),
                _wait_for_room(own, self.limit(kind), now),
                self._paused_until_ns - now,
            )
        return max(wait, 0)

    def _prune(self, now: int) -> None:
        for times in (self._all, self._non_cancel, self._reads, self._submits):
            while times and now - times[0] >= WINDOW_NS:
                times.popleft()
        if self._broker_left is not None and now >= self._broker_reset_ns:
            self._broker_left = None  # the broker's window moved on: wait for its next word


def _clamp_pause(reset_epoch_s: float, now_ns: int, now: float | None) -> float:
    current = now_ns / 1e9 if now is None else now
    return min(max(reset_epoch_s - current, MIN_PAUSE_S), MAX_PAUSE_S)


def _wait_for_room(times: deque[int], limit: int, now: int) -> int:
    """Nanoseconds until fewer than `limit` of `times` are inside the window."""
    if len(times) < limit:
        return 0
    return times[len(times) - limit] + WINDOW_NS - now
