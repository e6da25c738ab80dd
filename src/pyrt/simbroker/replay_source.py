"""The sim broker's market source when replaying historical files at a speed factor."""

from __future__ import annotations

from pathlib import Path

from pyrt.domain.market import Bar, Quote, Trade
from pyrt.simbroker.replay import ReplayMarket

MAX_EVENTS_PER_TICK = 5000


class ReplaySource:
    """Quotes and bars of historical files, paced by wall time since the first step.
    With speed 0 it plays as fast as the loop takes them (MAX_EVENTS_PER_TICK per step)."""

    def __init__(self, paths: tuple[Path, ...], speed: float) -> None:
        self.replay = ReplayMarket(list(paths), speed=speed)
        self._start_ns: int | None = None

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.replay.symbols

    @property
    def finished(self) -> bool:
        return self.replay.next_due_ns() is None

    def step(self, now_ns: int, n_per_symbol: int) -> list[Quote | Trade | Bar]:
        if self._start_ns is None:
            self._start_ns = now_ns
        return list(self.replay.events_until(now_ns - self._start_ns, max_events=MAX_EVENTS_PER_TICK))

    def bars(self, symbol: str, timeframe: str, start_ns: int, end_ns: int, limit: int) -> list[Bar]:
        return self.replay.bars(symbol, start_ns, end_ns, limit)
