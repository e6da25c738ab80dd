"""`pyrt up --detach`: the same supervisor as the foreground `pyrt up`, in the background.

The command starts `pyrt up --background ...` in its own session and relays its output
(stdout to stdout, stderr to stderr) until that supervisor has started everything: it then
prints DETACHED and moves its own output to logs/supervisor.out, which ends the relay, and
keeps watching (restarts, `pyrt start|stop|restart`) until `pyrt down`. The command's exit
code is 0 once detached, else the background supervisor's (1: start-up failed)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pyrt.ops.supervisor import SupervisorOptions

DETACHED = "---- pyrt up: detached ----"


def background_command(config_dir: Path, opts: SupervisorOptions) -> list[str]:
    """The command line of the background supervisor for these options."""
    cmd = [sys.executable, "-m", "pyrt", "up", "--background", "--config-dir", str(config_dir)]
    cmd += ["--ready-timeout", repr(opts.ready_timeout_s), "--grace", repr(opts.stop_grace_s)]
    if opts.safe_mode:
        cmd.append("--safe-mode")
    if not opts.stop_on_exit:
        cmd.append("--keep-on-exit")
    for name, module in opts.modules.items():
        cmd += ["--service-module", f"{name}={module}"]
    if opts.chaos:
        cmd += ["--chaos", opts.chaos]
    return cmd


def _relay(source: IO[str], sink: IO[str], detached: threading.Event) -> None:
    for line in source:
        if line.rstrip("\n") == DETACHED:
            detached.set()
            continue
        try:
            sink.write(line)
            sink.flush()
        except OSError:
            pass


def run_in_background(config_dir: Path, opts: SupervisorOptions, out: IO[str], err: IO[str]) -> int:
    """Start the background supervisor and relay its start-up; its exit code or 0 once detached."""
    proc = subprocess.Popen(
        background_command(config_dir, opts),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C or closing the terminal does not reach it
    )
    assert proc.stdout is not None and proc.stderr is not None
    detached = threading.Event()
    relays = [
        threading.Thread(target=_relay, args=(proc.stdout, out, detached), daemon=True),
        threading.Thread(target=_relay, args=(proc.stderr, err, detached), daemon=True),
    ]
    for t in relays:
        t.start()
    for t in relays:
        t.join()
    if detached.is_set():
        return 0
    return proc.wait()


def detach_output(logs_dir: Path, out: IO[str], err: IO[str]) -> None:
    """In the background supervisor: tell `pyrt up --detach` it is done, then write to
    logs/supervisor.out instead of its pipes (closing them ends the relay)."""
    for stream in (out, err):
        try:
            print(DETACHED, file=stream, flush=True)
        except OSError:
            pass
    fd = os.open(logs_dir / "supervisor.out", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    finally:
        os.close(fd)
