"""A temporary py_rt deployment for tests: a root directory holding config/ (copied from
the shipped files) with every port free and every path inside the root."""

from __future__ import annotations

import itertools
import json
import os
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


# Ports for the services a test starts are taken below the kernel's ephemeral range: a port
# picked from that range (bind to port 0, close, hand the number to a service) can be taken in
# the meantime as the source port of any outgoing connection on the machine, and with the
# suite running in two xdist workers that happened (a service failed with EADDRINUSE). Each
# worker draws from its own slice, in order from a random start, and every port is checked
# free before it is handed out.
_LOW, _HIGH = 20000, 32000


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _worker_slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    high = min(_HIGH, _ephemeral_floor())
    width = (high - _LOW) // count
    start = _LOW + (index % count) * width
    return range(start, start + width)


_SLICE = _worker_slice()
_cursor = itertools.count(random.randrange(len(_SLICE)))


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A free loopback port no other test worker and no outgoing connection will take."""
    for _ in range(len(_SLICE)):
        port = _SLICE[next(_cursor) % len(_SLICE)]
        if _is_free(port):
            return port
    raise RuntimeError(f"no free port in {_SLICE.start}-{_SLICE.stop - 1}")


def free_ports(n: int) -> list[int]:
    """n distinct free ports."""
    return [free_port() for _ in range(n)]


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


# fast strategies (a few orders a minute on the sim's market): e2e tests, chaos mode, the soak
FAST_STRATEGIES = [
    {
        "name": "ema_fast",
        "kind": "ema_crossover",
        "symbols": ["AAPL", "MSFT"],
        "params": {"fast": 2, "slow": 5, "source": "quote", "sample_interval_s": 1},
    },
    {
        "name": "rsi_fast",
        "kind": "rsi_mean_reversion",
        "symbols": ["GOOGL"],
        "params": {"period": 3, "oversold": 45, "overbought": 55, "source": "quote", "sample_interval_s": 1},
    },
]


def make_deployment(
    root: Path, sim_url: str | None = None, system: dict[str, Any] | None = None, risk_toml: str | None = None
) -> Path:
    """Create root/config with free ports; returns the config dir. With `sim_url` the venue
    points at that (already running) sim broker; without it `pyrt up` embeds its own on a
    free port."""
    cfg = json.loads((REPO / "config" / "system.json").read_text())
    ports = iter(free_ports(20))
    tcp = lambda: f"tcp://127.0.0.1:{next(ports)}"  # noqa: E731
    cfg["market_data"]["zmq_publish_address"] = tcp()
    cfg["risk"]["intent_endpoint"] = tcp()
    cfg["risk"]["publish_address"] = tcp()
    cfg["execution"]["order_endpoint"] = tcp()
    cfg["execution"]["report_publish_address"] = tcp()
    cfg["signals"]["publish_address"] = tcp()
    cfg["signals"]["control_endpoint"] = tcp()
    for name in ("gateway", "market_data", "risk_manager", "execution_engine", "signal_bridge"):
        cfg["metrics"][name] = next(ports)
    cfg["api"]["port"] = next(ports)
    cfg["sim_broker"]["port"] = next(ports)
    cfg["sim_broker"]["rate_limit_per_minute"] = 100_000
    if sim_url:
        cfg["venue"]["trading_url"] = sim_url
    _merge(cfg, system or {})
    config_dir = root / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "system.json").write_text(json.dumps(cfg, indent=2))
    (config_dir / "risk_limits.toml").write_text(risk_toml or (REPO / "config" / "risk_limits.toml").read_text())
    return config_dir


def wait_for(cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition", interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
