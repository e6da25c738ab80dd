"""The sim broker's state and its one loop step: market generator → matching core →
durable store → trade_updates and market data fan-out. Everything runs on one asyncio
loop thread, so no locks; the HTTP and websocket layers call these methods."""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import msgspec

from pyrt.domain.clock import Clock, WallClock
from pyrt.domain.market import Bar, Quote, Trade
from pyrt.simbroker.alpaca_json import trade_update_json
from pyrt.simbroker.calendar import AlwaysOpen, NyseSession, SessionCalendar
from pyrt.simbroker.faults import Faults
from pyrt.simbroker.ratelimit import KeyRateLimiter
from pyrt.simbroker.store import SimStore
from pyrt.venues.simulated.matching import MatchingEngine, SimConfig
from pyrt.venues.simulated.models import TradeUpdate

log = logging.getLogger("pyrt.simbroker")

DEFAULT_KEY_ID = "PYRT-SIM-KEY"
DEFAULT_SECRET = "pyrt-sim-secret"


@dataclass
class SimBrokerOptions:
    """Everything `pyrt sim-broker` can be told."""

    host: str = "127.0.0.1"
    port: int = 8787
    data_dir: Path = Path("data/sim_broker")
    seed: int = 42
    symbols: tuple[str, ...] = ("AAPL", "MSFT", "GOOGL")
    reset: bool = False
    keys: dict[str, str] = field(default_factory=lambda: {DEFAULT_KEY_ID: DEFAULT_SECRET})
    allow_shorting: bool = False
    latency_ms: float = 0.0
    slippage_bps: Decimal = Decimal(0)
    fee_per_share: Decimal = Decimal(0)
    initial_cash: Decimal = Decimal(100_000)
    quotes_per_second: float = 20.0  # per symbol
    tick_ms: float = 10.0
    session_calendar: bool = False  # False: the synthetic market is open around the clock
    rate_limit_per_minute: int = 200
    drift_annual: float = 0.0
    vol_annual: float = 0.25
    replay_paths: tuple[Path, ...] = ()
    replay_speed: float = 60.0
    history_paths: tuple[Path, ...] = ()
    max_queue_frames: int = 2000


class MarketSource(Protocol):
    def step(self, now_ns: int, n_per_symbol: int) -> list[Quote | Trade | Bar]: ...

    def bars(self, symbol: str, timeframe: str, start_ns: int, end_ns: int, limit: int) -> list[Bar]: ...


class Subscriber(Protocol):
    key: str

    def enqueue(self, frame: bytes) -> bool: ...

    def close(self, code: int = 1000) -> None: ...


class DataSubscriber(Subscriber, Protocol):
    quotes: set[str]
    trades: set[str]
    bars: set[str]


_pack_q = struct.Struct(">Q").pack
_pack_iq = struct.Struct(">IQ").pack


def _ts(ns: int) -> msgspec.msgpack.Ext:
    """A msgpack timestamp (ext type -1) packed directly: the 64-bit form (30-bit
    nanoseconds, 34-bit seconds), which clients decode as msgpack.Timestamp. Much cheaper
    than msgpack.Timestamp.from_unix_nano, which is pure Python."""
    sec, nsec = divmod(ns, 1_000_000_000)
    if sec >> 34:
        return msgspec.msgpack.Ext(-1, _pack_iq(nsec, sec))
    return msgspec.msgpack.Ext(-1, _pack_q((nsec << 34) | sec))


def quote_msg(q: Quote) -> dict[str, Any]:
    return {"T": "q", "S": q.symbol, "bx": "V", "bp": q.bid_price, "bs": q.bid_size, "ax": "V",
            "ap": q.ask_price, "as": q.ask_size, "c": ["R"], "z": "C", "t": _ts(q.ts_ns)}


def trade_msg(t: Trade) -> dict[str, Any]:
    return {"T": "t", "S": t.symbol, "i": t.trade_id, "x": "V", "p": t.price, "s": t.size,
            "c": ["@"], "z": "C", "t": _ts(t.ts_ns)}


def bar_msg(b: Bar) -> dict[str, Any]:
    return {"T": "b", "S": b.symbol, "o": b.open, "h": b.high, "l": b.low, "c": b.close,
            "v": b.volume, "n": b.trade_count, "vw": b.vwap, "t": _ts(b.ts_ns)}


