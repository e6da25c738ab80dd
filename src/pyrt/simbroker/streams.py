"""The sim broker's two websockets, as Alpaca speaks them.

- `/stream`: trade_updates, JSON (authenticate → authorized, listen → listening, then
  {"stream": "trade_updates", "data": {...}} events), binary frames like paper trading.
- `/v2/iex`, `/v2/sip` (and `/v2/test`): market data, msgpack: connected, auth,
  subscribe/unsubscribe, then batched arrays of q/t/b messages with msgpack timestamps.
  One connection per key; a second one gets error 406 "connection limit exceeded".

Each connection has a bounded send queue drained by its own task: a client that cannot
keep up is told "slow client" (407) and disconnected instead of stalling the broker."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import msgpack
from starlette.websockets import WebSocket, WebSocketDisconnect

from pyrt.simbroker.broker import SimBroker

log = logging.getLogger("pyrt.simbroker.streams")

AUTH_TIMEOUT_S = 10.0


class _Connection:
    def __init__(self, ws: WebSocket, max_frames: int, binary: bool) -> None:
        self.ws = ws
        self.key = ""
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=max_frames)
        self.binary = binary
        self.closed = False
        self.slow = False

    def enqueue(self, frame: bytes) -> bool:
        if self.closed:
            return False
        try:
            self.queue.put_nowait(frame)
            return True
        except asyncio.QueueFull:
            self.slow = True
            self.close(1008, self.slow_client_frame)
            return False

    slow_client_frame: bytes | None = None

    def close(self, code: int = 1000, last_frame: bytes | None = None) -> None:
        """Stop sending: drop what is queued, send `last_frame` if given, then close."""
        if not self.closed:
            self.closed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            if last_frame is not None:
                self.queue.put_nowait(last_frame)
            self.queue.put_nowait(None)

    async def send_loop(self) -> None:
        while True:
            frame = await self.queue.get()
            if frame is None:
                return
            if self.binary:
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_text(frame.decode())


class DataConnection(_Connection):
    slow_client_frame = msgpack.packb([{"T": "error", "code": 407, "msg": "slow client"}])

    def __init__(self, ws: WebSocket, max_frames: int) -> None:
        super().__init__(ws, max_frames, binary=True)
        self.quotes: set[str] = set()
        self.trades: set[str] = set()
        self.bars: set[str] = set()

    def subscription(self) -> list[dict[str, Any]]:
        empty: list[str] = []
        return [
            {
                "T": "subscription",
                "trades": sorted(self.trades),
                "quotes": sorted(self.quotes),
                "bars": sorted(self.bars),
                "updatedBars": empty,
                "dailyBars": empty,
                "statuses": empty,
                "lulds": empty,
                "corrections": empty,
                "cancelErrors": empty,
            }
        ]


async def _run_connection(conn: _Connection, reader: Any) -> None:
    sender = asyncio.create_task(conn.send_loop())
    read = asyncio.create_task(reader())
    try:
        done, _ = await asyncio.wait({sender, read}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() and not isinstance(task.exception(), WebSocketDisconnect):
                log.warning("stream connection error: %r", task.exception())
    finally:
        for task in (sender, read):
            task.cancel()
        conn.closed = True
        try:
            await conn.ws.close()
        except Exception:
            pass


async def trade_stream(ws: WebSocket, broker: SimBroker) -> None:
    await ws.accept()
    conn = _Connection(ws, broker.config.max_queue_frames, binary=True)
    try:
        raw = await asyncio.wait_for(ws.receive(), AUTH_TIMEOUT_S)
        msg = json.loads(raw.get("text") or raw.get("bytes") or b"{}")
        data = msg.get("data") or {}
        if msg.get("action") not in ("authenticate", "auth") or not broker.check_key(
            data.get("key_id"), data.get("secret_key")
        ):
            await ws.send_bytes(
                json.dumps(
                    {"stream": "authorization", "data": {"action": "authenticate", "status": "unauthorized"}}
                ).encode()
            )
            await ws.close(1008)
            return
        conn.key = data["key_id"]
        await ws.send_bytes(
            json.dumps({"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}}).encode()
        )
    except (TimeoutError, WebSocketDisconnect, ValueError):
        await _safe_close(ws)
        return

    async def reader() -> None:
        while True:
            raw = await ws.receive()
            if raw["type"] == "websocket.disconnect":
                return
            try:
                msg = json.loads(raw.get("text") or raw.get("bytes") or b"{}")
            except ValueError:
                continue
            if msg.get("action") == "listen":
                streams = (msg.get("data") or {}).get("streams") or []
                if "trade_updates" in streams:
                    broker.trade_subs.add(conn)
                else:
                    broker.trade_subs.discard(conn)
                conn.enqueue(json.dumps({"stream": "listening", "data": {"streams": streams}}).encode())

    try:
        await _run_connection(conn, reader)
    finally:
        broker.trade_subs.discard(conn)


async def data_stream(ws: WebSocket, broker: SimBroker) -> None:
    await ws.accept()
    conn = DataConnection(ws, broker.config.max_queue_frames)
    await ws.send_bytes(msgpack.packb([{"T": "success", "msg": "connected"}]))
    try:
        raw = await asyncio.wait_for(ws.receive(), AUTH_TIMEOUT_S)
        msg = msgpack.unpackb(raw.get("bytes") or raw.get("text", "").encode() or b"\x80")
        key = msg.get("key") if isinstance(msg, dict) else None
        if (
            not isinstance(msg, dict)
            or msg.get("action") != "auth"
            or not isinstance(key, str)
            or not broker.check_key(key, msg.get("secret"))
        ):
            await ws.send_bytes(msgpack.packb([{"T": "error", "code": 402, "msg": "auth failed"}]))
            await ws.close(1008)
            return
        if key in broker.data_subs:
            await ws.send_bytes(msgpack.packb([{"T": "error", "code": 406, "msg": "connection limit exceeded"}]))
            await ws.close(1008)
            return
        conn.key = key
        broker.data_subs[key] = conn
        await ws.send_bytes(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
    except TimeoutError:
        await _safe_send(ws, msgpack.packb([{"T": "error", "code": 404, "msg": "auth timeout"}]))
        await _safe_close(ws)
        return
    except (WebSocketDisconnect, ValueError, msgpack.UnpackException):
        await _safe_close(ws)
        return

    async def reader() -> None:
        while True:
            raw = await ws.receive()
            if raw["type"] == "websocket.disconnect":
                return
            try:
                msg = msgpack.unpackb(raw.get("bytes") or (raw.get("text") or "").encode())
            except (ValueError, msgpack.UnpackException):
                conn.enqueue(msgpack.packb([{"T": "error", "code": 400, "msg": "invalid syntax"}]))
                continue
            action = msg.get("action") if isinstance(msg, dict) else None
            if action not in ("subscribe", "unsubscribe"):
                conn.enqueue(msgpack.packb([{"T": "error", "code": 401, "msg": "invalid action"}]))
                continue
            for name in ("quotes", "trades", "bars"):
                symbols = {str(s).upper() for s in (msg.get(name) or [])}
                target: set[str] = getattr(conn, name)
                if action == "subscribe":
                    symbols = {s for s in symbols if broker.learn_symbol(s)}  # a listed symbol is learnt
                    target |= symbols
                else:
                    target -= symbols
            conn.enqueue(msgpack.packb(conn.subscription()))

    try:
        await _run_connection(conn, reader)
    finally:
        if broker.data_subs.get(conn.key) is conn:
            del broker.data_subs[conn.key]
        if conn.slow:
            log.warning("data stream client %s too slow: disconnected", conn.key[:4] + "…")


async def _safe_send(ws: WebSocket, frame: bytes) -> None:
    try:
        await ws.send_bytes(frame)
    except Exception:
        pass


async def _safe_close(ws: WebSocket) -> None:
    try:
        await ws.close()
    except Exception:
        pass
