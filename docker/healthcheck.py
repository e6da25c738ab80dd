#!/usr/bin/env python3
"""Docker HEALTHCHECK of a py_rt container (stdlib only: it runs every few seconds).

Healthy means the process accepts work and serves its metrics:
  1. run/<service>.ready exists (written once the service is ready: market data subscribed
     to its feed, execution engine reconciled with the broker, ...), and
  2. GET http://127.0.0.1:<metrics_port>/metrics answers 200 (the port comes from the ready
     file, so it always matches config/system.json). The simulated broker has no /metrics:
     any HTTP answer on its port counts.

The service is PYRT_HEALTH_SERVICE if set, else read from the container's command line
(`pyrt run <service> ...`). Exit 0 healthy, 1 unhealthy, with one line saying why."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_S = 3.0


def service_from_cmdline(args: list[str]) -> str | None:
    """'market_data' from [..., 'pyrt', 'run', 'market-data', '--config-dir', ...]."""
    for i, arg in enumerate(args[:-1]):
        if arg == "run" and any(Path(a).name == "pyrt" for a in args[:i]):
            return args[i + 1].replace("-", "_")
    return None


def pid1_args() -> list[str]:
    try:
        raw = Path("/proc/1/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def check(service: str, run_dir: Path) -> str | None:
    """None if healthy, else the reason."""
    ready = run_dir / f"{service}.ready"
    try:
        info = json.loads(ready.read_text())
    except FileNotFoundError:
        return f"{ready} not written yet (starting, or not connected)"
    except ValueError as exc:
        return f"{ready} unreadable: {exc}"
    if service == "sim_broker":  # {"port": N, ...} (`pyrt run`) or N alone (`pyrt sim-broker --ready-file`)
        port, path = int(info.get("port") or 0) if isinstance(info, dict) else int(info), "/"
    else:
        port, path = int(info.get("metrics_port") or 0), "/metrics"
    if port <= 0:
        return f"{ready} has no port"
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return f"{url}: {exc}"
    if service != "sim_broker" and status != 200:
        return f"{url} answered {status}"
    return None


def main() -> int:
    service = os.environ.get("PYRT_HEALTH_SERVICE") or service_from_cmdline(pid1_args())
    if not service:
        print("unhealthy: cannot tell which py_rt service this container runs", file=sys.stderr)
        return 1
    run_dir = Path(os.environ.get("PYRT_ROOT", "/app")) / "run"
    problem = check(service, run_dir)
    if problem:
        print(f"{service} unhealthy: {problem}", file=sys.stderr)
        return 1
    print(f"{service} healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
