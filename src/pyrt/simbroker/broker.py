"""The sim broker's state and its one loop step: market generator → matching core →
durable store → trade_updates and market data fan-out. Everything runs on one asyncio
loop thread, so no locks; the HTTP and websocket layers call these methods."""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from pyrt.config.secrets import DEFAULT_SIM_KEY_ID, DEFAULT_SIM_SECRET
from pyrt.config.system import SimBrokerConfig
from pyrt.domain.calendar import AlwaysOpen, NyseSession, SessionCalendar
from pyrt.domain.clock import Clock, WallClock
from pyrt.domain.market import Bar, Quote, Trade
from pyrt.simbroker.alpaca_json import trade_update_json
from pyrt.simbroker.faults import Faults
from pyrt.simbroker.ratelimit import KeyRateLimiter
from pyrt.simbroker.store import SimStore
from pyrt.venues.simulated.matching import MatchingEngine, SimConfig
from pyrt.venues.simulated.models import TradeUpdate

log = logging.getLogger("pyrt.simbroker")

LOCAL_KEYS = {DEFAULT_SIM_KEY_ID: DEFAULT_SIM_SECRET}
"""The key pair a sim broker accepts when it is given none (the documented local pair)."""


def matching_config(config: SimBrokerConfig, symbols: tuple[str, ...]) -> SimConfig:
    """The matching core's own settings, derived from the sim broker's (the one place)."""
    return SimConfig(
        symbols=symbols,
        allow_shorting=config.allow_shorting,
        latency_ms=config.latency_ms,
        slippage_bps=Decimal(str(config.slippage_bps)),
        fee_per_share=config.fee_per_share,
        initial_cash=config.initial_cash,
    )


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


def quote_fields(q: Quote) -> dict[str, Any]:
    """Alpaca's quote fields, the same on the stream and over REST (callers add the time,
    and the stream its type and symbol)."""
    return {
        "bx": "V",
        "bp": q.bid_price,
        "bs": q.bid_size,
        "ax": "V",
        "ap": q.ask_price,
        "as": q.ask_size,
        "c": ["R"],
        "z": "C",
    }


def quote_msg(q: Quote) -> dict[str, Any]:
    return {"T": "q", "S": q.symbol, **quote_fields(q), "t": _ts(q.ts_ns)}


def trade_msg(t: Trade) -> dict[str, Any]:
    return {
        "T": "t",
        "S": t.symbol,
        "i": t.trade_id,
        "x": "V",
        "p": t.price,
        "s": t.size,
        "c": ["@"],
        "z": "C",
        "t": _ts(t.ts_ns),
    }


def bar_msg(b: Bar) -> dict[str, Any]:
    return {
        "T": "b",
        "S": b.symbol,
        "o": b.open,
        "h": b.high,
        "l": b.low,
        "c": b.close,
        "v": b.volume,
        "n": b.trade_count,
        "vw": b.vwap,
        "t": _ts(b.ts_ns),
    }


class SimBroker:
    """`config` is read only; what an operator may change while it runs (the quote rate) and
    what the market source adds (replayed symbols) are attributes of the broker. `keys`: the
    key pairs it accepts (default: the local pair); `reset`: start from an empty store."""

    def __init__(
        self,
        config: SimBrokerConfig,
        market: MarketSource,
        clock: Clock | None = None,
        *,
        keys: Mapping[str, str] | None = None,
        reset: bool = False,
    ) -> None:
        self.config = config
        self.keys = dict(keys) if keys is not None else dict(LOCAL_KEYS)
        self.symbols = tuple(dict.fromkeys([*config.served_symbols, *getattr(market, "symbols", ())]))
        self.quotes_per_second = config.quotes_per_second
        self.clock = clock or WallClock()
        self.market = market
        self.engine = MatchingEngine(matching_config(config, self.symbols), seed=config.seed)
        self.store = SimStore(config.data_dir, reset=reset)
        loaded = self.store.load_into(self.engine)
        created = self.store.get_meta("account_created_ns")
        if created is None:
            created = str(self.clock.now_ns())
            self.store.set_meta("account_created_ns", created)
        self.account_created_ns = int(created)
        self.faults = Faults(seed=config.seed)
        self.ratelimiter = KeyRateLimiter(config.rate_limit_per_minute or 0)
        self.calendar: SessionCalendar = NyseSession() if config.session_calendar else AlwaysOpen()
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

    # ---------------------------------------------------------------- symbols
    def learn_symbol(self, symbol: str) -> bool:
        """Serve `symbol` from now on if this broker lists it (sim_broker.listed_symbols), as
        a real venue streams any listed symbol asked for: quotes, bars and orders. Returns
        whether it is served."""
        if symbol in self.symbols:
            return True
        if not self.config.lists(symbol):
            return False
        add = getattr(getattr(self.market, "market", self.market), "add_symbol", None)
        if add is None:  # a replay serves what its files hold
            return False
        add(symbol)
        self.engine.add_symbol(symbol)
        self.symbols = (*self.symbols, symbol)
        log.info("sim broker: now serving %s (listed, first subscribed or ordered)", symbol)
        return True

    # ---------------------------------------------------------------- auth
    def check_key(self, key_id: str | None, secret: str | None) -> bool:
        return key_id is not None and secret is not None and self.keys.get(key_id) == secret

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
            self._quote_credit += self.quotes_per_second * dt_s
            n = int(self._quote_credit)
            if n > 0:
                self._quote_credit -= n
                events = self.market.step(now_ns, n)
        on_quote = self.engine.on_quote
        for ev in events:
            if type(ev) is Quote and (u := on_quote(ev, now_ns)):
                updates.extend(u)
        if self.config.latency_ms:
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