class SimBroker:
    def __init__(self, opts: SimBrokerOptions, market: MarketSource, clock: Clock | None = None) -> None:
        self.opts = opts
        self.clock = clock or WallClock()
        self.market = market
        self.engine = MatchingEngine(
            SimConfig(
                symbols=opts.symbols,
                allow_shorting=opts.allow_shorting,
                latency_ms=opts.latency_ms,
                slippage_bps=opts.slippage_bps,
                fee_per_share=opts.fee_per_share,
                initial_cash=opts.initial_cash,
            ),
            seed=opts.seed,
        )
        self.store = SimStore(opts.data_dir, reset=opts.reset)
        loaded = self.store.load_into(self.engine)
        created = self.store.get_meta("account_created_ns")
        if created is None:
            created = str(self.clock.now_ns())
            self.store.set_meta("account_created_ns", created)
        self.account_created_ns = int(created)
        self.faults = Faults(seed=opts.seed)
        self.ratelimiter = KeyRateLimiter(opts.rate_limit_per_minute)
        self.calendar: SessionCalendar = NyseSession() if opts.session_calendar else AlwaysOpen()
        self.force_open: bool | None = None
        self.paused = False
        self.trade_subs: set[Subscriber] = set()
        self.data_subs: dict[str, DataSubscriber] = {}
        self._encoder = msgspec.json.Encoder()
        self._msgpack = msgspec.msgpack.Encoder()
        self._held_event: bytes | None = None  # reorder fault
        self._stalled_trade_frames: list[bytes] = []
        self.trade_stall_until_ns = 0
        self.data_stall_until_ns = 0
        self._quote_credit = 0.0
        self.stats = {"quotes_generated": 0, "data_msgs_sent": 0, "trade_updates_sent": 0, "orders_loaded": loaded}
        self.engine.market_open = self.is_open(self.clock.now_ns())
        log.info("sim broker state loaded: %d orders, %d positions", loaded, len(self.engine.account.positions))

    # ---------------------------------------------------------------- auth
    def check_key(self, key_id: str | None, secret: str | None) -> bool:
        return key_id is not None and secret is not None and self.opts.keys.get(key_id) == secret

    # ---------------------------------------------------------------- session
    def is_open(self, now_ns: int) -> bool:
        if self.force_open is not None:
            return self.force_open
        return self.calendar.is_open(now_ns)

    # ---------------------------------------------------------------- trade updates
    def commit(self, updates: list[TradeUpdate]) -> None:
        """Persist the engine's changes, then publish the events that reveal them."""
        self.store.save(self.engine.take_changes())
        for u in updates:
            self._publish_trade_update(self._encoder.encode(trade_update_json(u)))

    def _publish_trade_update(self, frame: bytes) -> None:
        copies = self.faults.trade_event_copies()
        if copies == 0:
            return
        if self._held_event is None and self.faults.reorder_next():
            self._held_event = frame
            return
        frames = [frame] * copies
        if self._held_event is not None:
            frames.append(self._held_event)
            self._held_event = None
        if self.clock.now_ns() < self.trade_stall_until_ns:
            self._stalled_trade_frames.extend(frames)
            return
        self._send_trade_frames(frames)

    def _send_trade_frames(self, frames: list[bytes]) -> None:
        for sub in list(self.trade_subs):
            for frame in frames:
                if not sub.enqueue(frame):
                    break
        self.stats["trade_updates_sent"] += len(frames)

    def stall_trade_stream(self, seconds: float) -> None:
        self.trade_stall_until_ns = self.clock.now_ns() + int(seconds * 1e9)

    def stall_data_stream(self, seconds: float) -> None:
        self.data_stall_until_ns = self.clock.now_ns() + int(seconds * 1e9)

    # ---------------------------------------------------------------- the loop step
    def tick(self, now_ns: int, dt_s: float) -> None:
        """One step of the market loop."""
        updates: list[TradeUpdate] = []
        is_open = self.is_open(now_ns)
        if is_open != self.engine.market_open:
            updates.extend(self.engine.change_session(is_open, now_ns))
        events: list[Quote | Trade | Bar] = []
        if not self.paused:
            self._quote_credit += self.opts.quotes_per_second * dt_s
            n = int(self._quote_credit)
            if n > 0:
                self._quote_credit -= n
                events = self.market.step(now_ns, n)
        on_quote = self.engine.on_quote
        for ev in events:
            if type(ev) is Quote and (u := on_quote(ev, now_ns)):
                updates.extend(u)
        if self.opts.latency_ms:
            updates.extend(self.engine.advance(now_ns))
        if updates or self.engine.has_changes():
            self.commit(updates)
        if self._stalled_trade_frames and now_ns >= self.trade_stall_until_ns:
            frames, self._stalled_trade_frames = self._stalled_trade_frames, []
            self._send_trade_frames(frames)
        if events:
            self.stats["quotes_generated"] += len(events)
            self.fan_out_market_data(events, now_ns)

    def prime(self) -> None:
        """Draw one quote per symbol before serving, so orders never meet an empty book."""
        now = self.clock.now_ns()
        for ev in self.market.step(now, 1):
            if type(ev) is Quote:
                self.engine.on_quote(ev, now)
        self.commit([])

    def inject_quote(self, quote: Quote) -> None:
        """An operator- or test-supplied quote: matched and streamed like a generated one."""
        now = self.clock.now_ns()
        self.commit(self.engine.on_quote(quote, now))
        self.fan_out_market_data([quote], now)

    def fan_out_market_data(self, events: list[Quote | Trade | Bar], now_ns: int) -> None:
        if not self.data_subs or now_ns < self.data_stall_until_ns:
            return
        msgs: list[tuple[str, str, dict[str, Any]]] = []
        for ev in events:
            t = type(ev)
            if t is Quote:
                msgs.append(("q", ev.symbol, quote_msg(ev)))  # type: ignore[arg-type]
            elif t is Trade:
                msgs.append(("t", ev.symbol, trade_msg(ev)))  # type: ignore[arg-type]
            else:
                msgs.append(("b", ev.symbol, bar_msg(ev)))  # type: ignore[arg-type]
        for sub in list(self.data_subs.values()):
            chosen = []
            for kind, sym, msg in msgs:
                wanted = sub.quotes if kind == "q" else sub.trades if kind == "t" else sub.bars
                if sym in wanted or "*" in wanted:
                    chosen.append(msg)
            for start in range(0, len(chosen), 1000):
                chunk = chosen[start : start + 1000]
                if not sub.enqueue(self._msgpack.encode(chunk)):
                    break
                self.stats["data_msgs_sent"] += len(chunk)

    def close(self) -> None:
        self.store.close()
