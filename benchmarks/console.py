"""The operator console's figures, measured on a real deployment (`pyrt up --detach
--safe-mode` on the embedded sim broker, in a temporary directory) in Debian's headless
Chromium driven by Playwright:

- page weight: the bytes of the page and its two assets as served (target: under 300 KB);
- first render: from navigation start to the first painted state, token already in the
  tab's session (`body[data-first-render-ms]`, set by the page itself), over fresh
  browser contexts; its floor is the same navigation to a bare page of the same server
  (`/health`: no script, no data);
- fill latency: for manual market orders, from the broker's fill (the order's `filled_at`,
  the time of its trade update) to the fill's row showing on the page (target: 1 s); its
  floor is the broker's fill to the fill's record in the order journal (the engine has it;
  the page cannot show it sooner).

Prints each run's figures, then medians against targets and floors. Exit 0 always (figures,
not a test).  Usage: python benchmarks/console.py [--renders 10] [--fills 10]"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pyrt.config import load_config  # noqa: E402
from pyrt.domain.events import RecordKind  # noqa: E402
from pyrt.persistence.journal import Journal  # noqa: E402
from tests.support.console import SimBroker, api_url, chromium, login, tokens  # noqa: E402
from tests.support.deploy import make_deployment, wait_for  # noqa: E402

PYRT = [sys.executable, "-m", "pyrt"]
WEIGHT_TARGET = 300_000
RENDER_TARGET_MS = 1000.0
FILL_TARGET_MS = 1000.0


def pyrt(root: Path, config_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYRT_CONFIG_DIR": str(config_dir)}
    return subprocess.run(
        [*PYRT, *args, "--config-dir", str(config_dir)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def weight(api: str) -> int:
    total = 0
    for path in ("/", "/console/console.js", "/console/console.css"):
        res = requests.get(api + path, timeout=10)
        res.raise_for_status()
        total += len(res.content)
        print(f"  {path}: {len(res.content):,} bytes")
    return total


def first_renders(browser: object, api: str, token: str, n: int) -> tuple[list[float], list[float]]:
    renders, floors = [], []
    for _ in range(n):
        ctx = browser.new_context()  # type: ignore[attr-defined]
        page = ctx.new_page()
        page.goto(api + "/health")
        floors.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
        page.evaluate(f"sessionStorage.setItem('pyrt.console.token', {token!r})")
        page.goto(api + "/")
        page.wait_for_selector("body[data-first-render-ms]", timeout=15_000)
        renders.append(float(page.get_attribute("body", "data-first-render-ms")))
        ctx.close()
        print(f"  first render {renders[-1]:.0f} ms (bare page {floors[-1]:.0f} ms)")
    return renders, floors


def journal_fill_ns(journal_path: Path, coid: str) -> int | None:
    with Journal(journal_path, read_only=True) as j:
        return next(
            (r.ts_ns for r in j.iter_records() if r.kind == RecordKind.FILL and r.client_order_id == coid), None
        )


def fill_latencies(
    browser: object, api: str, token: str, broker: SimBroker, journal: Path, n: int
) -> tuple[list[float], list[float]]:
    page = browser.new_page()  # type: ignore[attr-defined]
    login(page, api, token)
    shown, floors = [], []
    for i in range(n):
        res = requests.post(
            api + "/api/v1/orders",
            json={"symbol": "AAPL", "side": "buy" if i % 2 == 0 else "sell", "qty": "1", "reason": "console benchmark"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=15,
        )
        res.raise_for_status()
        coid = res.json()["client_order_id"]
        row = page.wait_for_selector(f'#fills tr[data-coid="{coid}"]', timeout=15_000)
        shown_ms = int(row.get_attribute("data-shown-at"))
        filled_ms = datetime.fromisoformat(broker.order(coid)["filled_at"]).timestamp() * 1000
        journal_ns = wait_for(lambda c=coid: journal_fill_ns(journal, c), 10, "the journalled fill")
        shown.append(shown_ms - filled_ms)
        floors.append(journal_ns / 1e6 - filled_ms)
        print(f"  fill {coid}: on the page {shown[-1]:.0f} ms after the broker's fill (journal: {floors[-1]:.0f} ms)")
        time.sleep(0.3)
    return shown, floors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--renders", type=int, default=10)
    ap.add_argument("--fills", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pyrt-console-bench-") as tmp:
        root = Path(tmp)
        config_dir = make_deployment(root, system={"sim_broker": {"quotes_per_second": 10, "seed": 11}})
        up = pyrt(root, config_dir, "up", "--detach", "--safe-mode")
        if up.returncode != 0:
            print(f"pyrt up exited {up.returncode}:\n{up.stdout}\n{up.stderr}")
            return 1
        try:
            cfg = load_config(config_dir)
            run_dir = cfg.system.paths.run_dir
            api = api_url(run_dir)
            admin, _viewer = tokens(root)
            print("page weight:")
            total = weight(api)
            with chromium() as browser:
                print("first render:")
                renders, render_floors = first_renders(browser, api, admin, args.renders)
                print("fill latency:")
                shown, fill_floors = fill_latencies(
                    browser, api, admin, SimBroker(run_dir), cfg.system.execution.journal_path, args.fills
                )
        finally:
            pyrt(root, config_dir, "down", "--grace", "10")
    med = statistics.median
    print()
    print(f"page weight      {total:>10,} bytes    target < {WEIGHT_TARGET:,}")
    print(
        f"first render     {med(renders):>10.0f} ms (median of {len(renders)}, max {max(renders):.0f})"
        f"    floor (bare page) {med(render_floors):.0f} ms    target < {RENDER_TARGET_MS:.0f} ms"
    )
    print(
        f"fill on the page {med(shown):>10.0f} ms (median of {len(shown)}, max {max(shown):.0f})"
        f"    floor (fill journalled) {med(fill_floors):.0f} ms    target < {FILL_TARGET_MS:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
