"""Alpaca's REST rate limit: N requests per rolling minute per API key, answered with 429
and the X-Ratelimit-* headers."""

from __future__ import annotations

from collections import deque

WINDOW_NS = 60_000_000_000


class KeyRateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute  # 0 disables the limit
        self._hits: dict[str, deque[int]] = {}

    def check(self, key: str, now_ns: int) -> tuple[bool, dict[str, str]]:
        """Count one request; return (allowed, headers)."""
        if self.per_minute <= 0:
            return True, {}
        hits = self._hits.setdefault(key, deque())
        cutoff = now_ns - WINDOW_NS
        while hits and hits[0] <= cutoff:
            hits.popleft()
        allowed = len(hits) < self.per_minute
        if allowed:
            hits.append(now_ns)
        reset_ns = (hits[0] + WINDOW_NS) if hits else now_ns
        headers = {
            "X-Ratelimit-Limit": str(self.per_minute),
            "X-Ratelimit-Remaining": str(max(0, self.per_minute - len(hits))),
            "X-Ratelimit-Reset": str(-(-reset_ns // 1_000_000_000)),
        }
        return allowed, headers
