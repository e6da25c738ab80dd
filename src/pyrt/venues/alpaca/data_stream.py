"""alpaca-py's ``StockDataStream`` (Alpaca's market-data websocket) with two things replaced:

- the consume step: each received msgpack frame is handed whole to
  ``FeedListener.on_frame`` (decoded at once and published in one tight loop by the
  service), instead of alpaca-py's awaited handler call per message, which caps around
  20k messages/s;
- the reconnect loop: our ``BackoffPolicy`` (first retry immediate, then exponential with
  jitter), a reason for every disconnect, an idle watchdog for a mute socket, and a prompt
  stop even while connecting or backing off.

alpaca-py's own connect, auth and subscribe steps (``_start_ws``, ``_send_subscribe_msg``)
are kept. Everything here runs on one asyncio loop; ``stop()`` may be called from another
thread as with the original class.

It is the vendor side of the market-data service (which implements ``FeedListener``, and
decodes the frames with ``pyrt.venues.alpaca.feed``): the service keeps its rules, this
module keeps alpaca-py's internals, so an alpaca-py upgrade touches the venue package only.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import msgpack
import websockets
from alpaca.data.live.stock import StockDataStream

log = logging.getLogger("pyrt.venues.alpaca.data_stream")

CHANNELS = ("quotes", "trades", "bars")
DEFAULT_WEBSOCKET_PARAMS: dict[str, Any] = {
    "ping_interval": 10,
    "ping_timeout": 180,  # alpaca-py's value: a busy client must not kill its own link
    "max_queue": 1024,
    "close_timeout": 1,
    "open_timeout": 10,
}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def websocket_params_for(url: str) -> dict[str, Any]:
    """The connection parameters for ``url``: permessage-deflate only off the local host
    (it saves bandwidth on the internet; on loopback it only burns CPU on both ends)."""
    params = dict(DEFAULT_WEBSOCKET_PARAMS)
    if urlsplit(url).hostname in LOOPBACK_HOSTS:
        params["compression"] = None
    return params


@dataclass(frozen=True)
class BackoffPolicy:
    """Reconnect delays: attempt 0 is immediate; attempt n >= 1 waits
    ``min(initial_delay_s * 2**(n-1), max_delay_s)`` scaled by a factor in
    ``[1 - jitter, 1 + jitter]``."""

    initial_delay_s: float = 0.5
    max_delay_s: float = 30.0
    jitter: float = 0.2

    @classmethod
    def from_config(cls, cfg: Any) -> BackoffPolicy:
        """From ``market_data.reconnect`` (anything with the three fields)."""
        return cls(float(cfg.initial_delay_s), float(cfg.max_delay_s), float(cfg.jitter))

    def base_delay(self, attempt: int) -> float:
        """The delay before jitter."""
        if attempt <= 0:
            return 0.0
        return min(self.initial_delay_s * 2.0 ** min(attempt - 1, 64), self.max_delay_s)

    def delay(self, attempt: int, rand: float) -> float:
        """The delay of ``attempt`` with ``rand`` a uniform draw from [0, 1)."""
        return self.base_delay(attempt) * (1.0 + self.jitter * (2.0 * rand - 1.0))


# Disconnect reasons (also the `reason` label of market_data_websocket_reconnects_total).
CLOSED = "closed"
DATA_TIMEOUT = "data_timeout"
SLOW_CLIENT = "slow_client"
CONNECT_FAILED = "connect_failed"
AUTH_FAILED = "auth_failed"
CONNECTION_LIMIT = "connection_limit"
PROTOCOL_ERROR = "protocol_error"
ERROR = "error"


class FeedListener(Protocol):
    """What the stream reports to. Every method is called on the stream's loop."""

    def on_frame(self, frame: bytes, recv_ns: int) -> int:
        """One received frame as is; returns how many market data messages it held (0
        for control frames and garbage). Must not raise."""
        ...

    def on_connected(self) -> None:
        """Authenticated; the subscription is being sent."""
        ...

    def on_disconnected(self, reason: str, detail: str) -> None:
        """An authenticated connection ended."""
        ...

    def on_reconnect(self, attempt: int, delay_s: float, reason: str) -> None:
        """The next connection attempt starts after ``delay_s``."""
        ...


