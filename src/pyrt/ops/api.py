"""The REST control API (FastAPI): thin routes over the one ControlFacade, served by uvicorn
in a thread of the control process on `api.host:api.port` (OpenAPI docs at /docs).

Security: every /api/v1 route needs `Authorization: Bearer <token>`, reads included (they
show positions, orders, the account and the audit log); mutating routes (any method but
GET) need the admin token, reads accept the admin or the read-only token. The probes
/health and /ready and the docs (/docs, /openapi.json) are open. OpenAPI declares exactly
that: the bearer scheme on every /api/v1 route with its 401 (and 403), none on the probes.
A 401 says how to send the token (the header and the file it is in). The check runs before
anything else (before the body is even read), so a refused request changes nothing and
writes no audit entry; it is logged without the token. A non-loopback bind is refused unless PYRT_API_TOKEN was set explicitly.

Errors are mapped once, by the group of ``pyrt.domain.errors`` (`http_answer`): refused 409
(an ActionError carries its own status), bad input 422, retryable and needs-an-operator
503, always as {"detail": ...}."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from pyrt.bus.zmq import RequestTimeout
from pyrt.config.system import TRADING_SERVICES
from pyrt.config.types import is_loopback_host
from pyrt.domain.errors import BadInput, NeedsOperator, PyrtError, Refused, Retryable, group_of
from pyrt.ops.audit import Caller
from pyrt.ops.auth import TokenSet, load_tokens, token_path
from pyrt.ops.facade import ActionError
from pyrt.ops.status import CONTROL, pid_alive, read_ready_info
from pyrt.venues.port import VenueError

if TYPE_CHECKING:
    import uvicorn

    from pyrt.config import AppConfig
    from pyrt.ops.console.feed import ConsoleFeed
    from pyrt.ops.facade import ControlFacade

log = logging.getLogger("pyrt.api")

API_PREFIX = "/api/v1"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(
    auto_error=False,
    description="The admin token (data/api_token or PYRT_API_TOKEN); GET routes also accept the read-only token.",
)


# --------------------------------------------------------------------------- bodies
class ReasonBody(BaseModel):
    """Why (recorded in the audit log)."""

    reason: str = ""


class ActivateBody(ReasonBody):
    mode: Literal["HALTED", "REDUCING"] = Field(
        "HALTED", description="HALTED: no order passes; REDUCING: only exposure-reducing orders."
    )


class DeactivateBody(ReasonBody):
    force: bool = Field(False, description="Deactivate even though the trigger condition still holds.")


class OrderBody(ReasonBody):
    symbol: str
    side: Literal["buy", "sell"]
    qty: Decimal = Field(gt=0)
    order_type: Literal["market", "limit"] = "market"
    limit_price: Decimal | None = Field(None, gt=0)
    time_in_force: Literal["day", "gtc", "ioc", "fok"] = "day"


class ModelDeployBody(ReasonBody):
    path: str = Field(description="The .onnx file on the control host (with its manifest).")
    shadow_bars: int = Field(0, ge=0, le=100_000, description="Bars it predicts beside the served model first.")
    min_agreement: float = Field(0.0, ge=0.0, le=1.0, description="Shadow agreement needed for promotion.")


class LiquidateBody(ReasonBody):
    confirm: bool = Field(False, description="Without it only the plan is shown (dry run).")


class ReconcileBody(ReasonBody):
    apply: bool = Field(False, description="Adopt the broker's positions (audited).")


class EmergencyBody(ReasonBody):
    stop_services: bool = Field(True, description="Stop the four trading services after the cancels.")


# --------------------------------------------------------------------------- helpers

HTTP_STATUS: dict[type[PyrtError] | None, int] = {
    Refused: 409,
    BadInput: 422,
    Retryable: 503,
    NeedsOperator: 503,
    None: 503,
}
"""The API's answer to each group of errors (None: a PyrtError outside the groups)."""


