"""`pyrt up --chaos PROFILE`: run the system against the sim broker while it misbehaves in a
named way, and watch the order-safety invariants hold (or not) before going live.

Why: the review of 2026-12 found its worst defects (ghost orders, silent drift) only by
attacking a running system with broker faults. This makes that attack a one-liner a user can
watch: a monitor process applies the profile through the sim broker's fault endpoint
(`POST /admin/faults`), re-applies the periodic part (a rejection, a stream stall) every
period, and every `interval` seconds checks the invariants of `pyrt.ops.invariants` against
the broker, writing one line to logs/chaos.log and the latest report to run/chaos.json
(`pyrt chaos status`). It clears the faults when it stops, and stops by itself when the sim
broker goes away or `pyrt down` runs.

Refused unless the venue is the embedded sim broker: fault injection exists only there, and
no fault profile may ever be pointed at a real account.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrt.domain.errors import Refused

log = logging.getLogger("pyrt.chaos")

ENV_INTERVAL = "PYRT_CHAOS_INTERVAL_S"
NAME = "chaos"


@dataclass(frozen=True)
class Profile:
    """`faults` is applied once at start; `periodic` again every `period_s` seconds."""

    name: str
    description: str
    faults: dict[str, Any]
    periodic: dict[str, Any] = field(default_factory=dict)
    period_s: float = 30.0


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "flaky_network",
            "5% HTTP 500s, 3% 2-second hangs, 5% lost order replies",
            {
                "http_error": {"status": 500, "probability": 0.05, "paths": "all"},
                "hang": {"seconds": 2.0, "probability": 0.03, "paths": "all"},
                "drop_reply": {"probability": 0.05},
            },
        ),
        Profile(
            "slow_broker",
            "30% of order calls hang 3 seconds (client timeouts)",
            {"hang": {"seconds": 3.0, "probability": 0.3, "paths": "orders"}},
        ),
        Profile(
            "stream_drops",
            "trade updates dropped, duplicated and reordered (10% each); a 3 s stall every 30 s",
            {"trade_stream": {"drop": 0.1, "duplicate": 0.1, "reorder": 0.1}},
            {"trade_stream": {"drop": 0.1, "duplicate": 0.1, "reorder": 0.1, "stall_seconds": 3.0}},
            30.0,
        ),
        Profile(
            "rejections",
            "the broker rejects the next order every 20 s",
            {},
            {"reject_next": {"count": 1, "mode": "http", "message": "rejected by the chaos profile"}},
            20.0,
        ),
    )
}


class ChaosRefused(Refused, ValueError):
    """--chaos cannot be used as asked; the message says why."""


def validate(cfg: Any, profile: str) -> Profile:
    """The profile, or ChaosRefused naming the problem (unknown profile, venue not the sim)."""
    if profile not in PROFILES:
        raise ChaosRefused(f"--chaos {profile!r}: unknown profile (known: {', '.join(sorted(PROFILES))})")
    if not cfg.venue.embedded_sim:
        raise ChaosRefused(
            f"--chaos {profile}: refused, the venue is {cfg.venue.trading_url}, not the embedded sim "
            'broker (venue.kind = "sim" in system.json); fault injection exists only there'
        )
    return PROFILES[profile]


def status_path(cfg: Any) -> Path:
    return cfg.system.paths.run_dir / "chaos.json"


def pid_path(cfg: Any) -> Path:
    return cfg.system.paths.run_dir / "chaos.pid"


# --------------------------------------------------------------------------- the monitor
class Monitor:
    """Applies the profile and checks the invariants every `interval_s` until `stop` is set."""

    def __init__(self, cfg: Any, profile: Profile, interval_s: float) -> None:
        self.cfg, self.profile, self.interval_s = cfg, profile, interval_s
        self.stop = threading.Event()
        self.checks = self.violated = 0
        self.started = time.time()

    def _faults(self, method: str, body: Any = None) -> None:
        import requests

        s = self.cfg.secrets
        headers = {
            "APCA-API-KEY-ID": s.api_key_id.get_secret_value() if s.api_key_id else "",
            "APCA-API-SECRET-KEY": s.api_secret_key.get_secret_value() if s.api_secret_key else "",
        }
        r = requests.request(
            method, self.cfg.venue.trading_url + "/admin/faults", json=body, headers=headers, timeout=5
        )
        r.raise_for_status()

    def _should_stop(self) -> bool:
        from pyrt.ops.status import SIM_BROKER, live_pid
        from pyrt.ops.supervisor import down_in_progress

        return self.stop.is_set() or down_in_progress(self.cfg) or live_pid(self.cfg, SIM_BROKER) is None

    def check_once(self) -> dict[str, Any]:
        from pyrt.ops.invariants import check_deployment
        from pyrt.venues.port import VenueError

        try:
            report = check_deployment(self.cfg)
        except VenueError as exc:  # the checker reads through the same faulty broker
            line = f"check skipped: broker read failed ({exc})"
            log.warning(line)
            return {"ok": None, "line": line}
        self.checks += 1
        self.violated += not report.ok
        (log.info if report.ok else log.error)("invariants %s", report.line())
        return {**report.as_json(), "line": report.line()}

    def write_status(self, last: dict[str, Any]) -> None:
        from pyrt.persistence.files import write_atomic

        body = {
            "profile": self.profile.name,
            "description": self.profile.description,
            "pid": os.getpid(),
            "started": self.started,
            "checked_at": time.time(),
            "interval_s": self.interval_s,
            "checks": self.checks,
            "checks_violated": self.violated,
            "last": last,
        }
        write_atomic(status_path(self.cfg), json.dumps(body, indent=1).encode())

    def run(self) -> int:
        p = self.profile
        self._faults("POST", {**p.faults, **p.periodic})
        log.warning("chaos profile %s applied: %s", p.name, p.description)
        next_fault = time.monotonic() + p.period_s
        try:
            while not self._should_stop():
                self.write_status(self.check_once())
                if p.periodic and time.monotonic() >= next_fault:
                    self._faults("POST", p.periodic)
                    next_fault = time.monotonic() + p.period_s
                self.stop.wait(self.interval_s)
        finally:
            try:
                self._faults("DELETE")
                log.warning(
                    "chaos profile %s cleared after %d checks (%d violated)", p.name, self.checks, self.violated
                )
            except Exception as exc:
                log.warning("chaos faults not cleared (%s)", type(exc).__name__)
            pid_path(self.cfg).unlink(missing_ok=True)
        return 0


def run(config_dir: Path, profile: str, interval_s: float | None = None) -> int:
    from pyrt.config import load_config
    from pyrt.observability.logging import setup_logging

    cfg = load_config(config_dir)
    prof = validate(cfg, profile)
    setup_logging(NAME, cfg.system.paths.logs_dir, cfg.system.logging.level, json=cfg.system.logging.format == "json")
    interval = interval_s or float(os.environ.get(ENV_INTERVAL) or 10.0)
    pid_path(cfg).write_text(f"{os.getpid()}\n")
    monitor = Monitor(cfg, prof, interval)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: monitor.stop.set())
    return monitor.run()


# --------------------------------------------------------------------------- shell side
def start_monitor(cfg: Any, config_dir: Path, profile: str) -> subprocess.Popen[bytes]:
    """Start the monitor as its own process (it outlives a detached `pyrt up`)."""
    out = cfg.system.paths.logs_dir / f"{NAME}.out"
    with out.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "pyrt.ops.chaos", str(config_dir), profile],
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_monitor(cfg: Any, grace_s: float, say: Any) -> None:
    """`pyrt down`: stop the monitor first (it clears the faults on its way out)."""
    from pyrt.ops.status import is_pyrt_process, read_pid
    from pyrt.ops.supervisor import stop_pid

    pid = read_pid(pid_path(cfg))
    if pid is not None and is_pyrt_process(pid):
        say(stop_pid(NAME, pid, grace_s).describe(grace_s))
    pid_path(cfg).unlink(missing_ok=True)


def status_text(cfg: Any) -> tuple[str, int]:
    """`pyrt chaos status`: the latest summary and an exit code (0 ok, 1 violated, 3 none)."""
    try:
        body = json.loads(status_path(cfg).read_text())
    except FileNotFoundError:
        return "no chaos run in this deployment (start one with `pyrt up --chaos PROFILE`)", 3
    last = body.get("last", {})
    running = pid_path(cfg).exists()
    age = time.time() - body.get("checked_at", 0)
    text = (
        f"chaos profile {body['profile']} ({body['description']}): {'running' if running else 'stopped'}, "
        f"{body['checks']} checks, {body['checks_violated']} violated, last {age:.0f}s ago\n"
        f"  {last.get('line', '')}"
    )
    return text, 0 if last.get("ok") is not False and not body["checks_violated"] else 1


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), sys.argv[2]))
