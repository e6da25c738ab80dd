"""The dead-man watchdog (pure). Alpaca has no cancel-on-disconnect, so the execution
engine watches the heartbeats of the risk manager and market data itself:

- risk manager silent for `risk_silence_s`: stop accepting new orders (until it is heard);
- risk manager AND market data both silent for `cancel_after_s`: cancel every open order
  (once per silence episode).

Before the first heartbeat arrives, the start time counts as the last one heard."""

from __future__ import annotations

from dataclasses import dataclass

NS = 1_000_000_000


@dataclass
class WatchdogVerdict:
    block_orders: bool
    cancel_now: bool
    reason: str


class Watchdog:
    def __init__(self, now_ns: int, risk_silence_s: float, cancel_after_s: float) -> None:
        self.risk_silence_ns = int(risk_silence_s * NS)
        self.cancel_after_ns = int(cancel_after_s * NS)
        self.last_seen = {"risk_manager": now_ns, "market_data": now_ns}
        self._cancelled_this_episode = False
        self.blocking = False

    def heard(self, service: str, now_ns: int) -> None:
        if service in self.last_seen:
            self.last_seen[service] = now_ns

    def check(self, now_ns: int) -> WatchdogVerdict:
        risk_age = now_ns - self.last_seen["risk_manager"]
        md_age = now_ns - self.last_seen["market_data"]
        self.blocking = risk_age > self.risk_silence_ns
        both_silent = risk_age > self.cancel_after_ns and md_age > self.cancel_after_ns
        cancel = both_silent and not self._cancelled_this_episode
        if cancel:
            self._cancelled_this_episode = True
        if not both_silent:
            self._cancelled_this_episode = False
        reason = ""
        if self.blocking:
            reason = f"risk manager silent for {risk_age / NS:.1f}s"
        if both_silent:
            reason += f"; market data silent for {md_age / NS:.1f}s"
        return WatchdogVerdict(self.blocking, cancel, reason)