async def _unused_handler(_msg: Any) -> None:
    """Placeholder in alpaca-py's handler tables: they say what to subscribe; our consume
    step never calls handlers."""


class BatchStockDataStream(StockDataStream):
    """A raw-data StockDataStream for ``symbols`` (quotes, trades and bars) that hands
    whole frames to ``listener``. ``idle_timeout_s``: reconnect when no market data came
    for that long (None: never)."""

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        url: str,
        listener: FeedListener,
        policy: BackoffPolicy,
        symbols: Iterable[str] = (),
        idle_timeout_s: float | None = 15.0,
        websocket_params: dict[str, Any] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(
            api_key,
            secret_key,
            raw_data=True,
            url_override=url,
            data_timeout=idle_timeout_s,
            websocket_params=dict(websocket_params or websocket_params_for(url)),
        )
        self.url = url
        self.listener = listener
        self.policy = policy
        self.last_error: tuple[Any, str] | None = None  # (code, msg) of the server's last error
        self._rand = rand
        self._session_task: asyncio.Task[tuple[str, str]] | None = None
        self._idle_expired = False
        self._last_data = 0.0
        self.set_symbols(symbols)

    # ------------------------------------------------------------------ subscriptions
    @property
    def symbols(self) -> list[str]:
        """The symbols subscribed (or to subscribe on the next connection)."""
        return list(self._handlers["quotes"])

    def set_symbols(self, symbols: Iterable[str]) -> None:
        """Set what the next (re)connection subscribes; sends nothing."""
        wanted = list(dict.fromkeys(symbols))
        for channel in CHANNELS:
            self._handlers[channel] = dict.fromkeys(wanted, _unused_handler)

    async def update_symbols(self, symbols: Iterable[str]) -> tuple[list[str], list[str]]:
        """Subscribe new symbols and unsubscribe removed ones on the live connection (if
        any). Returns (added, removed)."""
        wanted = list(dict.fromkeys(symbols))
        current = self.symbols
        added = [s for s in wanted if s not in current]
        removed = [s for s in current if s not in wanted]
        self.set_symbols(wanted)
        ws = self._ws
        if self._running and ws is not None:
            try:
                if removed:
                    await ws.send(msgpack.packb({"action": "unsubscribe", **dict.fromkeys(CHANNELS, removed)}))
                if added:
                    await ws.send(msgpack.packb({"action": "subscribe", **dict.fromkeys(CHANNELS, added)}))
            except websockets.WebSocketException as exc:  # the reconnect subscribes everything
                log.warning("websocket error reason=subscribe_failed detail=%s", exc)
        return added, removed

    # ------------------------------------------------------------------ the loop
    async def _run_forever(self) -> None:
        """alpaca-py's entry point (``run()`` awaits it): our reconnect loop."""
        await self.run_until_stopped()

    async def run_until_stopped(self) -> None:
        """Connect, consume, reconnect with backoff, until ``stop_ws()`` (also one that came
        before this started: a stopped stream does not run again)."""
        self._loop = asyncio.get_running_loop()  # type: ignore[assignment]  # alpaca-py declares it None
        self._stop_stream_event = asyncio.Event()
        attempt = 0
        while self._should_run:
            self._data_received = False
            self._session_task = asyncio.create_task(self._session())
            try:
                reason, _detail = await self._session_task
            except asyncio.CancelledError:
                if self._should_run:  # cancelled from outside, not by stop_ws
                    raise
                break
            finally:
                self._session_task = None
            if not self._should_run:
                break
            if self._data_received:
                attempt = 0
            delay = max(0.0, self.policy.delay(attempt, self._rand()))
            self.listener.on_reconnect(attempt, delay, reason)
            attempt += 1
            if delay > 0:
                try:
                    await asyncio.wait_for(self._stop_stream_event.wait(), delay)
                except TimeoutError:
                    pass
        log.info("websocket stream stopped")

    async def _session(self) -> tuple[str, str]:
        """One connection from connect to close; returns (reason, detail) of its end."""
        self._idle_expired = False
        self.last_error = None
        authenticated = cancelled = False
        reason, detail = ERROR, ""
        watchdog: asyncio.Task[None] | None = None
        try:
            await self._start_ws()  # alpaca-py: connect, "connected", auth, "authenticated"
            authenticated = True
            log.info("websocket connected url=%s symbols=%d", self.url, len(self.symbols))
            self.listener.on_connected()
            await self._send_subscribe_msg()
            self._running = True
            watchdog = asyncio.create_task(self._watch_idle())
            await self._consume()
        except websockets.ConnectionClosed as exc:
            reason, detail = self._closed_reason(exc)
        except ValueError as exc:  # alpaca-py's auth/handshake failures
            detail = str(exc)
            reason = CONNECTION_LIMIT if "connection limit" in detail else AUTH_FAILED
        except (TimeoutError, OSError, websockets.InvalidHandshake) as exc:
            reason, detail = CONNECT_FAILED, f"{type(exc).__name__}: {exc}"
        except websockets.WebSocketException as exc:
            reason, detail = PROTOCOL_ERROR, f"{type(exc).__name__}: {exc}"
        except asyncio.CancelledError:
            cancelled = True
        except Exception as exc:  # a bug must cost a reconnect, not the service
            log.exception("websocket error reason=error detail=%s", exc)
            reason, detail = ERROR, f"{type(exc).__name__}: {exc}"
        self._running = False
        if watchdog is not None:
            watchdog.cancel()
        await self._close_quietly()
        if cancelled:
            if authenticated:
                log.info("websocket disconnected reason=stopped")
                self.listener.on_disconnected("stopped", "stop requested")
            raise asyncio.CancelledError
        if authenticated:
            log.warning("websocket disconnected reason=%s detail=%s", reason, detail)
            self.listener.on_disconnected(reason, detail)
        else:
            log.warning("websocket error reason=%s detail=%s url=%s", reason, detail, self.url)
        return reason, detail

    def _closed_reason(self, exc: websockets.ConnectionClosed) -> tuple[str, str]:
        code = exc.rcvd.code if exc.rcvd is not None else None
        detail = f"code={code}" + (f" server_error={self.last_error}" if self.last_error else "")
        if self._idle_expired:
            return DATA_TIMEOUT, f"no market data for {self._data_timeout}s"
        if self.last_error is not None and self.last_error[0] == 407:
            return SLOW_CLIENT, detail
        return CLOSED, detail

    async def _consume(self) -> bool:
        """Receive frames until the connection closes (raises ConnectionClosed)."""
        ws = self._ws
        assert ws is not None
        recv, on_frame = ws.recv, self.listener.on_frame
        now_ns, loop_time = time.time_ns, asyncio.get_running_loop().time
        while True:
            frame = await recv()
            if on_frame(frame, now_ns()):
                self._data_received = True
                self._last_data = loop_time()

    async def _watch_idle(self) -> None:
        """Close the connection when no market data arrived for ``data_timeout``."""
        timeout = self._data_timeout
        if not timeout:
            return
        loop = asyncio.get_running_loop()
        self._last_data = loop.time()
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            idle = loop.time() - self._last_data
            if idle >= timeout:
                self._idle_expired = True
                log.warning("websocket idle: no market data for %.1fs, closing", idle)
                ws = self._ws
                if ws is not None:
                    await ws.close(1000, "idle")
                return

    async def _close_quietly(self) -> None:
        try:
            await self.close()
        except Exception as exc:  # noqa: BLE001 - closing a broken socket
            log.debug("websocket close failed: %r", exc)
        self._ws = None

    def note_server_error(self, code: Any, msg: str) -> None:
        """The listener saw an error message from the server (kept for the close reason)."""
        self.last_error = (code, msg)

    # ------------------------------------------------------------------ stopping
    async def stop_ws(self) -> None:
        """Stop: interrupts a backoff, a connection attempt or the consume loop."""
        self._should_run = False
        if self._stop_stream_event is not None:
            self._stop_stream_event.set()
        task = self._session_task
        if task is not None and not task.done():
            task.cancel()
        await asyncio.sleep(0)
