"""The market-data service shell (``pyrt run market-data``): alpaca-py's data stream in,
normalised quotes, trades and bars out on the PUB socket at
``market_data.zmq_publish_address``, plus symbol statuses (stale/fresh), a heartbeat, a bar
cache on disk and the service's metrics.

Threads: the main thread only waits for signals (stop, reload). One worker thread runs an
asyncio loop holding the stream, a periodic task (staleness, heartbeat, statuses, cache
flush) and every publish: zmq sockets are used from that thread alone.

    python -m pyrt.services.market_data.service <config_dir>
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pyrt.bus.bar_cache import MalformedBarCache, cache_file
from pyrt.bus.schema import (
    BarMsg,
    Heartbeat,
    QuoteMsg,
    SymbolStatus,
    TradeMsg,
    frame_hash,
    heartbeat,
    md_bar,
    md_status,
    md_trade,
)
from pyrt.bus.zmq import ZmqPublisher
from pyrt.config import AppConfig
from pyrt.domain.clock import iso_utc
from pyrt.observability.metrics import required
from pyrt.persistence.files import write_atomic
from pyrt.services.market_data.core import (
    BarHistory,
    StalenessTracker,
    bars_to_fill,
    gaps_to_fill,
    should_log,
)
from pyrt.services.market_data.recorder import Recorder
from pyrt.services.runtime import ServiceRuntime
from pyrt.venues.alpaca.data_stream import BackoffPolicy, BatchStockDataStream
from pyrt.venues.alpaca.feed import MalformedFeedMessage, decode_data_frame, normalize, normalize_rest_bar, unpack_frame

SERVICE = "market_data"
IDLE_TIMEOUT_S = 15.0  # no market data for this long: the connection is dead, reconnect
TICK_S = 0.25  # period of the staleness check
HEARTBEAT_INTERVAL_S = 1.0
STATUS_INTERVAL_S = 2.0  # every symbol's status again, for late joiners
CACHE_FLUSH_INTERVAL_S = 5.0
STOP_TIMEOUT_S = 10.0


class ReceiptClock:
    """The publisher's clock: while a received frame is processed, ``now_ns`` is that
    frame's receipt time, so every envelope's ``ts_init`` says when its data arrived (and
    one syscall serves the whole frame); otherwise the wall clock."""

    __slots__ = ("frozen_ns",)

    def __init__(self) -> None:
        self.frozen_ns = 0

    def now_ns(self) -> int:
        return self.frozen_ns or time.time_ns()


class MarketDataService:
    """One running market-data service inside a ServiceRuntime; ``serve()`` blocks until
    ``rt.stop_event`` and returns the exit code. ``idle_timeout_s`` and ``tick_s`` are
    there for tests."""

    def __init__(
        self, rt: ServiceRuntime, idle_timeout_s: float | None = IDLE_TIMEOUT_S, tick_s: float = TICK_S
    ) -> None:
        cfg = rt.cfg
        md = cfg.system.market_data
        self.rt = rt
        self.log = logging.getLogger(f"pyrt.{SERVICE}")
        self.metrics = required(rt.metrics.market_data, "market_data")
        self.common = rt.metrics.common
        self.tick_s = tick_s
        self.clock = ReceiptClock()
        self.publish_address = md.zmq_publish_address
        self.publisher = ZmqPublisher(md.zmq_publish_address, publisher_id=SERVICE, clock=self.clock)
        self.symbols: set[str] = set(md.symbols)
        self.staleness = StalenessTracker(md.symbols, md.stale_after_seconds, time.time_ns())
        self.bars = BarHistory(md.bars_to_keep)
        self.cache_dir = Path(md.cache_dir)
        self.stream = BatchStockDataStream(
            cfg.secrets.api_key_id.get_secret_value(),
            cfg.secrets.api_secret_key.get_secret_value(),
            cfg.venue.data_stream_url,
            self,
            BackoffPolicy.from_config(md.reconnect),
            md.symbols,
            idle_timeout_s,
        )
        self.loop = asyncio.new_event_loop()
        self.connected = False
        self.ready = False
        self.malformed = 0
        self.unexpected_symbol = 0
        self._stopping = asyncio.Event()
        self._clean_exit = False
        self._last_flush = 0.0
        self._received = {k: self.metrics.messages_received.labels(type=k) for k in ("quote", "trade", "bar")}
        self.gap_fill = md.gap_fill
        self._venue, self._secrets = cfg.venue, cfg.secrets
        self._feed = cfg.system.venue.feed
        self._bars_client: Any = None
        self._fill_task: asyncio.Task[None] | None = None
        self.record_config = md.record
        self.recorder = Recorder.from_config(md.record) if md.record.enabled else None
        self._record_failures = 0

    # ------------------------------------------------------------------ main thread
    def serve(self) -> int:
        """Run until ``rt.stop_event``; then stop the stream, flush the cache, close the
        publisher. Returns 0 after a clean stop, 1 if the loop thread failed."""
        thread = threading.Thread(target=self._thread_main, name="market-data-loop", daemon=True)
        thread.start()
        try:
            while not self.rt.stop_event.wait(0.1):
                if not thread.is_alive():
                    self.log.error("market data loop ended unexpectedly")
                    break
                new = self.rt.try_reload()
                if new is not None:
                    asyncio.run_coroutine_threadsafe(self._apply_config(new), self.loop)
        finally:
            if thread.is_alive():
                self.loop.call_soon_threadsafe(self._stopping.set)
            thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            self.log.error("market data loop did not stop within %.0fs", STOP_TIMEOUT_S)
            return 1
        return 0 if self._clean_exit else 1

    # ------------------------------------------------------------------ loop thread
    def _thread_main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
            self._clean_exit = True
        except Exception:
            self.log.exception("market data loop crashed")
        finally:
            self.publisher.close()
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    async def _main(self) -> None:
        self._load_cache(self.symbols)
        self.metrics.set_symbols(self.symbols)  # count and one series per symbol
        self.metrics.websocket_connected.set(0)
        self.log.info("market data publishing on %s symbols=%s", self.publish_address, sorted(self.symbols))
        if self.recorder is not None:
            self.log.info("market data recording to %s (at most %d MB)", self.recorder.root,
                          self.recorder.max_bytes // (1024 * 1024))  # fmt: skip
        stream_task = asyncio.create_task(self.stream.run_until_stopped())
        periodic = asyncio.create_task(self._periodic())
        stop = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({stream_task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if stream_task.done():
                stream_task.result()
                raise RuntimeError("the data stream ended by itself")
            await self.stream.stop_ws()
            await asyncio.wait_for(stream_task, STOP_TIMEOUT_S / 2)
        finally:
            tasks = (periodic, stop, stream_task) + ((self._fill_task,) if self._fill_task else ())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.metrics.websocket_connected.set(0)
            self.publisher.publish(heartbeat(SERVICE), Heartbeat(SERVICE, "stopping", time.time_ns()))
            self._flush_cache(self.bars.take_dirty() | set(self.bars.symbols()))
            if self.recorder is not None:
                self._write_recording(self.recorder.take(time.monotonic()), close=True)
        self.log.info("market data stopped")

    async def _periodic(self) -> None:
        next_heartbeat = next_status = 0.0
        while True:
            try:
                now = time.monotonic()
                for status in self.staleness.check(time.time_ns()):
                    self._publish_status(status)
                if now >= next_heartbeat:
                    self._heartbeat()
                    next_heartbeat = now + HEARTBEAT_INTERVAL_S
                if now >= next_status:
                    for status in self.staleness.statuses():
                        self.publisher.publish(md_status(status.symbol), status)
                    next_status = now + STATUS_INTERVAL_S
                if self.bars.dirty and now - self._last_flush >= CACHE_FLUSH_INTERVAL_S:
                    self._last_flush = now
                    payloads = {s: self.bars.encode(s) for s in self.bars.take_dirty()}
                    await asyncio.get_running_loop().run_in_executor(None, self._write_cache, payloads)
                if self.recorder is not None and self.recorder.due(now):
                    rows = self.recorder.take(now)
                    await asyncio.get_running_loop().run_in_executor(None, self._write_recording, rows)
            except Exception:
                self.common.error("periodic")
                self.log.exception("market data periodic task failed")
            await asyncio.sleep(self.tick_s)

    def _heartbeat(self) -> None:
        if not self.connected:
            status = "starting" if not self.ready else "degraded"
        else:
            status = "degraded" if any(self.staleness.is_stale(s) for s in self.symbols) else "ok"
        self.publisher.publish(heartbeat(SERVICE), Heartbeat(SERVICE, status, time.time_ns()))

    def _publish_status(self, status: SymbolStatus, quiet: bool = False) -> None:
        if quiet:
            self.log.info("market data status symbol=%s stale=%s reason=%s", status.symbol, status.stale, status.reason)
        elif status.stale:
            self.log.warning("market data stale symbol=%s reason=%s", status.symbol, status.reason)
        else:
            self.log.info("market data fresh symbol=%s", status.symbol)
        self.publisher.publish(md_status(status.symbol), status)

    # ------------------------------------------------------------------ the hot path
    def on_frame(self, frame: bytes, recv_ns: int) -> int:
        """Normalise and publish one received frame; returns how many quotes, trades and
        bars it held. Malformed messages are dropped and counted, never raised."""
        payloads = decode_data_frame(frame)
        if payloads is None:  # control messages, or something malformed: one by one
            payloads = self._slow_path(frame)
        clock = self.clock
        clock.frozen_ns = recv_ns
        publish_quote, publish = self.publisher.publish_quote, self.publisher.publish
        symbols, seen = self.symbols, self.staleness.seen
        record = self.recorder.add if self.recorder is not None else None
        quotes = trades = bars = 0
        first_event_ns = 0
        try:
            for payload in payloads:
                symbol = payload.symbol
                if symbol not in symbols:  # in flight after an unsubscribe
                    self.unexpected_symbol += 1
                    continue
                kind = type(payload)
                if record is not None:
                    record(payload)
                if kind is QuoteMsg:
                    publish_quote(payload)
                    quotes += 1
                    first_event_ns = first_event_ns or payload.ts_ns
                    status = seen(symbol, recv_ns)
                    if status is not None:
                        self._publish_status(status)
                elif kind is TradeMsg:
                    publish(md_trade(symbol), payload, payload.ts_ns)
                    trades += 1
                    first_event_ns = first_event_ns or payload.ts_ns
                else:
                    publish(md_bar(symbol), payload, payload.ts_ns)
                    self.bars.add(payload)  # type: ignore[arg-type]
                    bars += 1
        finally:
            clock.frozen_ns = 0
        count = quotes + trades + bars
        if count:
            received = self._received
            if quotes:
                received["quote"].inc(quotes)
            if trades:
                received["trade"].inc(trades)
            if bars:
                received["bar"].inc(bars)
            self.common.messages_processed.inc(count)
            if first_event_ns:  # one sample per frame: its oldest quote or trade
                self.metrics.latency.observe(max(0, recv_ns - first_event_ns) / 1e9)
            self.common.processing_latency.observe((time.time_ns() - recv_ns) / 1e9)
        return count

    def _slow_path(self, frame: bytes) -> list[QuoteMsg | TradeMsg | BarMsg]:
        """A frame the fast path refused: each message on its own; control messages are
        handled, malformed ones dropped and counted."""
        try:
            msgs = unpack_frame(frame)
        except Exception as exc:  # noqa: BLE001 - untrusted bytes
            self._bad_frame(frame, exc)
            return []
        out = []
        for msg in msgs if type(msgs) is list else [msgs]:
            try:
                payload = normalize(msg)
            except MalformedFeedMessage as exc:
                self._malformed(msg, exc)
                continue
            if payload is None:
                self._on_control(msg, msg["T"])
            else:
                out.append(payload)
        return out

    def _on_control(self, msg: dict[str, Any], kind: str) -> None:
        if kind == "subscription":
            self._on_subscribed(msg)
        elif kind == "error":
            code, text = msg.get("code"), str(msg.get("msg"))
            self.stream.note_server_error(code, text)
            self.common.error("feed_error")
            self.log.error("websocket error code=%s msg=%s", code, text, extra={"error_kind": "FeedError"})
        # "success", statuses ("s"), LULD, corrections ...: not subscribed to, ignored

    def _on_subscribed(self, msg: dict[str, Any]) -> None:
        self.connected = True
        self.metrics.websocket_connected.set(1)
        self.log.info("websocket subscribed quotes=%s trades=%s bars=%s",
                      msg.get("quotes"), msg.get("trades"), msg.get("bars"))  # fmt: skip
        if not self.ready:
            self.ready = True
            self.rt.mark_ready(connected=True, symbols=sorted(self.symbols),
                               publish_address=self.publisher.last_endpoint)  # fmt: skip
        if self.gap_fill and (self._fill_task is None or self._fill_task.done()):
            self._fill_task = self.loop.create_task(self._fill_gaps())

    # ------------------------------------------------------------------ gap fill
    async def _fill_gaps(self) -> None:
        """After a (re)connect: the minute bars missed since the newest one kept (from the
        cache at start, or before a disconnect), fetched over REST and published in order
        before any newer bar. Symbols with no bar yet have no gap to fill."""
        until = time.time_ns()
        newest = gaps_to_fill({s: t for s in sorted(self.symbols) if (t := self.bars.newest_ns(s)) is not None}, until)
        if not newest:
            return
        limit = self.bars.bars_to_keep
        try:
            fetched = await self.loop.run_in_executor(None, self._fetch_bars, newest, until, limit)
        except Exception as exc:  # noqa: BLE001 - a failed fill is reported, never fatal
            self.common.error("gap_fill")
            self.log.error(  # the missed bars stay missing: data lost
                "bar gap fill failed, missed bars not recovered: %s: %s",
                type(exc).__name__,
                exc,
                extra={"error_kind": "GapFillFailed"},
            )
            return
        for symbol, raw_bars in fetched.items():
            parsed = []
            for raw in raw_bars:
                try:
                    parsed.append(normalize_rest_bar(symbol, raw))
                except MalformedFeedMessage as exc:
                    self._malformed(raw, exc)
            published = 0
            for bar in bars_to_fill(newest[symbol], parsed):
                current = self.bars.newest_ns(symbol)
                if current is not None and bar.ts_ns <= current:
                    continue  # a live bar got there first: never publish out of order
                self.bars.add(bar)
                self.publisher.publish(md_bar(symbol), bar, bar.ts_ns)
                if self.recorder is not None:
                    self.recorder.add(bar)
                published += 1
            if published:
                self.metrics.bars_gap_filled.inc(published)
                self.log.info(
                    "bar gap filled after connect symbol=%s bars=%d since=%s",
                    symbol,
                    published,
                    iso_utc(newest[symbol]),
                )

    def _fetch_bars(self, newest: dict[str, int], until_ns: int, limit: int) -> dict[str, list[Any]]:
        """Executor thread: alpaca-py's historical client, one request per symbol."""
        if self._bars_client is None:
            from pyrt.venues.alpaca.history import MinuteBarsClient

            self._bars_client = MinuteBarsClient(
                self._venue.data_rest_url,
                self._secrets.api_key_id.get_secret_value(),
                self._secrets.api_secret_key.get_secret_value(),
                self._feed,
            )
        return {s: self._bars_client.newest(s, after, until_ns, limit) for s, after in newest.items()}

    def _malformed(self, msg: Any, exc: Exception) -> None:
        self.malformed += 1
        self.common.error("malformed_feed")
        if should_log(self.malformed):
            self.log.error(  # a message lost
                "malformed feed message dropped count=%d error=%s message=%.200r",
                self.malformed,
                exc,
                msg,
                extra={"error_kind": "MalformedFeedMessage"},
            )

    # ------------------------------------------------------------------ FeedListener
    def _bad_frame(self, frame: Any, error: Exception) -> None:
        self.malformed += 1
        self.common.error("malformed_feed")
        if should_log(self.malformed):
            raw = frame if isinstance(frame, bytes) else str(frame).encode()
            self.log.error("malformed feed frame dropped count=%d len=%d sha256=%s error=%s",
                           self.malformed, len(raw), frame_hash(raw), error,
                           extra={"error_kind": "MalformedFeedFrame"})  # fmt: skip  # a frame lost

    def on_connected(self) -> None:
        """Authenticated; the gauge waits for the subscription acknowledgement."""

    def on_disconnected(self, reason: str, detail: str) -> None:
        """The feed is down: gauge 0, every fresh symbol turns stale."""
        self.connected = False
        self.metrics.websocket_connected.set(0)
        stopping = reason == "stopped"
        why = "market data stopping" if stopping else f"feed disconnected: {reason}"
        for status in self.staleness.mark_all_stale(why):
            self._publish_status(status, quiet=stopping)

    def on_reconnect(self, attempt: int, delay_s: float, reason: str) -> None:
        """Count the reconnect by the reason of the previous connection's end."""
        self.metrics.websocket_reconnects.labels(reason=reason).inc()
        self.log.info("websocket reconnect attempt=%d delay_s=%.2f reason=%s", attempt, delay_s, reason)

    # ------------------------------------------------------------------ reload
    def _unlisted(self, cfg: AppConfig, symbols: list[str]) -> list[str]:
        """Executor thread: the symbols the venue does not list (its /v2/assets)."""
        from pyrt.venues.alpaca.adapter import AlpacaVenue

        venue = AlpacaVenue(
            cfg.venue.trading_url,
            self._secrets.api_key_id.get_secret_value(),
            self._secrets.api_secret_key.get_secret_value(),
            timeout_s=5.0,
        )
        return venue.unlisted(symbols)

    async def _apply_config(self, cfg: AppConfig) -> None:
        """A reloaded config: symbols, staleness, backoff and bar count apply live."""
        try:
            md = cfg.system.market_data
            wanted = list(md.symbols)
            if set(wanted) != self.symbols:
                new = [s for s in wanted if s not in self.symbols]
                unlisted = await self.loop.run_in_executor(None, self._unlisted, cfg, new) if new else []
                if unlisted:  # the venue would never stream them: keep the running symbols
                    self.common.error("reload")
                    self.log.error(
                        "config reload refused: market_data.symbols %s not listed by the venue; keeping symbols=%s",
                        unlisted,
                        sorted(self.symbols),
                        extra={"error_kind": "UnlistedSymbol"},
                    )
                    return
                added, removed = await self.stream.update_symbols(wanted)
                self.symbols = set(wanted)
                for status in self.staleness.set_symbols(wanted, time.time_ns()):
                    self.publisher.publish(md_status(status.symbol), status)
                for symbol in removed:
                    self.publisher.publish(md_status(symbol), SymbolStatus(symbol, True, "unsubscribed"))
                self._load_cache(added)
                self.metrics.set_symbols(self.symbols)  # count and one series per symbol
                self.log.info("market data symbols updated added=%s removed=%s", added, removed)
            self.staleness.stale_after_s = md.stale_after_seconds
            self.gap_fill = md.gap_fill
            self.stream.policy = BackoffPolicy.from_config(md.reconnect)
            self.bars.resize(md.bars_to_keep)
            if (md.zmq_publish_address, cfg.venue.data_stream_url, Path(md.cache_dir)) != (
                self.publish_address,
                self.stream.url,
                self.cache_dir,
            ):
                self.log.warning("market data: publish address, data stream url and cache dir change after a restart")
            if md.record != self.record_config:
                self.log.warning("market data: the record section changes after a restart")
        except Exception:
            self.common.error("reload")
            self.log.exception("market data reload failed")

    # ------------------------------------------------------------------ bar cache
    def _load_cache(self, symbols: set[str] | list[str]) -> None:
        for symbol in symbols:
            path = cache_file(self.cache_dir, symbol)
            try:
                count = self.bars.load(symbol, path.read_bytes())
            except FileNotFoundError:
                continue
            except (OSError, MalformedBarCache) as exc:
                self.common.error("bar_cache")
                self.log.warning("bar cache unreadable, starting empty: %s (%s)", path, exc)
                continue
            self.log.info("bar cache loaded symbol=%s bars=%d", symbol, count)

    def _write_cache(self, payloads: dict[str, bytes]) -> None:
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            for symbol, data in payloads.items():
                write_atomic(cache_file(self.cache_dir, symbol), data)
        except OSError as exc:
            self.common.error("bar_cache")
            self.log.error("bar cache write failed in %s: %s", self.cache_dir, exc)

    # ------------------------------------------------------------------ recorder
    def _write_recording(self, rows: list[Any], close: bool = False) -> None:
        """Executor thread (or the loop at stop, `close`: the files are closed after): one
        batch to Parquet, then the disk bound. A failed write loses that batch only; it is
        counted and logged."""
        assert self.recorder is not None
        try:
            result = self.recorder.write(rows, time.time_ns())
            if close:
                self.recorder.close()
        except Exception as exc:  # noqa: BLE001 - a full disk must not stop publishing
            self._record_failures += 1
            self.common.error("record")
            if should_log(self._record_failures):
                self.log.error("market data recording failed, %d rows lost: %s: %s", len(rows), type(exc).__name__, exc)
            return
        if result.deleted:
            self.log.info("market data recording over %d MB: deleted the %d oldest files",
                          self.recorder.max_bytes // (1024 * 1024), len(result.deleted))  # fmt: skip
        self.log.debug("market data recorded rows=%d files=%d", result.rows, len(result.files))

    def _flush_cache(self, symbols: set[str]) -> None:
        if symbols:
            self._write_cache({s: self.bars.encode(s) for s in symbols})


def run(config_dir: Path) -> int:
    """``pyrt run market-data``: run until SIGTERM/SIGINT; 0 after a graceful stop."""
    with ServiceRuntime(SERVICE, config_dir) as rt:
        try:
            service = MarketDataService(rt, idle_timeout_s=rt.cfg.system.market_data.idle_timeout_s or None)
        except Exception:
            rt.log.exception("market data failed to start")
            return 1
        return service.serve()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m pyrt.services.market_data.service <config_dir>", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(Path(sys.argv[1])))
