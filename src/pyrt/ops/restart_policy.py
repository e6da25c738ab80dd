"""When the supervisor restarts a process that died: the pure core of `pyrt up`'s
self-healing (no processes, no clock of its own: every call is given `now`).

The rules are those of the systemd units (deploy/systemd/, Restart=on-failure,
StartLimitBurst/StartLimitIntervalSec, RestartPreventExitStatus=2):
- a process that dies is restarted after a backoff: `delay_s` after its first death in the
  window, doubled for each further restart in the window, at most `max_delay_s`;
- at most `limit` restarts of one process within `window_s` seconds: its next death gives
  up (the supervisor then stops the whole system and alerts);
- exit code 2 is a configuration error (or the account lock held by another engine):
  restarting cannot fix it, so it gives up at once.

    policy = RestartPolicy(delay_s=0.5, max_delay_s=30, limit=5, window_s=600)
    decision = policy.on_exit("execution_engine", code=-9, now=time.monotonic())
    if decision.give_up: stop everything, alert(decision.reason)
    else: start it again at decision.at
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

CONFIG_ERROR_EXIT = 2
"""The exit code of a process that refuses its configuration (systemd's RestartPreventExitStatus)."""


@dataclass(frozen=True)
class Decision:
    """What to do about one death: restart at `at` (after `delay_s`), or give up (`reason`).
    `restarts` counts the restarts of this process within the window, this one included."""

    service: str
    give_up: bool
    at: float = 0.0
    delay_s: float = 0.0
    restarts: int = 0
    reason: str = ""


@dataclass
class RestartPolicy:
    """Backoff and a restart limit per process, over a sliding window."""

    delay_s: float = 0.5
    max_delay_s: float = 30.0
    limit: int = 5
    window_s: float = 600.0
    _history: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    totals: dict[str, int] = field(default_factory=dict)
    """Restarts per process since the supervisor started (the metric's counter)."""

    def __post_init__(self) -> None:
        if self.delay_s < 0 or self.max_delay_s < self.delay_s:
            raise ValueError(f"need 0 <= delay_s ({self.delay_s}) <= max_delay_s ({self.max_delay_s})")
        if self.limit < 0 or self.window_s <= 0:
            raise ValueError(f"need limit >= 0 ({self.limit}) and window_s > 0 ({self.window_s})")

    def recent(self, service: str, now: float) -> int:
        """Restarts of `service` within the window ending at `now`."""
        history = self._history.get(service)
        if history is None:
            return 0
        while history and history[0] <= now - self.window_s:
            history.popleft()
        return len(history)

    def backoff(self, previous: int) -> float:
        """The delay before the next restart when `previous` restarts are in the window."""
        return float(min(self.delay_s * (2 ** min(previous, 32)), self.max_delay_s))

    def on_exit(self, service: str, code: int, now: float) -> Decision:
        """`service` died with exit `code` (negative: killed by that signal) at `now`."""
        if code == CONFIG_ERROR_EXIT:
            return Decision(
                service,
                give_up=True,
                reason=f"{service} exited with code {CONFIG_ERROR_EXIT} (configuration error): restarting cannot fix it",
            )
        previous = self.recent(service, now)
        if previous >= self.limit:
            return Decision(
                service,
                give_up=True,
                restarts=previous,
                reason=(
                    f"{service} died again after {previous} restart{'s' if previous != 1 else ''} "
                    f"within {self.window_s:g}s (limit {self.limit})"
                ),
            )
        delay = self.backoff(previous)
        self._history.setdefault(service, deque()).append(now)
        self.totals[service] = self.totals.get(service, 0) + 1
        return Decision(service, give_up=False, at=now + delay, delay_s=delay, restarts=previous + 1)
