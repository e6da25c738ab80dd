"""Per-service control of a running system (`pyrt start|stop|restart SERVICE`, the control
API's POST /services/{name}/{action}) and what the supervisor publishes about its children.

The `pyrt up` supervisor (foreground or detached) is the one actor that starts and stops
processes; the others talk to it through two things in the run directory:

- run/supervisor.requests/<id>.json: a request {"action", "service"}; the supervisor does it
  and answers in <id>.done ({"ok", "message"}); `request` writes one and waits for its answer;
- run/supervisor.json: the supervisor's state, rewritten at every change: restarts per
  process (the `supervisor_restarts_total` metric of the control process and the RESTARTS
  column of `pyrt status`), the processes held down on purpose (`pyrt stop`, the emergency
  stop: not restarted until `pyrt start`), each process's state and its last exit."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyrt.config import AppConfig
from pyrt.domain.errors import BadInput, Refused, Retryable
from pyrt.ops.gateway import Family, Sample
from pyrt.ops.status import (
    SUPERVISOR,
    SUPERVISOR_STATE,
    canonical_target,
    expected_targets,
    run_dir,
    supervisor_pid,
    supervisor_state,
)

ACTIONS = ("start", "stop", "restart")
REQUESTS_DIR = "supervisor.requests"
ANSWER_SUFFIX = ".done"
TAKEN_SUFFIX = ".taken"
DEFAULT_TIMEOUT_S = 120.0


class UnknownService(BadInput, ValueError):
    """A service name that is not a process of this deployment."""


class NotRunning(Retryable, RuntimeError):
    """The `pyrt up` supervisor did not answer (it exited, or took too long)."""


class NoSupervisor(NotRunning):
    """No `pyrt up` supervisor runs for this deployment (stopped, or run another way, such
    as systemd units): asking again will not help until one is started."""


class ControlRefused(Refused, RuntimeError):
    """The supervisor could not do what was asked (its answer says why)."""


# --------------------------------------------------------------------------- state
def state_path(cfg: AppConfig) -> Path:
    return run_dir(cfg) / SUPERVISOR_STATE


def write_json_atomic(path: Path, data: Any) -> None:
    """Write `data` as JSON to `path` so that a reader sees the old or the new file, whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def restart_counts(cfg: AppConfig) -> dict[str, int]:
    """Restarts per process since the running supervisor started ({} if none runs)."""
    raw = supervisor_state(cfg).get("restarts", {})
    return {str(k): int(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def supervisor_families(cfg: AppConfig) -> list[Family]:
    """The supervisor's metrics for the control process's /metrics: restarts per process
    (`supervisor_restarts_total{service}`) and the processes held down on purpose
    (`supervisor_service_held{service}`). No families when no supervisor runs."""
    state = supervisor_state(cfg)
    if not state:
        return []
    restarts = state.get("restarts") or {}
    held = set(state.get("held") or ())
    names = expected_targets(cfg)
    total = Family(
        "supervisor_restarts_total", "Processes restarted by the pyrt up supervisor after a crash", "counter"
    )
    total.samples = [Sample(total.name, [("service", n)], str(int(restarts.get(n, 0)))) for n in names]
    down = Family("supervisor_service_held", "1 while the process is stopped on purpose (pyrt stop SERVICE)", "gauge")
    down.samples = [Sample(down.name, [("service", n)], "1" if n in held else "0") for n in names]
    return [total, down]


# --------------------------------------------------------------------------- requests
def valid_service(cfg: AppConfig, name: str) -> str:
    """The process name of `name` ('market-data' -> 'market_data'); UnknownService listing
    the valid names for anything that is not a process of this deployment."""
    valid = expected_targets(cfg)
    listing = ", ".join(t.replace("_", "-") for t in valid)
    try:
        target = canonical_target(name)
    except ValueError:
        raise UnknownService(f"unknown service {name!r}; valid services: {listing}") from None
    if target not in valid:
        raise UnknownService(f"{name!r} is not a process of this deployment; valid services: {listing}")
    return target


def request(cfg: AppConfig, action: str, service: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Ask the running supervisor to start, stop or restart `service` and wait for its
    answer (the message it returns). UnknownService, NotRunning, ControlRefused; a
    supervisor that does not answer in `timeout_s` is NotRunning too."""
    if action not in ACTIONS:
        raise UnknownService(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    target = valid_service(cfg, service)
    pid = supervisor_pid(cfg)
    if pid is None:
        raise NoSupervisor(
            f"the system is not running under `pyrt up` (no supervisor for {run_dir(cfg)}): start it with "
            "`pyrt up`; services run as systemd units are controlled with systemctl"
        )
    folder = run_dir(cfg) / REQUESTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    ident = uuid.uuid4().hex
    path = folder / f"{ident}.json"
    answer = folder / f"{ident}{ANSWER_SUFFIX}"
    write_json_atomic(path, {"action": action, "service": target, "requested_at": time.time()})
    deadline = time.monotonic() + timeout_s
    try:
        while not answer.exists():
            if supervisor_pid(cfg) is None:
                raise NotRunning(f"the {SUPERVISOR} (pid {pid}) exited before it answered")
            if time.monotonic() > deadline:
                raise NotRunning(f"the {SUPERVISOR} (pid {pid}) did not answer within {timeout_s:g}s")
            time.sleep(0.05)
        result = json.loads(answer.read_text())
    finally:
        for leftover in (path, path.with_suffix(TAKEN_SUFFIX), answer):
            leftover.unlink(missing_ok=True)
    if not result.get("ok"):
        raise ControlRefused(str(result.get("message")))
    return str(result.get("message"))


def pending(cfg: AppConfig) -> Iterator[tuple[Path, str, str]]:
    """The requests waiting for the supervisor, oldest first: (path, action, service), each
    taken (renamed <id>.taken: yielded once). A malformed one is answered (refused) and
    skipped."""
    folder = run_dir(cfg) / REQUESTS_DIR
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json")):
        taken = path.with_suffix(TAKEN_SUFFIX)
        try:
            path.rename(taken)
            data = json.loads(taken.read_text())
            action, service = str(data["action"]), str(data["service"])
        except FileNotFoundError:  # its client gave up and removed it
            continue
        except (OSError, ValueError, KeyError, TypeError) as exc:
            answer(taken, False, f"malformed request {path.name}: {exc}")
            continue
        yield taken, action, service


def answer(path: Path, ok: bool, message: str) -> None:
    """The supervisor's answer to the request taken in `path`."""
    write_json_atomic(path.with_suffix(ANSWER_SUFFIX), {"ok": ok, "message": message})