def http_answer(exc: PyrtError) -> tuple[int, str]:
    """The one mapping of errors to HTTP answers: the status by group (an ActionError
    carries its own), the detail naming what failed."""
    status = exc.status if isinstance(exc, ActionError) else HTTP_STATUS[group_of(exc)]
    if isinstance(exc, RequestTimeout):
        return status, "a service did not answer (is the system running?)"
    if isinstance(exc, VenueError):
        return status, f"broker error: {exc}"
    return status, str(exc)


def _presented_token(header: str | None) -> str | None:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _source(request: Request) -> str:
    client = request.client
    return f"{client.host}:{client.port}" if client else "unknown"


def caller_of(request: Request, _credentials: HTTPAuthorizationCredentials | None = Security(_bearer)) -> Caller:
    """The audited caller: the token's name and the client's address (authentication
    itself is done by the middleware; `Security` documents the scheme in OpenAPI)."""
    return Caller(request.state.token_name, _source(request))


def services_ready(cfg: AppConfig) -> dict[str, bool]:
    """Control and each trading service: has a ready file whose pid is alive."""
    found = {}
    for name in (CONTROL, *TRADING_SERVICES):
        info = read_ready_info(cfg, name)
        found[name] = info is not None and pid_alive(int(info.get("pid", -1)))
    return found


def _result(result: dict[str, Any], ok: bool, failed_status: int = 503) -> JSONResponse:
    return JSONResponse(result, status_code=200 if ok else failed_status)


# --------------------------------------------------------------------------- the app
def how_to_authenticate(cfg: AppConfig, tokens: TokenSet) -> str:
    """The 401's advice: the header to send and where the token is (never the token)."""
    where = (
        "the PYRT_API_TOKEN the control process was started with" if tokens.from_env else f"the file {token_path(cfg)}"
    )
    return (
        "missing or invalid bearer token: send the header 'Authorization: Bearer <token>' with the admin token "
        f'from {where}, e.g. curl -H "Authorization: Bearer $(cat data/api_token)" ...'
        + ("; reads also accept PYRT_API_READ_TOKEN" if tokens.read_only else "")
    )


