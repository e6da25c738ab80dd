"""Driving the operator console in Debian's headless Chromium (Playwright for Python, with
the system's browser: Playwright's own browser download is never used; the package comes
from scripts/dev/install_tools.sh). Shared by the console e2e test and its benchmark."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from pyrt.simbroker.broker import LOCAL_KEYS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright Browser), closed on the way out."""
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed: run bash scripts/dev/install_tools.sh")
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def login(page: Any, api: str, token: str, timeout_ms: float = 15_000) -> None:
    """Open the console and log in with `token`; returns once the console shows."""
    page.goto(api + "/")
    page.fill("#token", token)
    page.click("#login-button")
    page.wait_for_selector("#console:not([hidden])", timeout=timeout_ms)


def tokens(root: Path) -> tuple[str, str]:
    """The operator's and the viewer's token files of a deployment root."""
    data = root / "data"
    return (data / "api_token").read_text().strip(), (data / "api_read_token").read_text().strip()


def api_url(run_dir: Path) -> str:
    info = json.loads((run_dir / "control.ready").read_text())
    return f"http://127.0.0.1:{info['api_port']}"


class SimBroker:
    """The embedded sim broker's REST, asked directly (what the broker says)."""

    def __init__(self, run_dir: Path) -> None:
        info = json.loads((run_dir / "sim_broker.ready").read_text())
        port = info["port"] if isinstance(info, dict) else info
        self.url = f"http://127.0.0.1:{port}"
        ((key, secret),) = LOCAL_KEYS.items()
        self.headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}

    def get(self, path: str, **params: Any) -> Any:
        res = requests.get(self.url + path, params=params, headers=self.headers, timeout=10)
        res.raise_for_status()
        return res.json()

    def positions(self) -> dict[str, str]:
        return {p["symbol"]: p["qty"] for p in self.get("/v2/positions")}

    def order(self, client_order_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/v2/orders:by_client_order_id", client_order_id=client_order_id)
        return result


def page_positions(page: Any) -> dict[str, str]:
    """{symbol: qty} as the console's positions table shows them."""
    rows = page.query_selector_all("#positions tbody tr[data-symbol]")
    return {r.get_attribute("data-symbol"): r.get_attribute("data-qty") for r in rows}
