"""The operator console on the control API: the page at `/`, its two pinned assets, the live
state (`/api/v1/console/state`, and the event stream `/api/v1/console/events`), and the
backtest reports found under `<root>/results/**/report.html`.

No Node at run time and no CDN: the page is one HTML file, one script and one style sheet
in `assets/`, served from here. Security:
- the page holds no data; every read and action is an /api/v1 call with the bearer token
  in the Authorization header (the API's middleware checks it and refuses a viewer's
  action with 403). No cookie is ever set, so a cross-site request carries no credential;
  the token stays in the tab's sessionStorage;
- strict headers on every answer (`SECURITY_HEADERS`, the CSP allows only this origin's
  own script, style and fetches; no inline script, no framing);
- a report opens through a signed link (HMAC of a per-process key, ten minutes) handed
  out by the authenticated report list; it is served with a CSP sandbox (an opaque
  origin: its own scripts, if any, cannot reach the API or the token)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

if TYPE_CHECKING:
    from pyrt.ops.console.feed import ConsoleFeed

ASSETS = Path(__file__).parent / "assets"
ASSET_TYPES = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
REPORT_CSP = (
    "sandbox allow-scripts; default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
OPEN_DOCS = ("/docs", "/redoc")  # FastAPI's own pages load their scripts from a CDN: no page CSP there
ROLE_OF_TOKEN = {"admin": "operator", "read-only": "viewer"}
REPORT_LINK_S = 600
SSE_POLL_S = 0.02
SSE_KEEPALIVE_S = 15.0


def security_headers(path: str, headers: Any) -> None:
    """Set the strict headers on an answer (a report keeps its own sandbox CSP)."""
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if not path.startswith(OPEN_DOCS):
        headers.setdefault("Content-Security-Policy", PAGE_CSP)
    if path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")


# --------------------------------------------------------------------------- reports
def find_reports(results: Path) -> list[str]:
    """Paths (relative to `results`, POSIX) of every report.html below it that really is
    inside it (a symlink out is skipped), newest first."""
    if not results.is_dir():
        return []
    base = results.resolve()
    found = []
    for path in results.rglob("report.html"):
        real = path.resolve()
        if real.is_file() and real.is_relative_to(base):
            found.append((real.stat().st_mtime, path.relative_to(results).as_posix()))
    return [rel for _mtime, rel in sorted(found, reverse=True)]


class ReportLinks:
    """Signed, expiring links to reports (the key lives only in this process)."""

    def __init__(self, results: Path, clock: Callable[[], float] = time.time) -> None:
        self.results = results
        self._key = secrets.token_bytes(32)
        self._clock = clock

    def _sig(self, rel: str, exp: int) -> str:
        return hmac.new(self._key, f"{rel}\n{exp}".encode(), hashlib.sha256).hexdigest()

    def listing(self) -> list[dict[str, Any]]:
        exp = int(self._clock()) + REPORT_LINK_S
        return [
            {"path": rel, "url": f"/reports/{rel}?exp={exp}&sig={self._sig(rel, exp)}"}
            for rel in find_reports(self.results)
        ]

    def open(self, rel: str, exp: str, sig: str) -> bytes:
        """The report's bytes; 403 for a bad or expired signature, 404 for a path that is
        not one of the reports."""
        try:
            exp_i = int(exp)
        except ValueError:
            raise HTTPException(403, "bad report link") from None
        if exp_i < self._clock() or not hmac.compare_digest(sig, self._sig(rel, exp_i)):
            raise HTTPException(403, "expired or bad report link: reopen it from the console")
        if rel not in find_reports(self.results):
            raise HTTPException(404, "no such report")
        return (self.results / rel).read_bytes()


# --------------------------------------------------------------------------- routes
def console_routes(feed: ConsoleFeed, results: Path) -> tuple[APIRouter, APIRouter]:
    """The page's routes (open: the page and its assets, and a signed report) and its
    /api/v1 reads (behind the API's token check)."""
    page = APIRouter(include_in_schema=False)
    api = APIRouter(prefix="/api/v1", tags=["console"])
    links = ReportLinks(results)
    html = (ASSETS / "console.html").read_bytes()

    @page.get("/")
    def index() -> HTMLResponse:
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    @page.get("/console/{name}")
    def asset(name: str) -> Response:
        if name not in ASSET_TYPES:
            raise HTTPException(404, "no such asset")
        return Response(
            (ASSETS / name).read_bytes(), media_type=ASSET_TYPES[name], headers={"Cache-Control": "no-cache"}
        )

    @page.get("/reports/{rel:path}")
    def report(rel: str, exp: str = "", sig: str = "") -> HTMLResponse:
        body = links.open(rel, exp, sig)
        return HTMLResponse(body, headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "no-store"})

    @api.get("/console/whoami")
    def whoami(request: Request) -> dict[str, str]:
        """The caller's role: operator (admin token) or viewer (read-only token)."""
        return {"role": ROLE_OF_TOKEN.get(request.state.token_name, "viewer")}

    @api.get("/console/state")
    def state() -> JSONResponse:
        """Everything the console shows, once."""
        return JSONResponse(feed.state())

    @api.get("/console/events", include_in_schema=False)  # a stream without end: not for schema-driven clients
    async def events(request: Request) -> StreamingResponse:
        """Server-sent events: the state whenever it changes (`event: state`)."""
        return StreamingResponse(
            _stream(feed, request), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}
        )

    @api.get("/reports")
    def reports() -> list[dict[str, Any]]:
        """The backtest reports under results/ (newest first), each with a signed link."""
        return links.listing()

    return page, api


async def _stream(feed: ConsoleFeed, request: Request) -> AsyncIterator[str]:
    seen = -1
    last_sent = time.monotonic()
    while not await request.is_disconnected():
        feed.touch()
        if feed.version != seen:
            state = await asyncio.to_thread(feed.state) if not feed.running else feed.state()
            seen = state["version"]
            last_sent = time.monotonic()
            yield f"event: state\nid: {seen}\ndata: {json.dumps(state, default=str, separators=(',', ':'))}\n\n"
        elif time.monotonic() - last_sent > SSE_KEEPALIVE_S:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(SSE_POLL_S)
