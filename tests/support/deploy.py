"""A temporary py_rt deployment for tests: a root directory holding config/ (copied from
the shipped files) with every port free and every path inside the root."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(n: int) -> list[int]:
    """n distinct free ports (all held open while choosing, so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


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
