"""Market sources the sim broker loop draws from: the seeded synthetic market (default) or
a replay of historical files. Both also answer the historical-bars endpoint."""

from __future__ import annotations

from pathlib import Path

from pyrt.domain.market import Bar, Quote, Trade
from pyrt.simbroker.market import BarBuilder, SyntheticMarket

LIVE_BARS_KEPT = 20_000  # minute bars per symbol the stream sent, served as history (about 50 sessions)


class SyntheticSource:
    """Quotes (and, at low rates, trades) from SyntheticMarket; 1-minute bars built from
    them. History comes from files when given, else from the synthetic generator; minute
    bars of the time this broker has been streaming are the bars it streamed, so a client
    filling a gap after a reconnect gets the same bars a connected one saw."""

    def __init__(self, market: SyntheticMarket, history_paths: tuple[Path, ...] = ()) -> None:
        self.market = market
        self.bar_builder = BarBuilder(keep=LIVE_BARS_KEPT)
        self._history = None
        if history_paths:
            from pyrt.simbroker.replay import ReplayMarket

            self._history = ReplayMarket(list(history_paths), speed=0)

    def step(self, now_ns: int, n_per_symbol: int) -> list[Quote | Trade | Bar]:
        builder = self.bar_builder
        events: list[Quote | Trade | Bar]
        if n_per_symbol == 1:
            events = list(self.market.step(now_ns))
            for ev in list(events):
                events.extend(builder.on_event(ev))
        else:
            quotes = self.market.quotes_batch(now_ns, n_per_symbol)
            events = list(quotes)
            for q in quotes[-len(self.market.symbols) :]:
                events.extend(builder.on_quote(q))
        events.extend(builder.flush_until(now_ns))
        return events

    def bars(self, symbol: str, timeframe: str, start_ns: int, end_ns: int, limit: int) -> list[Bar]:
        live = self.bar_builder.emitted(symbol) if timeframe == "1Min" else []
        live_from = live[0].ts_ns if live else end_ns + 1
        older: list[Bar] = []
        if start_ns < live_from:
            until = min(end_ns, live_from - 1)
            if self._history is not None:
                older = self._history.bars(symbol, start_ns, until, limit)
            else:
                older = self.market.history_bars(symbol, timeframe, start_ns, until, limit)
        return (older + [b for b in live if start_ns <= b.ts_ns <= end_ns])[:limit]
