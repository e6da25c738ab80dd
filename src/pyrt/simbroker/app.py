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
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from types import FrameType

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from pyrt.config.system import SimBrokerConfig
from pyrt.persistence.files import write_atomic
from pyrt.simbroker.broker import MarketSource, SimBroker
from pyrt.simbroker.market import SyntheticMarket
from pyrt.simbroker.rest import routes
from pyrt.simbroker.sources import SyntheticSource
from pyrt.simbroker.streams import data_stream, trade_stream

log = logging.getLogger("pyrt.simbroker")


def build_source(config: SimBrokerConfig) -> MarketSource:
    """Replayed files when the config names some, else the synthetic market."""
    if config.replay is not None:
        from pyrt.simbroker.replay_source import ReplaySource

        return ReplaySource(config.replay.files(), config.replay.speed)
    market = SyntheticMarket(
        config.served_symbols,
        seed=config.seed,
        drift_annual=config.drift_annual,
        vol_annual=config.vol_annual,
        tick_interval_ns=int(config.tick_ms * 1_000_000),
    )
    return SyntheticSource(market, config.history_paths)


async def market_loop(broker: SimBroker) -> None:
    """Step the market every tick_ms; late ticks are not made up (no bursts)."""
    loop = asyncio.get_running_loop()
    tick_s = broker.config.tick_ms / 1000.0
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

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[int], None] | None) -> None:
        super().__init__(config)
        self.on_ready = on_ready

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
        if self.on_ready is not None:
            self.on_ready(port)


def write_port_file(path: Path) -> Callable[[int], None]:
    """An `on_ready` for `serve`: the bound port, alone, in `path` (`--ready-file`)."""
    return lambda port: write_atomic(path, f"{port}\n")


def serve(
    config: SimBrokerConfig,
    keys: Mapping[str, str] | None = None,
    *,
    reset: bool = False,
    on_ready: Callable[[int], None] | None = None,
    log_level: str = "warning",
) -> None:
    """Run the sim broker in the foreground until SIGINT/SIGTERM; `on_ready(port)` once it
    listens. `keys`: the key pairs it accepts (default: the local pair)."""
    broker = SimBroker(config, build_source(config), keys=keys, reset=reset)
    app = build_app(broker)
    server_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level=log_level,
        ws="websockets-sansio",
        http="httptools",
        loop="uvloop",
        lifespan="on",
        ws_max_size=1 << 20,
        timeout_graceful_shutdown=2,
    )
    server = _ReadyServer(server_config, on_ready)
    started = time.monotonic()
    try:
        server.run()
    finally:
        broker.close()
        log.info("sim broker stopped after %.1fs", time.monotonic() - started)
    if not server.started:
        sys.exit(1)
