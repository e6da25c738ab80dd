"""Builds the sim broker's ASGI app and runs it with uvicorn: REST and both websockets on
one port, the market loop as a background task, graceful stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from pyrt.persistence.files import write_atomic
from pyrt.simbroker.broker import MarketSource, SimBroker, SimBrokerOptions
from pyrt.simbroker.market import SyntheticMarket
from pyrt.simbroker.rest import routes
from pyrt.simbroker.sources import SyntheticSource
from pyrt.simbroker.streams import data_stream, trade_stream

log = logging.getLogger("pyrt.simbroker")


def build_source(opts: SimBrokerOptions) -> MarketSource:
    if opts.replay_paths:
        from pyrt.simbroker.replay_source import ReplaySource

        return ReplaySource(opts.replay_paths, opts.replay_speed)
    market = SyntheticMarket(
        opts.symbols,
        seed=opts.seed,
        drift_annual=opts.drift_annual,
        vol_annual=opts.vol_annual,
        tick_interval_ns=int(opts.tick_ms * 1_000_000),
    )
    return SyntheticSource(market, opts.history_paths)


async def market_loop(broker: SimBroker) -> None:
    """Step the market every tick_ms; late ticks are not made up (no bursts)."""
    loop = asyncio.get_running_loop()
    tick_s = broker.opts.tick_ms / 1000.0
    last = loop.time()
    next_at = last
    while True:
        now = loop.time()
        try:
            broker.tick(broker.clock.now_ns(), now - last)
        except Exception:  # a bug in one step must not kill the venue
            log.exception("market loop step failed")
        last = now
        next_at += tick_s
        delay = next_at - loop.time()
        if delay < 0:
            next_at = loop.time()
            delay = 0
        await asyncio.sleep(delay)


def build_app(broker: SimBroker) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        broker.prime()
        gc.collect()
        gc.freeze()  # start-up objects never need scanning again: shorter GC pauses in requests
        task = asyncio.create_task(market_loop(broker))
        try:
            yield
        finally:
            task.cancel()
            for sub in list(broker.trade_subs) + list(broker.data_subs.values()):
                sub.close(1001)
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def trade_ws(ws: WebSocket) -> None:
        await trade_stream(ws, broker)

    async def data_ws(ws: WebSocket) -> None:
        await data_stream(ws, broker)

    ws_routes = [WebSocketRoute("/stream", trade_ws)] + [
        WebSocketRoute(f"/v2/{feed}", data_ws) for feed in ("iex", "sip", "test", "delayed_sip")
    ]
    return Starlette(routes=[*routes(broker), *ws_routes], lifespan=lifespan)


class _ReadyServer(uvicorn.Server):
    """Reports the bound address once listening (port 0 picks a free port)."""

    def __init__(self, config: uvicorn.Config, ready_file: Path | None) -> None:
        super().__init__(config)
        self.ready_file = ready_file

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Graceful stop on SIGINT/SIGTERM, then exit 0 (uvicorn would re-raise the signal)."""
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        line = f"SIM_BROKER_READY http://{host}:{port}"
        print(line, flush=True)
        if self.ready_file is not None:
            write_atomic(self.ready_file, f"{port}\n")


def serve(opts: SimBrokerOptions, ready_file: Path | None = None, log_level: str = "warning") -> None:
    """Run the sim broker in the foreground until SIGINT/SIGTERM."""
    source = build_source(opts)
    replay_symbols = getattr(source, "symbols", ())
    if opts.replay_paths and replay_symbols:
        opts.symbols = tuple(dict.fromkeys([*opts.symbols, *replay_symbols]))
    broker = SimBroker(opts, source)
    app = build_app(broker)
    config = uvicorn.Config(
        app,
        host=opts.host,
        port=opts.port,
        log_level=log_level,
        ws="websockets-sansio",
        http="httptools",
        loop="uvloop",
        lifespan="on",
        ws_max_size=1 << 20,
        timeout_graceful_shutdown=2,
    )
    server = _ReadyServer(config, ready_file)
    started = time.monotonic()
    try:
        server.run()
    finally:
        broker.close()
        log.info("sim broker stopped after %.1fs", time.monotonic() - started)
    if not server.started:
        sys.exit(1)
