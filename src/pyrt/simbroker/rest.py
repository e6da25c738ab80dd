"""Alpaca's trading REST API v2 (and the historical bars endpoints) served by the sim
broker, plus the admin endpoints for fault injection outside /v2.

Every /v2 and /admin request is authenticated with the APCA-API-KEY-ID /
APCA-API-SECRET-KEY headers (401 otherwise) and counted against the per-key rate limit
(429 with X-Ratelimit-* headers)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from pyrt.domain.clock import iso_utc
from pyrt.domain.enums import OrderSide
from pyrt.domain.market import Quote
from pyrt.simbroker.alpaca_json import account_json, order_json, parse_new_order, position_json
from pyrt.simbroker.broker import SimBroker, quote_fields
from pyrt.simbroker.faults import FaultError
from pyrt.venues.simulated.matching import CODE_INVALID, asset_id_for
from pyrt.venues.simulated.matching import parse_time as _parse_time  # moved down; the name stays
from pyrt.venues.simulated.models import Rejection

log = logging.getLogger("pyrt.simbroker.rest")
_json = msgspec.json.Encoder()

Handler = Callable[[Request, SimBroker], Awaitable[Response]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_json.encode(body), status_code=status, headers=headers, media_type="application/json")


def error_response(status: int, code: int, message: str, **extra: Any) -> Response:
    return json_response({"code": code, "message": message, **extra}, status)


class _DroppedReply(Response):
    """Starts the HTTP response and then drops the connection: the client never learns the
    outcome (the order was accepted and committed)."""

    def __init__(self) -> None:
        super().__init__(b"", status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")],
            }
        )
        raise ConnectionAbortedError("reply dropped by fault injection")


def _guard(handler: Handler, kind: str, broker: SimBroker) -> Callable[[Request], Awaitable[Response]]:
    """Auth, rate limit and HTTP-level faults around one route."""

    async def endpoint(request: Request) -> Response:
        headers = request.headers
        key = headers.get("apca-api-key-id")
        if not broker.check_key(key, headers.get("apca-api-secret-key")):
            return error_response(401, 40110000, "request is not authorized")
        rl_headers: dict[str, str] = {}
        if kind != "admin":
            allowed, rl_headers = broker.ratelimiter.check(key or "", broker.clock.now_ns())
            if not allowed:
                return json_response({"code": 42910000, "message": "rate limit exceeded"}, 429, rl_headers)
        hang = 0.0
        if kind != "admin":
            status = broker.faults.http_error_status(kind)
            if status is not None:
                return json_response({"code": status * 100000, "message": "injected fault"}, status, rl_headers)
            hang = broker.faults.hang_seconds(kind)
        try:
            response = await handler(request, broker)
        except Rejection as rej:
            response = json_response(rej.body(), rej.http_status)
        if hang:
            await asyncio.sleep(hang)  # the request was handled; the answer is late
        for name, value in rl_headers.items():
            response.headers[name] = value
        return response

    return endpoint


async def _body(request: Request) -> Any:
    try:
        return msgspec.json.decode(await request.body())
    except (msgspec.DecodeError, UnicodeDecodeError):  # msgspec raises the latter for a str not in UTF-8
        raise Rejection(422, CODE_INVALID, "request body is not valid JSON") from None


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Rejection(422, CODE_INVALID, f"invalid {name}: {raw!r}") from None
    if not lo <= value <= hi:
        raise Rejection(422, CODE_INVALID, f"{name} must be between {lo} and {hi}")
    return value


def _decimal_param(request: Request, name: str) -> Decimal | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise Rejection(422, CODE_INVALID, f"invalid {name}: {raw!r}") from None


# ------------------------------------------------------------------ trading API
async def get_account(request: Request, broker: SimBroker) -> Response:
    return json_response(account_json(broker.engine, broker.account_created_ns))


async def post_order(request: Request, broker: SimBroker) -> Response:
    req = parse_new_order(await _body(request))
    broker.learn_symbol(req.symbol)  # a listed symbol nobody streamed yet is tradable too
    now = broker.clock.now_ns()
    reject = broker.faults.take_reject()
    if reject is not None and reject.mode == "http":
        return error_response(403, 40310000, reject.message)
    ack, events = broker.engine.submit(req, now, reject_reason=reject.message if reject else None)
    broker.commit(events)
    if broker.faults.drop_this_reply():
        return _DroppedReply()
    return json_response(order_json(ack))


async def list_orders(request: Request, broker: SimBroker) -> Response:
    q = request.query_params
    limit = _int_param(request, "limit", 50, 1, 500)
    after = _parse_time(q.get("after"), "after")
    until = _parse_time(q.get("until"), "until")
    direction = q.get("direction", "desc")
    if direction not in ("asc", "desc"):
        raise Rejection(422, CODE_INVALID, f"invalid direction: {direction!r}")
    symbols = {s.strip().upper() for s in q.get("symbols", "").split(",") if s.strip()}
    orders = broker.engine.select_orders(
        q.get("status", "open"), after, until, symbols, q.get("side"), direction == "asc", limit
    )
    return json_response([order_json(o) for o in orders])


async def get_order(request: Request, broker: SimBroker) -> Response:
    return json_response(order_json(broker.engine.get_order(request.path_params["order_id"])))


async def get_order_by_client_id(request: Request, broker: SimBroker) -> Response:
    cid = request.query_params.get("client_order_id")
    if not cid:
        raise Rejection(422, CODE_INVALID, "client_order_id is required")
    return json_response(order_json(broker.engine.get_by_client_id(cid)))


async def cancel_order(request: Request, broker: SimBroker) -> Response:
    events = broker.engine.cancel(request.path_params["order_id"], broker.clock.now_ns())
    broker.commit(events)
    return Response(status_code=204)


async def cancel_all_orders(request: Request, broker: SimBroker) -> Response:
    results = broker.engine.cancel_all(broker.clock.now_ns())
    broker.commit([e for _, events in results for e in events])
    return json_response([{"id": o.id, "status": 200, "body": order_json(o)} for o, _ in results], 207)


async def list_positions(request: Request, broker: SimBroker) -> Response:
    engine = broker.engine
    return json_response([position_json(engine, s) for s in sorted(engine.account.positions)])


async def get_position(request: Request, broker: SimBroker) -> Response:
    symbol = request.path_params["symbol"].upper()
    if symbol not in broker.engine.account.positions:
        raise Rejection(404, 40410000, "position does not exist")
    return json_response(position_json(broker.engine, symbol))


async def close_position(request: Request, broker: SimBroker) -> Response:
    symbol = request.path_params["symbol"].upper()
    qty = _decimal_param(request, "qty")
    pct = _decimal_param(request, "percentage")
    ack, events = broker.engine.close_position(symbol, broker.clock.now_ns(), qty=qty, percentage=pct)
    broker.commit(events)
    return json_response(order_json(ack))


async def close_all_positions(request: Request, broker: SimBroker) -> Response:
    engine = broker.engine
    now = broker.clock.now_ns()
    events = []
    if request.query_params.get("cancel_orders", "false").lower() == "true":
        for _, evts in engine.cancel_all(now):
            events.extend(evts)
    results = []
    for symbol in sorted(engine.account.positions):
        try:
            ack, evts = engine.close_position(symbol, now)
            events.extend(evts)
            results.append({"symbol": symbol, "status": 200, "body": order_json(ack)})
        except Rejection as rej:
            results.append({"symbol": symbol, "status": rej.http_status, "body": rej.body()})
    broker.commit(events)
    return json_response(results, 207)


async def get_clock(request: Request, broker: SimBroker) -> Response:
    now = broker.clock.now_ns()
    cal = broker.calendar
    return json_response(
        {
            "timestamp": iso_utc(now),
            "is_open": broker.is_open(now),
            "next_open": iso_utc(cal.next_open(now)),
            "next_close": iso_utc(cal.next_close(now)),
        }
    )


def _asset(symbol: str) -> dict[str, Any]:
    return {
        "id": asset_id_for(symbol),
        "class": "us_equity",
        "exchange": "NASDAQ",
        "symbol": symbol,
        "name": symbol,
        "status": "active",
        "tradable": True,
        "marginable": True,
        "shortable": True,
        "easy_to_borrow": True,
        "fractionable": True,
        "attributes": [],
    }


async def list_assets(request: Request, broker: SimBroker) -> Response:
    return json_response([_asset(s) for s in dict.fromkeys([*broker.symbols, *broker.config.listed_symbols])])


async def get_asset(request: Request, broker: SimBroker) -> Response:
    symbol = request.path_params["symbol"].upper()
    if symbol not in broker.symbols and not broker.config.lists(symbol):
        raise Rejection(404, 40410000, "asset not found")
    return json_response(_asset(symbol))


# ------------------------------------------------------------------ market data REST
def _bar_json(b: Any) -> dict[str, Any]:
    return {
        "t": iso_utc(b.ts_ns),
        "o": b.open,
        "h": b.high,
        "l": b.low,
        "c": b.close,
        "v": b.volume,
        "n": b.trade_count,
        "vw": b.vwap,
    }


def _bars_for(request: Request, broker: SimBroker, symbols: list[str]) -> tuple[dict[str, list[Any]], str | None]:
    q = request.query_params
    timeframe = q.get("timeframe", "1Day")
    if timeframe not in ("1Min", "1Day", "1D", "1T"):
        raise Rejection(422, CODE_INVALID, f"invalid timeframe: {timeframe!r} (the sim broker serves 1Min and 1Day)")
    timeframe = "1Min" if timeframe in ("1Min", "1T") else "1Day"
    now = broker.clock.now_ns()
    start = _parse_time(q.get("start"), "start") or now - 365 * 86_400_000_000_000
    end = _parse_time(q.get("end"), "end") or now
    limit = _int_param(request, "limit", 1000, 1, 10_000)
    sort = q.get("sort", "asc")
    if sort not in ("asc", "desc"):
        raise Rejection(422, CODE_INVALID, f"invalid sort: {sort!r} (asc or desc)")
    token = q.get("page_token")
    if token:
        try:
            if sort == "desc":
                end = int(token)
            else:
                start = int(token)
        except ValueError:
            raise Rejection(422, CODE_INVALID, "invalid page_token") from None
    out: dict[str, list[Any]] = {}
    next_token = None
    remaining = limit
    for sym in symbols:
        if sort == "desc":
            bars = _newest_bars(broker, sym, timeframe, start, end, remaining + 1)
        else:
            bars = broker.market.bars(sym, timeframe, start, end, remaining + 1)
        if len(bars) > remaining:
            next_token = str(bars[remaining].ts_ns)
            bars = bars[:remaining]
        out[sym] = [_bar_json(b) for b in bars]
        remaining -= len(bars)
        if remaining <= 0:
            break
    return out, next_token


def _newest_bars(broker: SimBroker, symbol: str, timeframe: str, start: int, end: int, n: int) -> list[Any]:
    """The newest `n` bars in [start, end], newest first (Alpaca's sort=desc): a window
    back from `end`, widened until it holds `n` bars or reaches `start`."""
    step = 60_000_000_000 if timeframe == "1Min" else 86_400_000_000_000
    span = 4 * n * step  # sessions cover about a quarter of the clock
    while True:
        lo = max(start, end - span)
        bars = broker.market.bars(symbol, timeframe, lo, end, 1_000_000)
        if len(bars) >= n or lo == start:
            return bars[::-1][:n]
        span *= 4


async def stock_bars(request: Request, broker: SimBroker) -> Response:
    symbols = [s.strip().upper() for s in request.query_params.get("symbols", "").split(",") if s.strip()]
    if not symbols:
        raise Rejection(422, CODE_INVALID, "symbols is required")
    bars, token = _bars_for(request, broker, symbols)
    return json_response({"bars": bars, "next_page_token": token})


async def stock_bars_single(request: Request, broker: SimBroker) -> Response:
    symbol = request.path_params["symbol"].upper()
    bars, token = _bars_for(request, broker, [symbol])
    return json_response({"bars": bars.get(symbol, []), "symbol": symbol, "next_page_token": token})


def _latest_quote(broker: SimBroker, symbol: str) -> dict[str, Any] | None:
    q = broker.engine.quote(symbol)
    if q is None:
        return None
    return {"t": iso_utc(q.ts_ns), **quote_fields(q)}


async def latest_quotes(request: Request, broker: SimBroker) -> Response:
    symbols = [s.strip().upper() for s in request.query_params.get("symbols", "").split(",") if s.strip()]
    quotes = {s: q for s in symbols if (q := _latest_quote(broker, s)) is not None}
    return json_response({"quotes": quotes})


async def latest_quote_single(request: Request, broker: SimBroker) -> Response:
    symbol = request.path_params["symbol"].upper()
    q = _latest_quote(broker, symbol)
    if q is None:
        raise Rejection(404, 40410000, f"no quote for {symbol}")
    return json_response({"symbol": symbol, "quote": q})


# ------------------------------------------------------------------ admin (faults, test control)
async def admin_get_faults(request: Request, broker: SimBroker) -> Response:
    return json_response(broker.faults.describe())


async def admin_set_faults(request: Request, broker: SimBroker) -> Response:
    spec = await _body(request)
    try:
        broker.faults.update(spec)
    except (FaultError, ValueError) as exc:
        raise Rejection(422, CODE_INVALID, str(exc)) from None
    if isinstance(spec, dict):
        for name, stall in (("trade_stream", broker.stall_trade_stream), ("data_stream", broker.stall_data_stream)):
            seconds = (spec.get(name) or {}).get("stall_seconds") or 0
            if seconds:
                stall(float(seconds))
    log.info("faults set: %s", sorted(spec) if isinstance(spec, dict) else spec)
    return json_response(broker.faults.describe())


async def admin_clear_faults(request: Request, broker: SimBroker) -> Response:
    broker.faults.clear()
    broker.trade_stall_until_ns = broker.data_stall_until_ns = 0
    return json_response(broker.faults.describe())


async def admin_disconnect(request: Request, broker: SimBroker) -> Response:
    spec = await _body(request)
    stream = spec.get("stream", "all") if isinstance(spec, dict) else "all"
    closed = 0
    if stream in ("trade", "all"):
        for sub in list(broker.trade_subs):
            sub.close(1011)
            closed += 1
        broker.trade_subs.clear()
    if stream in ("data", "all"):
        for sub in list(broker.data_subs.values()):
            sub.close(1011)
            closed += 1
    return json_response({"closed": closed})


async def admin_quote(request: Request, broker: SimBroker) -> Response:
    spec = await _body(request)
    try:
        quote = Quote(
            symbol=str(spec["symbol"]).upper(),
            bid_price=float(spec["bid"]),
            bid_size=float(spec.get("bid_size", 100)),
            ask_price=float(spec["ask"]),
            ask_size=float(spec.get("ask_size", 100)),
            ts_ns=broker.clock.now_ns(),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Rejection(422, CODE_INVALID, f"quote: missing or invalid field {exc}") from None
    broker.engine.check_quote(quote)
    broker.inject_quote(quote)
    return json_response({"ok": True})


async def admin_market(request: Request, broker: SimBroker) -> Response:
    spec = await _body(request)
    if isinstance(spec, dict):
        if "paused" in spec:
            broker.paused = bool(spec["paused"])
        if "open" in spec:
            broker.force_open = None if spec["open"] is None else bool(spec["open"])
        if "quotes_per_second" in spec:
            broker.quotes_per_second = float(spec["quotes_per_second"])
    return json_response(
        {"paused": broker.paused, "open": broker.force_open, "quotes_per_second": broker.quotes_per_second}
    )


async def admin_state(request: Request, broker: SimBroker) -> Response:
    engine = broker.engine
    return json_response(
        {
            **broker.stats,
            "orders": len(engine.orders),
            "open_orders": len(engine.open_orders()),
            "positions": {s: str(p.qty) for s, p in engine.account.positions.items()},
            "trade_stream_clients": len(broker.trade_subs),
            "data_stream_clients": len(broker.data_subs),
            "held_for_buys": {s: str(engine.held_for_orders(s, OrderSide.BUY)) for s in broker.symbols},
        }
    )


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


def routes(broker: SimBroker) -> list[Route]:
    def r(path: str, handler: Handler, methods: list[str], kind: str = "other") -> Route:
        return Route(path, _guard(handler, kind, broker), methods=methods)

    return [
        Route("/health", health, methods=["GET"]),
        r("/v2/account", get_account, ["GET"]),
        r("/v2/orders", post_order, ["POST"], "orders"),
        r("/v2/orders", list_orders, ["GET"]),
        r("/v2/orders", cancel_all_orders, ["DELETE"], "orders"),
        r("/v2/orders:by_client_order_id", get_order_by_client_id, ["GET"]),
        r("/v2/orders/{order_id}", get_order, ["GET"]),
        r("/v2/orders/{order_id}", cancel_order, ["DELETE"], "orders"),
        r("/v2/positions", list_positions, ["GET"]),
        r("/v2/positions", close_all_positions, ["DELETE"], "orders"),
        r("/v2/positions/{symbol}", get_position, ["GET"]),
        r("/v2/positions/{symbol}", close_position, ["DELETE"], "orders"),
        r("/v2/clock", get_clock, ["GET"]),
        r("/v2/assets", list_assets, ["GET"]),
        r("/v2/assets/{symbol}", get_asset, ["GET"]),
        r("/v2/stocks/bars", stock_bars, ["GET"]),
        r("/v2/stocks/{symbol}/bars", stock_bars_single, ["GET"]),
        r("/v2/stocks/quotes/latest", latest_quotes, ["GET"]),
        r("/v2/stocks/{symbol}/quotes/latest", latest_quote_single, ["GET"]),
        r("/admin/faults", admin_get_faults, ["GET"], "admin"),
        r("/admin/faults", admin_set_faults, ["POST"], "admin"),
        r("/admin/faults", admin_clear_faults, ["DELETE"], "admin"),
        r("/admin/disconnect", admin_disconnect, ["POST"], "admin"),
        r("/admin/quote", admin_quote, ["POST"], "admin"),
        r("/admin/market", admin_market, ["POST"], "admin"),
        r("/admin/state", admin_state, ["GET"], "admin"),
    ]
