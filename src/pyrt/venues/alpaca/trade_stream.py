"""alpaca-py's TradingStream (trade_updates) in its own thread, handing each event to a
callback as a typed `StreamEvent` (`pyrt.venues.stream_events`): an update, a malformed
update, and the stream (re)connecting or dropping. There is no replay, so every reconnect
must trigger a reconciliation over the gap."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from alpaca.trading.stream import TradingStream

from pyrt.venues.alpaca.mapping import MALFORMED, trade_update_from_json
from pyrt.venues.stream_events import MalformedTradeUpdate, StreamDown, StreamEvent, StreamUp, TradeUpdateSeen

log = logging.getLogger("pyrt.venues.alpaca.trade_stream")

Sink = Callable[[StreamEvent], None]


class _ObservedTradingStream(TradingStream):
    def __init__(self, *args: Any, sink: Sink, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sink = sink
        self._reconnect_min_backoff = 0.5

    async def _start_ws(self) -> None:
        await super()._start_ws()
        self._sink(StreamUp())

    async def close(self) -> None:
        was_connected = self._ws is not None
        await super().close()
        if was_connected and self._should_run:
            self._sink(StreamDown("connection closed"))


class TradeUpdatesThread:
    def __init__(self, url: str, key_id: str, secret: str, sink: Sink) -> None:
        self.connected = threading.Event()

        def observed(item: StreamEvent) -> None:
            if isinstance(item, StreamUp):
                self.connected.set()
            elif isinstance(item, StreamDown):
                self.connected.clear()
            sink(item)

        self._sink = observed
        self.stream = _ObservedTradingStream(key_id, secret, raw_data=True, url_override=url, sink=observed)
        self.stream.subscribe_trade_updates(self._on_update)
        self._thread = threading.Thread(target=self._run, name="trade-updates", daemon=True)

    async def _on_update(self, msg: dict[str, Any]) -> None:
        try:
            report = trade_update_from_json(msg["data"])
        except MALFORMED as exc:  # incl. decimal.InvalidOperation and a list for an object
            log.error("malformed trade update dropped: %s", exc)
            self._sink(MalformedTradeUpdate(str(exc)))
            return
        self._sink(TradeUpdateSeen(report))

    def _run(self) -> None:
        try:
            self.stream.run()
        except Exception:  # noqa: BLE001 - the owner sees the disconnect
            log.exception("trade_updates stream thread ended with an error")

    def start(self) -> None:
        self._thread.start()

    async def _shutdown(self) -> None:
        await self.stream.stop_ws()
        await self.stream.close()  # wakes the receive loop now instead of after its 5 s poll

    def stop(self, timeout: float = 5.0) -> None:
        loop = getattr(self.stream, "_loop", None)
        if loop is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
            except Exception:  # noqa: BLE001 - loop closing
                pass
        self._thread.join(timeout)
