"""The synthetic market: seeded random-walk quotes and trades, 1-minute bars, history.

Everything here is pure: time is passed in, nothing reads the wall clock, and the same
seed with the same sequence of call times gives identical output. Each symbol draws from
its own random stream, derived from the seed and the symbol's name, so adding a symbol
never changes the data of the others.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time

import numpy as np

from pyrt.domain.calendar import NEW_YORK, NyseSession
from pyrt.domain.market import Bar, Quote, Trade

NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S
TRADING_YEAR_S = 252 * 6.5 * 3600  # the live walk counts every second as a trading second
CALENDAR_YEAR_MIN = 365.25 * 24 * 60  # history spreads the annual vol over calendar time
LOT = 100


def symbol_key(symbol: str) -> int:
    """A stable 64-bit key for a symbol name (Python's own hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(symbol.encode(), digest_size=8).digest(), "little")


def default_start_price(symbol: str) -> float:
    """A deterministic start price between 20.00 and 499.99 USD for any symbol."""
    return 20.0 + (symbol_key(symbol) % 48_000) / 100.0


def bid_ask_around(mid: float, spread_bps: float) -> tuple[float, float]:
    """Bid and ask in cents straddling `mid` by `spread_bps`, at least one cent apart."""
    half = mid * spread_bps * 1e-4 / 2
    bid = max(round(mid - half, 2), 0.01)
    return bid, max(round(mid + half, 2), round(bid + 0.01, 2))


@dataclass(frozen=True)
class QuoteColumns:
    """A batch of quotes as numpy columns: row i of each (symbols, n) matrix is symbols[i],
    and every symbol shares the timestamps in `ts_ns` (shape (n,))."""

    symbols: tuple[str, ...]
    ts_ns: np.ndarray
    bid_price: np.ndarray
    bid_size: np.ndarray
    ask_price: np.ndarray
    ask_size: np.ndarray

    def to_quotes(self) -> list[Quote]:
        """Quote records in time order (within one timestamp, in symbol order)."""
        n_sym = len(self.symbols)
        symbols = list(self.symbols) * len(self.ts_ns)
        ts = np.repeat(self.ts_ns, n_sym).tolist()
        matrices = (self.bid_price, self.bid_size, self.ask_price, self.ask_size)
        cols = [m.T.ravel().tolist() for m in matrices]
        return list(map(Quote, symbols, *cols, ts))


class SyntheticMarket:
    """A per-symbol geometric random walk with a quoted spread and occasional trades.

    `vol_annual` and `drift_annual` are per trading year (252 days of 6.5 h), and every
    simulated second counts as trading time. Quotes straddle the mid with `spread_bps`
    (rounded to cents, at least one cent wide); sizes are 100-2000 shares in round lots.
    When no earlier call set the time, the first call takes the previous time to be
    `tick_interval_ns` before `now_ns`; the server may also use it as its step period.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        seed: int = 0,
        start_price: dict[str, float] | None = None,
        drift_annual: float = 0.0,
        vol_annual: float = 0.25,
        spread_bps: float = 2.0,
        tick_interval_ns: int = 100_000_000,
        trade_probability: float = 0.3,
    ) -> None:
        if seed < 0:
            raise ValueError("seed must be >= 0")
        if vol_annual < 0 or spread_bps <= 0 or tick_interval_ns <= 0:
            raise ValueError("need vol_annual >= 0, spread_bps > 0 and tick_interval_ns > 0")
        if not 0.0 <= trade_probability <= 1.0:
            raise ValueError("trade_probability must be within [0, 1]")
        self.seed = seed
        self.drift_annual = drift_annual
        self.vol_annual = vol_annual
        self.spread_bps = spread_bps
        self.tick_interval_ns = tick_interval_ns
        self.trade_probability = trade_probability
        self._start_prices = dict(start_price or {})
        self._symbols: list[str] = []
        self._rngs: dict[str, np.random.Generator] = {}
        self._mids: dict[str, float] = {}
        self._trade_ids: dict[str, int] = {}
        self._last_ns: int | None = None
        for symbol in symbols:
            self.add_symbol(symbol)
        if not self._symbols:
            raise ValueError("at least one symbol is needed")

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols in generation order."""
        return tuple(self._symbols)

    def add_symbol(self, symbol: str, start_price: float | None = None) -> None:
        """Start generating `symbol` too; its stream does not depend on the other symbols."""
        if symbol in self._rngs:
            raise ValueError(f"symbol {symbol!r} already present")
        price = start_price or self._start_prices.get(symbol) or default_start_price(symbol)
        if price <= 0:
            raise ValueError(f"start price of {symbol} must be positive")
        self._start_prices[symbol] = price
        self._symbols.append(symbol)
        self._rngs[symbol] = np.random.default_rng([self.seed, symbol_key(symbol)])
        self._mids[symbol] = float(price)
        self._trade_ids[symbol] = 0

    def mid(self, symbol: str) -> float:
        """The current (unrounded) mid price of `symbol`."""
        return self._mids[symbol]

    def step(self, now_ns: int) -> list[Quote | Trade]:
        """Move every symbol to `now_ns`: a new quote each, and sometimes a trade."""
        dt_years = self._advance(now_ns) / NS_PER_S / TRADING_YEAR_S
        drift = (self.drift_annual - 0.5 * self.vol_annual**2) * dt_years
        sigma = self.vol_annual * math.sqrt(dt_years)
        events: list[Quote | Trade] = []
        for symbol in self._symbols:
            rng = self._rngs[symbol]
            z = rng.standard_normal()
            u = rng.random(5).tolist()
            mid = self._mids[symbol] * math.exp(drift + sigma * z)
            self._mids[symbol] = mid
            bid, ask = bid_ask_around(mid, self.spread_bps)
            bid_size = float(LOT * (1 + int(u[0] * 20)))
            ask_size = float(LOT * (1 + int(u[1] * 20)))
            events.append(Quote(symbol, bid, bid_size, ask, ask_size, now_ns))
            if u[2] < self.trade_probability:
                price = min(max(round(bid + u[3] * (ask - bid), 2), bid), ask)
                size = 1 + int(u[4] * 5 * LOT) if u[4] < 0.2 else LOT * (1 + int(u[4] * 10))
                self._trade_ids[symbol] += 1
                events.append(Trade(symbol, price, float(size), now_ns, self._trade_ids[symbol]))
        return events

    def quotes_batch_columns(self, now_ns: int, n_per_symbol: int) -> QuoteColumns:
        """`n_per_symbol` quotes per symbol, evenly spaced after the previous call up to
        `now_ns` (the last at `now_ns`), computed with numpy for high-rate streaming."""
        if n_per_symbol <= 0:
            raise ValueError("n_per_symbol must be positive")
        elapsed_ns = self._advance(now_ns)
        k = np.arange(1, n_per_symbol + 1, dtype=np.int64)
        step_ns, rest_ns = divmod(elapsed_ns, n_per_symbol)  # k * elapsed_ns could overflow int64
        ts = now_ns - elapsed_ns + k * step_ns + (k * rest_ns) // n_per_symbol
        dt_years = elapsed_ns / n_per_symbol / NS_PER_S / TRADING_YEAR_S
        drift = (self.drift_annual - 0.5 * self.vol_annual**2) * dt_years
        sigma = self.vol_annual * math.sqrt(dt_years)
        shape = (len(self._symbols), n_per_symbol)
        mids, sizes = np.empty(shape), np.empty((shape[0], 2 * n_per_symbol))
        for i, symbol in enumerate(self._symbols):
            rng = self._rngs[symbol]
            path = np.cumsum(drift + sigma * rng.standard_normal(n_per_symbol))
            mids[i] = self._mids[symbol] * np.exp(path)
            sizes[i] = rng.integers(1, 21, size=2 * n_per_symbol)
            self._mids[symbol] = float(mids[i, -1])
        half = mids * (self.spread_bps * 1e-4 / 2)
        bid = np.maximum(np.round(mids - half, 2), 0.01)
        ask = np.maximum(np.round(mids + half, 2), np.round(bid + 0.01, 2))
        sizes *= LOT
        bid_size, ask_size = sizes[:, :n_per_symbol], sizes[:, n_per_symbol:]
        return QuoteColumns(self.symbols, ts, bid, bid_size, ask, ask_size)

    def quotes_batch(self, now_ns: int, n_per_symbol: int) -> list[Quote]:
        """Like `quotes_batch_columns`, as Quote records in time order."""
        return self.quotes_batch_columns(now_ns, n_per_symbol).to_quotes()

    def history_bars(
        self, symbol: str, timeframe: str, start_ns: int, end_ns: int, limit: int | None = 1000
    ) -> list[Bar]:
        """Deterministic historical bars for any symbol, for the historical-bars endpoint.

        See `history_bars` at module level; this one uses the market's seed, volatility
        and the symbol's start price (or its default start price for unknown symbols).
        """
        price = self._start_prices.get(symbol) or default_start_price(symbol)
        return history_bars(symbol, timeframe, start_ns, end_ns, limit, self.seed, price, self.vol_annual)

    def _advance(self, now_ns: int) -> int:
        last = now_ns - self.tick_interval_ns if self._last_ns is None else self._last_ns
        if now_ns < last:
            raise ValueError(f"time went backwards: {now_ns} < {last}")
        self._last_ns = now_ns
        return now_ns - last


class _BarAccumulator:
    """The open bar of one symbol: trade OHLCV and, as a fallback, quote-mid OHLC."""

    __slots__ = ("count", "m_ohlc", "mid_sum", "mids", "notional", "start_ns", "t_ohlc", "volume")

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        self.t_ohlc: list[float] | None = None
        self.volume = self.notional = 0.0
        self.count = 0
        self.m_ohlc: list[float] | None = None
        self.mid_sum = 0.0
        self.mids = 0

    def add_trade(self, price: float, size: float) -> None:
        self.t_ohlc = _update_ohlc(self.t_ohlc, price)
        self.volume += size
        self.notional += price * size
        self.count += 1

    def add_mid(self, mid: float) -> None:
        self.m_ohlc = _update_ohlc(self.m_ohlc, mid)
        self.mid_sum += mid
        self.mids += 1

    def to_bar(self, symbol: str) -> Bar:
        if self.t_ohlc is not None:
            o, h, lo, c = self.t_ohlc
            vwap = self.notional / self.volume if self.volume else c
            return Bar(symbol, o, h, lo, c, self.volume, self.start_ns, self.count, vwap)
        assert self.m_ohlc is not None
        o, h, lo, c = self.m_ohlc
        return Bar(symbol, o, h, lo, c, 0.0, self.start_ns, 0, self.mid_sum / self.mids)


def _update_ohlc(ohlc: list[float] | None, price: float) -> list[float]:
    if ohlc is None:
        return [price, price, price, price]
    ohlc[1] = max(ohlc[1], price)
    ohlc[2] = min(ohlc[2], price)
    ohlc[3] = price
    return ohlc


class BarBuilder:
    """Aggregates trades into bars aligned to `interval_ns` boundaries (1 minute).

    A bar with no trades is built from quote mids instead (volume 0, vwap = mean mid).
    A bar is emitted when data of a later interval arrives for its symbol, or when
    `flush_until(now_ns)` passes the bar's end. Data for an interval already emitted is
    dropped and counted in `late_events`. The last `keep` emitted bars of each symbol are
    kept for `emitted` (the historical-bars endpoint serves what the stream sent).
    """

    def __init__(self, interval_ns: int = NS_PER_MIN, keep: int = 0) -> None:
        self.interval_ns = interval_ns
        self.keep = keep
        self._emitted: dict[str, deque[Bar]] = {}
        self.late_events = 0
        self._open: dict[str, _BarAccumulator] = {}
        self._closed_until: dict[str, int] = {}
        self._flushed_until = -(2**63)

    def on_event(self, event: Quote | Trade | Bar) -> list[Bar]:
        """Feed a quote or trade (bars pass through untouched); returns completed bars."""
        if isinstance(event, Trade):
            return self.on_trade(event)
        if isinstance(event, Quote):
            return self.on_quote(event)
        return []

    def on_trade(self, trade: Trade) -> list[Bar]:
        """Add a trade; returns the symbol's previous bar if this trade starts a new one."""
        acc, done = self._bar_for(trade.symbol, trade.ts_ns)
        if acc is not None:
            acc.add_trade(trade.price, trade.size)
        return done

    def on_quote(self, quote: Quote) -> list[Bar]:
        """Add a quote's mid; returns the symbol's previous bar if this quote starts a new one."""
        acc, done = self._bar_for(quote.symbol, quote.ts_ns)
        if acc is not None:
            acc.add_mid(quote.mid)
        return done

    def flush_until(self, now_ns: int) -> list[Bar]:
        """Close every bar that ends at or before `now_ns`, in (time, symbol) order."""
        self._flushed_until = max(self._flushed_until, now_ns)
        done = [
            self._close(symbol)
            for symbol, acc in sorted(self._open.items(), key=lambda kv: (kv[1].start_ns, kv[0]))
            if acc.start_ns + self.interval_ns <= now_ns
        ]
        return done

    def _bar_for(self, symbol: str, ts_ns: int) -> tuple[_BarAccumulator | None, list[Bar]]:
        start = ts_ns - ts_ns % self.interval_ns
        acc = self._open.get(symbol)
        flushed = start + self.interval_ns <= self._flushed_until
        late = flushed or start < self._closed_until.get(symbol, start)
        if late or (acc is not None and start < acc.start_ns):
            self.late_events += 1
            return None, []
        done = [self._close(symbol)] if acc is not None and start > acc.start_ns else []
        if acc is None or done:
            acc = self._open[symbol] = _BarAccumulator(start)
        return acc, done

    def _close(self, symbol: str) -> Bar:
        acc = self._open.pop(symbol)
        self._closed_until[symbol] = acc.start_ns + self.interval_ns
        bar = acc.to_bar(symbol)
        if self.keep:
            kept = self._emitted.get(symbol)
            if kept is None:
                kept = self._emitted[symbol] = deque(maxlen=self.keep)
            kept.append(bar)
        return bar

    def emitted(self, symbol: str) -> list[Bar]:
        """The kept bars this builder emitted for `symbol`, oldest first."""
        return list(self._emitted.get(symbol, ()))


# --- deterministic history -------------------------------------------------------------
#
# The log price at minute m is a sum of 20 layers of "value noise": layer s puts a
# standard normal on every 2**s-th minute (a pure hash of seed, symbol, layer and minute
# index) and interpolates linearly in between. With amplitudes growing like sqrt(2**s)
# this behaves like a random walk over horizons up to about a year, yet any bar can be
# computed on its own, and the price stays within a band around the start price.

_MASK64 = (1 << 64) - 1
_LAYERS = 20
_WICK_STREAM, _VOLUME_STREAM = 100, 102
_NYSE = NyseSession()
_TIMEFRAMES = ("1Min", "1Day")
_BATCH_SESSIONS = 40


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wraps modulo 2**64)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def _hash_normal(base: int, stream: int, index: np.ndarray) -> np.ndarray:
    """A standard normal that is a pure function of (base, stream, index), vectorised."""
    salt = np.uint64((base ^ (stream * 0xD6E8FEB86659FD93)) & _MASK64)
    h1 = _mix64(np.atleast_1d(index).astype(np.uint64) ^ salt)
    h2 = _mix64(h1)
    u1 = ((h1 >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53
    u2 = (h2 >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _log_level(base: int, sigma_min: float, edges: np.ndarray) -> np.ndarray:
    """The log-price offset at sorted, distinct epoch-minute `edges`."""
    level = np.zeros(len(edges))
    for layer in range(_LAYERS):
        span = 1 << layer
        knot, frac = np.divmod(edges, span)
        amplitude = sigma_min * math.sqrt(span / 8.0)
        if span == 1:  # knots on every minute: no interpolation
            level += amplitude * _hash_normal(base, layer, knot)
            continue
        starts = np.r_[True, knot[1:] != knot[:-1]]  # edges are sorted, so knots are too
        distinct, at = knot[starts], np.cumsum(starts) - 1
        n0 = _hash_normal(base, layer, distinct)[at]
        n1 = _hash_normal(base, layer, distinct + 1)[at]
        level += amplitude * (n0 + (n1 - n0) * (frac / span))
    return level


def _minute_bars(base: int, p0: float, vol_annual: float, minutes: np.ndarray) -> dict[str, np.ndarray]:
    """OHLCV columns of the 1-minute bars starting at the given sorted epoch-minute indices."""
    sigma_min = vol_annual / math.sqrt(CALENDAR_YEAR_MIN)
    run_ends = np.r_[minutes[1:] != minutes[:-1] + 1, True]
    edges = np.sort(np.concatenate([minutes, minutes[run_ends] + 1]))
    at = np.searchsorted(edges, minutes)
    prices = np.round(p0 * np.exp(_log_level(base, sigma_min, edges)), 2)
    o, c = prices[at], prices[at + 1]
    wick_h = np.abs(_hash_normal(base, _WICK_STREAM, minutes)) * sigma_min * 0.6
    wick_l = np.abs(_hash_normal(base, _WICK_STREAM + 1, minutes)) * sigma_min * 0.6
    high = np.maximum(np.round(np.maximum(o, c) * np.exp(wick_h), 2), np.maximum(o, c))
    low = np.minimum(np.round(np.minimum(o, c) * np.exp(-wick_l), 2), np.minimum(o, c))
    volume_noise = _hash_normal(base, _VOLUME_STREAM, minutes)
    volume = np.maximum(np.round(20_000 * np.exp(0.5 * volume_noise)), LOT)
    vwap = np.round((high + low + c) / 3.0, 4)
    return {"open": o, "high": high, "low": low, "close": c, "volume": volume, "vwap": vwap}


def _session_batches(start_ns: int, end_ns: int) -> Iterable[list[tuple[int, int]]]:
    """NYSE sessions (open_ns, close_ns) touching [start_ns, end_ns], a few weeks at a time."""
    batch: list[tuple[int, int]] = []
    for session in _NYSE.sessions_between(start_ns, end_ns):
        batch.append(session)
        if len(batch) == _BATCH_SESSIONS:
            yield batch
            batch = []
    if batch:
        yield batch


def history_bars(
    symbol: str,
    timeframe: str,
    start_ns: int,
    end_ns: int,
    limit: int | None = 1000,
    seed: int = 0,
    start_price: float | None = None,
    vol_annual: float = 0.25,
) -> list[Bar]:
    """Deterministic synthetic bars with start times in [start_ns, end_ns], oldest first,
    at most `limit` of them (None: no limit).

    Bars follow NYSE regular sessions: "1Min" bars cover 09:30-16:00 New York time, and a
    "1Day" bar (stamped at New York midnight, as Alpaca does) aggregates that session's
    minute bars exactly. A bar depends only on (seed, symbol, its time), never on the
    range asked for. `vol_annual` is spread over calendar time here, so realised vol of
    the bars comes out somewhat lower (about 0.7x per trading day).
    """
    if timeframe not in _TIMEFRAMES:
        raise ValueError(f"unsupported timeframe {timeframe!r}; expected one of {_TIMEFRAMES}")
    p0 = start_price or default_start_price(symbol)
    base = (symbol_key(symbol) * 0x9E3779B97F4A7C15 + seed * 0xC2B2AE3D27D4EB4F) & _MASK64
    out: list[Bar] = []
    for sessions in _session_batches(start_ns, end_ns):
        room = None if limit is None else limit - len(out)
        if room is not None and room <= 0:
            break
        per_day = [np.arange(o // NS_PER_MIN, c // NS_PER_MIN, dtype=np.int64) for o, c in sessions]
        if timeframe == "1Min":
            minutes = np.concatenate(per_day)
            ts = minutes * NS_PER_MIN
            minutes = minutes[(ts >= start_ns) & (ts <= end_ns)][:room]
            if len(minutes):
                cols = _minute_bars(base, p0, vol_annual, minutes)
                out.extend(_minute_records(symbol, minutes, cols))
            continue
        days = [(o, _ny_midnight_ns(o)) for o, _ in sessions]
        wanted = [i for i, (_, d) in enumerate(days) if start_ns <= d <= end_ns][:room]
        if wanted:
            minutes = np.concatenate([per_day[i] for i in wanted])
            cols = _minute_bars(base, p0, vol_annual, minutes)
            bounds = np.cumsum([0] + [len(per_day[i]) for i in wanted])
            for j, i in enumerate(wanted):
                part = {k: v[bounds[j] : bounds[j + 1]] for k, v in cols.items()}
                out.append(_day_bar(symbol, days[i][1], part))
    return out


def _ny_midnight_ns(ts_ns: int) -> int:
    day = datetime.fromtimestamp(ts_ns // NS_PER_S, tz=NEW_YORK).date()
    return int(datetime.combine(day, time(0), tzinfo=NEW_YORK).timestamp()) * NS_PER_S


def _minute_records(symbol: str, minutes: np.ndarray, cols: dict[str, np.ndarray]) -> list[Bar]:
    names = ("open", "high", "low", "close", "volume", "vwap")
    rows = zip(minutes.tolist(), *(cols[k].tolist() for k in names), strict=True)
    return [Bar(symbol, o, h, lo, c, v, m * NS_PER_MIN, int(v) // 150 + 1, vw) for m, o, h, lo, c, v, vw in rows]


def _day_bar(symbol: str, day_ns: int, cols: dict[str, np.ndarray]) -> Bar:
    volume = float(cols["volume"].sum())
    vwap = round(float((cols["vwap"] * cols["volume"]).sum()) / volume, 4)
    trades = int((cols["volume"].astype(np.int64) // 150 + 1).sum())
    return Bar(
        symbol,
        float(cols["open"][0]),
        float(cols["high"].max()),
        float(cols["low"].min()),
        float(cols["close"][-1]),
        volume,
        day_ns,
        trades,
        vwap,
    )
