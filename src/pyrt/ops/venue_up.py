"""The venue of a stopped sim system, reachable for the commands that need the broker while
our services are down (`pyrt reconcile` in step 4 of the guide's Restore from Critical
Failure, after step 1 stopped everything).

A real broker is up whether we run or not. The built-in sim broker is a process of
`pyrt up`, so it stops with the system; its state (orders, fills, positions, the account)
lives in its own database, which a restore does not roll back (ops.backup). `reachable_venue`
starts it from that state for the length of one command and stops it again, so the command
sees the same broker the engine will see when the system starts."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pyrt.config import AppConfig
from pyrt.config.system import SIM_BROKER
from pyrt.domain.errors import NeedsOperator
from pyrt.ops.status import live_pid, pid_file, read_ready_info, ready_file

READY_TIMEOUT_S = 30.0


class VenueUnavailable(NeedsOperator, RuntimeError):
    """The sim broker could not be started for the command."""


@contextmanager
def reachable_venue(cfg: AppConfig, say: Callable[[str], None] = print) -> Iterator[bool]:
    """Make the venue reachable for the block: a no-op (yields False) when the venue is not
    the built-in sim broker or it is already running; otherwise the sim broker is started
    from its own state, and stopped after the block (yields True)."""
    if not cfg.venue.embedded_sim or live_pid(cfg, SIM_BROKER) is not None:
        yield False
        return
    from pyrt.ops.supervisor import child_command, stop_pid

    logs = cfg.system.paths.logs_dir
    logs.mkdir(parents=True, exist_ok=True)
    cfg.system.paths.run_dir.mkdir(parents=True, exist_ok=True)
    ready_file(cfg, SIM_BROKER).unlink(missing_ok=True)
    with (logs / f"{SIM_BROKER}.out").open("ab") as out:
        proc = subprocess.Popen(
            child_command(SIM_BROKER, cfg.config_dir),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not (read_ready_info(cfg, SIM_BROKER) and live_pid(cfg, SIM_BROKER, clean=False) == proc.pid):
            if proc.poll() is not None:
                raise VenueUnavailable(
                    f"the sim broker (the venue) exited with {proc.returncode} while starting: see {logs}/sim_broker.log"
                )
            if time.monotonic() > deadline:
                raise VenueUnavailable(f"the sim broker (the venue) was not ready within {READY_TIMEOUT_S:g}s")
            time.sleep(0.05)
        say("(the system is stopped: started the sim broker from its own state for this command; stopping it after)")
        yield True
    finally:
        if proc.poll() is None:
            stop_pid(SIM_BROKER, proc.pid, 5.0, alive=lambda _pid: proc.poll() is None)
        pid_file(cfg, SIM_BROKER).unlink(missing_ok=True)
        ready_file(cfg, SIM_BROKER).unlink(missing_ok=True)


__all__ = ["VenueUnavailable", "reachable_venue"]
