"""A stand-in for a real service, run by the supervisor as
`pyrt run <service> --module tests.integration.supervisor.fake_service`. It uses the real
ServiceRuntime (pid/ready files, /metrics, signals) and is steered by environment variables:

- FAKE_EVENTS: a file where it appends "<event> <service>" lines (start, ready, term, exit);
- FAKE_FAIL: services that exit with code 3 before they are ready;
- FAKE_HANG: services that never become ready;
- FAKE_IGNORE_TERM: services that ignore SIGTERM (they must be SIGKILLed);
- FAKE_CRASH: services that exit with code 1 half a second after they are ready, every time.
The start event records PYRT_SAFE_MODE as `safe=<value>`.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from pyrt.services.runtime import ServiceRuntime


def _listed(var: str, service: str) -> bool:
    return service in os.environ.get(var, "").split(",")


def _event(what: str, service: str, extra: str = "") -> None:
    path = os.environ.get("FAKE_EVENTS")
    if path:
        with open(path, "a") as fh:
            fh.write(f"{what} {service} {time.monotonic():.6f} {extra}\n")


def run(config_dir: Path) -> int:
    """The service named in PYRT_SERVICE, doing nothing but being alive."""
    service = os.environ["PYRT_SERVICE"]
    _event("start", service, f"safe={os.environ.get('PYRT_SAFE_MODE', '')}")
    if _listed("FAKE_FAIL", service):
        print(f"fake {service}: failing on purpose", flush=True)
        return 3
    with ServiceRuntime(service, config_dir) as rt:
        m = rt.metrics
        if m.market_data is not None:
            m.market_data.websocket_connected.set(1)
            m.market_data.messages_received.labels(type="quote").inc(42)
        if m.risk is not None:
            m.risk.checks_performed.inc(7)
        if m.execution is not None:
            m.execution.orders_submitted.inc(3)
            m.execution.orders_filled.inc(2)
        m.common.messages_processed.inc(5)
        if _listed("FAKE_IGNORE_TERM", service):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not _listed("FAKE_HANG", service):
            rt.mark_ready()
            _event("ready", service)
        if _listed("FAKE_CRASH", service):
            rt.stop_event.wait(0.5)
            print(f"fake {service}: crashing on purpose", flush=True)
            os._exit(1)
        while not rt.stop_event.wait(0.05):
            pass
        _event("term", service)
    _event("exit", service)
    return 0