def build_api(
    cfg: AppConfig, facade: ControlFacade, tokens: TokenSet | None = None, feed: ConsoleFeed | None = None
) -> FastAPI:
    """The FastAPI app over `facade`, with the operator console at `/` (pyrt.ops.console;
    `feed` its live state, by default one that reads the facade on demand). `tokens`
    default to load_tokens(cfg) (which creates data/api_token and data/api_read_token,
    mode 0600, when PYRT_API_TOKEN / PYRT_API_READ_TOKEN are not set)."""
    from pyrt.ops.console.feed import ConsoleFeed
    from pyrt.ops.console.web import console_routes, security_headers

    tokens = tokens or load_tokens(cfg, create=True)
    feed = feed or ConsoleFeed(cfg, facade)
    unauthorized = how_to_authenticate(cfg, tokens)
    app = FastAPI(
        title="py_rt control API",
        version="1",
        description="Operator actions of py_rt (one facade under this API and the `pyrt` CLI). "
        "Every /api/v1 route needs a bearer token (header `Authorization: Bearer <token>`, the token in "
        "data/api_token or PYRT_API_TOKEN), reads included; mutating routes need the admin token, reads also "
        "accept the read-only token (PYRT_API_READ_TOKEN). /health and /ready are open.",
    )
    action_lock = threading.Lock()  # one operator action at a time (the kill switch never waits for it)

    def act(fn: Callable[[], Any]) -> Any:
        with action_lock:
            return fn()

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Callable[[Request], Any]) -> Any:
        if request.url.path.startswith(API_PREFIX):
            name = tokens.identify(_presented_token(request.headers.get("authorization")))
            if name is None:
                log.warning(
                    "api refused %s %s from %s: missing or invalid token",
                    request.method,
                    request.url.path,
                    _source(request),
                )
                return JSONResponse(
                    {"detail": unauthorized},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if request.method not in READ_METHODS and name != "admin":
                log.warning(
                    "api refused %s %s from %s: the %s token may not act",
                    request.method,
                    request.url.path,
                    _source(request),
                    name,
                )
                return JSONResponse(
                    {"detail": f"the {name} token may only read; this action needs the admin token"}, status_code=403
                )
            request.state.token_name = name
        return await call_next(request)

    @app.middleware("http")
    async def strict_headers(request: Request, call_next: Callable[[Request], Any]) -> Any:
        response = await call_next(request)
        security_headers(request.url.path, response.headers)
        return response

    @app.exception_handler(PyrtError)
    async def _pyrt_error(_request: Request, exc: PyrtError) -> JSONResponse:
        status, detail = http_answer(exc)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.get("/health", tags=["probes"])
    def health() -> dict[str, str]:
        """Liveness: the control process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["probes"])
    def ready() -> JSONResponse:
        """Readiness: the control process and the four trading services are ready (200), else 503."""
        found = services_ready(cfg)
        ok = all(found.values())
        return JSONResponse({"ready": ok, "services": found}, status_code=200 if ok else 503)

    app.include_router(_routes(facade, act))
    page, console_api = console_routes(feed, cfg.root / "results")
    app.include_router(
        console_api,
        dependencies=[Security(_bearer)],
        responses={401: {"description": "Missing or invalid bearer token (the body says which header and file)."}},
    )
    app.include_router(page)
    return app


def _routes(facade: ControlFacade, act: Callable[[Callable[[], Any]], Any]) -> APIRouter:
    r = APIRouter(
        prefix=API_PREFIX,
        dependencies=[Security(_bearer)],  # documents the scheme on every route; the middleware checks it
        responses={
            401: {"description": "Missing or invalid bearer token (the body says which header and file)."},
            403: {"description": "The read-only token on a mutating route."},
        },
    )

    # ------------------------------------------------------------------ reads
    @r.get("/status", tags=["read"])
    def status() -> dict[str, Any]:
        """Processes, circuit breaker, trading state, automatic trading, account, P&L."""
        return facade.status()

    @r.get("/positions", tags=["read"])
    def positions() -> list[dict[str, Any]]:
        """The broker's positions."""
        return facade.positions()

    @r.get("/orders", tags=["read"])
    def orders(
        status: Literal["open", "closed", "all"] = "open", limit: int = Query(100, ge=1, le=500)
    ) -> list[dict[str, Any]]:
        """The broker's orders."""
        return facade.orders(status, limit)

    @r.get("/orders/{order_id}", tags=["read"])
    def order(order_id: str) -> dict[str, Any]:
        """One order by our client_order_id or the broker's id, with its fills."""
        return facade.order(order_id)

    @r.get("/audit", tags=["read"])
    def audit(limit: int = Query(50, ge=1, le=10_000)) -> list[dict[str, Any]]:
        """The newest audit entries, oldest first."""
        return facade.audit.entries(limit)

    @r.get("/models", tags=["read"])
    def models() -> dict[str, Any]:
        """The model registry (models/, deploy history) and what the signal bridge serves."""
        return facade.models()

    # ------------------------------------------------------------------ actions
    @r.post("/models/deploy", tags=["models"], responses={409: {"description": "The model failed a gate (reason)."}})
    def model_deploy(b: ModelDeployBody, caller: Caller = Depends(caller_of)) -> dict[str, Any]:
        """`pyrt model deploy`: gate the file (ONNX, schema, parity fixture, finite output), copy
        it into models/, set signals.model_path and have the running signal bridge serve it."""
        return act(lambda: facade.deploy_model(caller, b.path, b.reason, b.shadow_bars, b.min_agreement))

    @r.post("/models/rollback", tags=["models"], responses={409: {"description": "No previous model."}})
    def model_rollback(caller: Caller = Depends(caller_of), b: ReasonBody | None = Body(None)) -> dict[str, Any]:
        """`pyrt model rollback`: serve the previously deployed model again, without a restart."""
        return act(lambda: facade.rollback_model(caller, (b or ReasonBody()).reason))

    @r.post("/circuit-breaker/activate", tags=["trading controls"])
    def breaker_activate(caller: Caller = Depends(caller_of), b: ActivateBody | None = Body(None)) -> dict[str, Any]:
        """Activate the circuit breaker (HALTED by default): new orders are refused."""
        b = b or ActivateBody()
        return act(lambda: facade.breaker_activate(caller, b.reason, b.mode))

    @r.post("/circuit-breaker/deactivate", tags=["trading controls"])
    def breaker_deactivate(
        caller: Caller = Depends(caller_of), b: DeactivateBody | None = Body(None)
    ) -> dict[str, Any]:
        """Deactivate the circuit breaker; a reason is required ({"reason": "..."}, else 422). After
        an automatic trip not before the cooldown unless {"force": true}; a manual activation
        has no cooldown."""
        b = b or DeactivateBody()
        return act(lambda: facade.breaker_deactivate(caller, b.reason, b.force))

    @r.post("/trading/enable", tags=["trading controls"])
    def trading_enable(caller: Caller = Depends(caller_of), b: ReasonBody | None = Body(None)) -> dict[str, Any]:
        """Resume automatic trading (leave safe mode). The answer's `blocked_by` lists what still
        denies every order (circuit breaker, a halted engine ...) with `next_steps`, and its
        detail says so plainly."""
        return act(lambda: facade.set_trading(caller, True, (b or ReasonBody()).reason))

    @r.post("/trading/disable", tags=["trading controls"])
    def trading_disable(caller: Caller = Depends(caller_of), b: ReasonBody | None = Body(None)) -> dict[str, Any]:
        """Stop automatic trading (safe mode): strategies compute signals but send no orders."""
        return act(lambda: facade.set_trading(caller, False, (b or ReasonBody()).reason))

    @r.post(
        "/orders",
        tags=["orders"],
        status_code=201,
        responses={
            202: {
                "description": "Outcome unknown: approved, but the execution engine did not answer in "
                "time; the order may have been sent. Check client_order_id, do not "
                "resend."
            },
            409: {"description": "Denied by risk (reason_code)."},
        },
    )
    def submit_order(b: OrderBody, caller: Caller = Depends(caller_of)) -> JSONResponse:
        """A manual order through the same risk checks as any strategy's: 201 when approved,
        409 with the reason code when denied, 202 when the outcome is unknown (the engine
        did not answer in time: the order may exist; see GET /api/v1/orders/{client_order_id})."""
        res = act(
            lambda: facade.submit_order(
                caller, b.symbol, b.side, b.qty, b.order_type, b.limit_price, b.time_in_force, b.reason
            )
        )
        if res.get("outcome") == "unknown":
            return JSONResponse(
                {
                    **res,
                    "detail": f"outcome unknown: {res['message']}; check it with "
                    f"GET /api/v1/orders/{res['client_order_id']} or `pyrt order --order-id`",
                },
                status_code=202,
                headers={"Location": f"{API_PREFIX}/orders/{res['client_order_id']}"},
            )
        if res["approved"]:
            return JSONResponse(res, status_code=201)
        return JSONResponse(
            {**res, "detail": f"denied by risk: {res['reason_code']}: {res['message']}"}, status_code=409
        )

    @r.delete("/orders", tags=["orders"])
    def cancel_all(caller: Caller = Depends(caller_of), b: ReasonBody | None = Body(None)) -> JSONResponse:
        """Cancel every open order; 200 once the broker confirms none is left, else 503."""
        res = act(lambda: facade.cancel_all(caller, (b or ReasonBody()).reason))
        return _result(res, bool(res.get("ok")))

    @r.delete("/orders/{order_id}", tags=["orders"])
    def cancel_order(
        order_id: str, caller: Caller = Depends(caller_of), b: ReasonBody | None = Body(None)
    ) -> dict[str, Any]:
        """Cancel one open order (our client_order_id or the broker's id); 409 when it is not open."""
        return act(lambda: facade.cancel_order(caller, order_id, (b or ReasonBody()).reason))

    @r.post("/positions/liquidate", tags=["positions"])
    def liquidate(caller: Caller = Depends(caller_of), b: LiquidateBody | None = Body(None)) -> JSONResponse:
        """Close every position with market orders and wait for the fills. Without
        {"confirm": true} only the plan is returned (dry run)."""
        b = b or LiquidateBody()
        res = act(lambda: facade.liquidate(caller, b.confirm, b.reason))
        return _result(res, bool(res.get("dry_run") or res.get("ok")))

    @r.post("/positions/reconcile", tags=["positions"])
    def reconcile(caller: Caller = Depends(caller_of), b: ReconcileBody | None = Body(None)) -> dict[str, Any]:
        """Our positions and open orders versus the broker's ("ok": false on a mismatch);
        with {"apply": true} adopt the broker's positions (audited)."""
        b = b or ReconcileBody()
        return act(lambda: facade.reconcile(caller, b.apply, b.reason))

    @r.post("/emergency-stop", tags=["trading controls"])
    def emergency_stop(caller: Caller = Depends(caller_of), b: EmergencyBody | None = Body(None)) -> JSONResponse:
        """The kill switch: halt, cancel every order and wait for the broker's zero, stop the
        trading services, notify. 200 when zero open orders are confirmed, else 503."""
        b = b or EmergencyBody()
        res = facade.emergency_stop(caller, b.reason, b.stop_services)  # never waits behind another action
        return _result(res, bool(res.get("ok")))

    # ------------------------------------------------------------------ processes
    @r.post(
        "/services/{name}/{action}",
        tags=["processes"],
        responses={
            409: {"description": "No `pyrt up` supervisor runs, or it could not do it."},
            422: {"description": "Unknown service (the answer lists the valid ones)."},
            503: {"description": "The supervisor did not answer in time."},
        },
    )
    def service_control(
        name: str,
        action: Literal["start", "stop", "restart"],
        caller: Caller = Depends(caller_of),
        b: ReasonBody | None = Body(None),
    ) -> dict[str, Any]:
        """`pyrt start|stop|restart SERVICE` through the `pyrt up` supervisor (market-data,
        risk-manager, execution-engine, signal-bridge, control, sim-broker). Answered once
        done: a start or restart once the process is ready; a stopped service stays down
        until started. Restarting `control` ends this very answer's connection."""
        b = b or ReasonBody()
        return facade.service_control(caller, action, name, b.reason)

    return r


# --------------------------------------------------------------------------- serving
class ApiRefused(NeedsOperator, RuntimeError):
    """The API must not start with this configuration."""


def check_bind(host: str, tokens: TokenSet) -> None:
    """Refuse a non-loopback bind unless the admin token was set explicitly (PYRT_API_TOKEN)."""
    if not is_loopback_host(host) and not tokens.from_env:
        raise ApiRefused(
            f"refusing to serve the control API on non-loopback host {host!r} with a generated token: "
            "set PYRT_API_TOKEN explicitly (and put TLS in front), or bind api.host to 127.0.0.1"
        )


class ApiServer:
    """uvicorn serving an app in a daemon thread, on a socket bound before the thread
    starts (so a busy port fails here, loudly)."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        import uvicorn

        self.host = host
        self.sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, lifespan="off", ws="none", timeout_graceful_shutdown=2)
        self.server: uvicorn.Server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, name="control-api", daemon=True
        )

    def start(self, timeout_s: float = 10.0) -> ApiServer:
        """Start serving; RuntimeError if uvicorn did not start within `timeout_s`."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self.server.started:
            self.close()
            raise RuntimeError("the control API did not start (see the log)")
        return self

    def close(self) -> None:
        """Stop serving (open connections get a short grace) and free the port."""
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(5)
        self.sock.close()


def start_api(cfg: AppConfig, facade: ControlFacade, feed: ConsoleFeed | None = None) -> ApiServer:
    """Load the tokens, check the bind, build the app and serve it on api.host:api.port."""
    from pyrt.observability.logging import register_secret

    tokens = load_tokens(cfg, create=True)
    for token in (tokens.admin, tokens.read_only):
        if token:
            register_secret(token)
    api = cfg.system.api
    check_bind(api.host, tokens)
    return ApiServer(build_api(cfg, facade, tokens, feed), api.host, api.port).start()
