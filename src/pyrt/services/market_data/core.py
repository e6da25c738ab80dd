"""The market-data rules, pure and synchronous (no sockets, no wall clock, no files, no
wire format: Alpaca's frames are decoded in ``pyrt.venues.alpaca.feed``, and these rules
see only the bus payloads):

- ``StalenessTracker``: which symbols had no quote for too long, as status transitions.
- ``BarHistory``: the last N bars per symbol, loaded from and encoded for the cache files
  (their format: ``pyrt.bus.bar_cache``).
- ``gaps_to_fill`` / ``bars_to_fill``: after a (re)connect, which symbols can have missed
  a bar and which fetched bars to publish.
- ``should_log``: throttle for repetitive warnings.

Times are UTC nanoseconds passed in by the caller.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from pyrt.bus.bar_cache import decode_bars, encode_bars
from pyrt.bus.schema import BarMsg, SymbolStatus
from pyrt.domain.market import MINUTE_BAR_NS

NO_QUOTE_YET = "no quote yet"


# --------------------------------------------------------------------------- gap planning


def gaps_to_fill(newest: Mapping[str, int], now_ns: int) -> dict[str, int]:
    """The symbols (with their newest kept bar's time) that can have missed a bar: the next
    bar after one starting at t ends at t + 2 min, so before then nothing can be missing and
    a short reconnect costs no request (the data API has a rate limit too)."""
    return {s: t for s, t in newest.items() if now_ns >= t + 2 * MINUTE_BAR_NS}


def bars_to_fill(newest_ns: int, fetched: Iterable[BarMsg]) -> list[BarMsg]:
    """The fetched bars strictly newer than the newest one already seen, oldest first, one
    per time: a gap fill never repeats or reorders what subscribers already got."""
    by_time = {b.ts_ns: b for b in fetched if b.ts_ns > newest_ns}
    return [by_time[t] for t in sorted(by_time)]


def should_log(count: int, first: int = 5, every: int = 1000) -> bool:
    """Throttle: True for the first ``first`` occurrences, then once per ``every``."""
    return count <= first or count % every == 0


# --------------------------------------------------------------------------- staleness


class StalenessTracker:
    """Per symbol: stale when no quote arrived for ``stale_after_s`` (receipt time). A
    symbol starts stale ("no quote yet") and turns fresh on its first quote. Methods return
    the ``SymbolStatus`` transitions to publish."""

    def __init__(self, symbols: Iterable[str], stale_after_s: float, now_ns: int) -> None:
        self.stale_after_s = stale_after_s
        self._last: dict[str, int] = {}
        self._stale: dict[str, str] = {}  # symbol -> reason
        self.set_symbols(symbols, now_ns)

    @property
    def symbols(self) -> list[str]:
        return list(self._last)

    def is_stale(self, symbol: str) -> bool:
        return symbol in self._stale

    def seen(self, symbol: str, now_ns: int) -> SymbolStatus | None:
        """A quote of ``symbol`` arrived; returns the fresh transition if it was stale."""
        if symbol in self._last:
            self._last[symbol] = now_ns
            if symbol in self._stale:
                del self._stale[symbol]
                return SymbolStatus(symbol, False, "")
        return None

    def check(self, now_ns: int) -> list[SymbolStatus]:
        """Symbols that just went stale."""
        limit = int(self.stale_after_s * 1e9)
        out = []
        for symbol, last in self._last.items():
            if symbol not in self._stale and now_ns - last >= limit:
                reason = f"no quote for {(now_ns - last) / 1e9:.1f}s"
                self._stale[symbol] = reason
                out.append(SymbolStatus(symbol, True, reason))
        return out

    def mark_all_stale(self, reason: str) -> list[SymbolStatus]:
        """Every fresh symbol turns stale now (e.g. the feed disconnected)."""
        out = []
        for symbol in self._last:
            if symbol not in self._stale:
                self._stale[symbol] = reason
                out.append(SymbolStatus(symbol, True, reason))
        return out

    def set_symbols(self, symbols: Iterable[str], now_ns: int) -> list[SymbolStatus]:
        """Track exactly ``symbols``; new ones start stale. Returns their statuses."""
        wanted = list(dict.fromkeys(symbols))
        for gone in set(self._last) - set(wanted):
            del self._last[gone]
            self._stale.pop(gone, None)
        out = []
        for symbol in wanted:
            if symbol not in self._last:
                self._last[symbol] = now_ns
                self._stale[symbol] = NO_QUOTE_YET
                out.append(SymbolStatus(symbol, True, NO_QUOTE_YET))
        return out

    def statuses(self) -> list[SymbolStatus]:
        """The current status of every symbol."""
        return [SymbolStatus(s, s in self._stale, self._stale.get(s, "")) for s in self._last]


# --------------------------------------------------------------------------- bar history


class BarHistory:
    """The most recent ``bars_to_keep`` bars per symbol, oldest first. A bar with the time
    of the newest one replaces it (an updated bar); an older one is ignored. ``dirty``
    holds the symbols changed since the last ``take_dirty``."""

    def __init__(self, bars_to_keep: int) -> None:
        self.bars_to_keep = bars_to_keep
        self._bars: dict[str, deque[BarMsg]] = {}
        self.dirty: set[str] = set()

    def add(self, bar: BarMsg) -> bool:
        """Keep ``bar``; False if it was older than the newest kept one."""
        bars = self._bars.get(bar.symbol)
        if bars is None:
            bars = self._bars[bar.symbol] = deque(maxlen=self.bars_to_keep)
        if bars and bar.ts_ns <= bars[-1].ts_ns:
            if bar.ts_ns < bars[-1].ts_ns:
                return False
            bars.pop()
        bars.append(bar)
        self.dirty.add(bar.symbol)
        return True

    def bars(self, symbol: str) -> list[BarMsg]:
        return list(self._bars.get(symbol, ()))

    def newest_ns(self, symbol: str) -> int | None:
        """The time of the newest kept bar of ``symbol``, or None."""
        bars = self._bars.get(symbol)
        return bars[-1].ts_ns if bars else None

    def symbols(self) -> list[str]:
        return list(self._bars)

    def resize(self, bars_to_keep: int) -> None:
        """Change how many bars are kept (the newest stay)."""
        if bars_to_keep != self.bars_to_keep:
            self.bars_to_keep = bars_to_keep
            self._bars = {s: deque(b, maxlen=bars_to_keep) for s, b in self._bars.items()}
            self.dirty.update(self._bars)

    def take_dirty(self) -> set[str]:
        """The symbols changed since the last call (and forget them)."""
        dirty, self.dirty = self.dirty, set()
        return dirty

    def encode(self, symbol: str) -> bytes:
        """The cache file content of ``symbol``."""
        return encode_bars(self.bars(symbol))

    def load(self, symbol: str, data: bytes) -> int:
        """Replace ``symbol``'s bars by a cache file's content (only bars of that symbol,
        in time order, the newest ``bars_to_keep``). Returns how many were kept; raises
        MalformedBarCache for content that is not a list of bars."""
        self._bars[symbol] = deque(decode_bars(symbol, data), maxlen=self.bars_to_keep)
        return len(self._bars[symbol])
