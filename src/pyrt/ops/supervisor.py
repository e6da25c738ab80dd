"""Running the system as processes: `pyrt run <target>` (one process in the foreground, what
systemd and docker call), `pyrt up` (the supervisor: starts every process in order, each
after the previous one is ready, then watches them: a process that dies is restarted with
backoff, within the limits of pyrt.ops.restart_policy, else the whole system is stopped and
an alert sent) and `pyrt down` (stops them in reverse order: SIGTERM, wait while they
drain, SIGKILL after a grace period). `pyrt up --detach` runs the same supervisor in the
background (pyrt.ops.supervisor_detach). `pyrt start|stop|restart SERVICE` are requests to
the running supervisor (pyrt.ops.service_control).

Each child is `python -m pyrt run <target> --config-dir <dir>` in its own session, with
stdout/stderr in logs/<target>.out. `pyrt down` writes run/stopping while it works, so a
foreground supervisor knows its children are exiting on purpose."""

from __future__ import annotations

import ctypes
import importlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pyrt.config import AppConfig
from pyrt.domain.errors import NeedsOperator
from pyrt.ops.restart_policy import RestartPolicy
from pyrt.ops.service_control import REQUESTS_DIR, answer, pending, write_json_atomic
from pyrt.ops.status import (
    CONTROL,
    SIM_BROKER,
    START_ORDER,
    SUPERVISOR,
    SUPERVISOR_STATE,
    canonical_target,
    expected_targets,
    is_pyrt_process,
    live_pid,
    metrics_port_of,
    pid_alive,
    pid_file,
    read_pid,
    read_ready_info,
    ready_file,
    run_dir,
    supervisor_pid,
)

TARGET_MODULES: dict[str, str] = {
    "market_data": "pyrt.services.market_data.service",
    "risk_manager": "pyrt.services.risk.service",
    "execution_engine": "pyrt.services.execution.service",
    "signal_bridge": "pyrt.services.signals.service",
    CONTROL: "pyrt.ops.control_process",
}
"""Module whose `run(config_dir) -> int` is each target's main (imported only when run)."""

ENV_SAFE_MODE = "PYRT_SAFE_MODE"
ENV_SERVICE = "PYRT_SERVICE"
STOPPING_FILE = "stopping"
EMERGENCY_FILE = "emergency_stopped"  # the trading services were stopped on purpose (kill switch)
POLL_S = 0.05
LAUNCH_HEADER = "---- pyrt up:"

Say = Callable[[str], None]


# --------------------------------------------------------------------------- pyrt run
def run_sim_broker(config_dir: Path) -> int:
    """`pyrt run sim-broker`: the sim broker of the config's sim_broker section (accepting
    the configured key pair), in the processes' shared lifecycle (``ServiceRuntime``, without
    a bus): run/sim_broker.pid, logs/sim_broker.log, and run/sim_broker.ready with its bound
    port once it listens."""
    from pyrt.bootstrap import venue_keys
    from pyrt.services.runtime import ServiceRuntime
    from pyrt.simbroker.app import serve

    with ServiceRuntime(SIM_BROKER, config_dir, bus=False) as rt:
        key_id, secret = venue_keys(rt.cfg)
        serve(rt.cfg.system.sim_broker, {key_id: secret}, on_ready=lambda port: rt.mark_ready(port=port))
    return 0


class TargetUnavailable(NeedsOperator, RuntimeError):
    """The module of a target does not exist (yet)."""


def run_target(name: str, config_dir: Path, module: str | None = None) -> int:
    """Run one target in the foreground and return its exit code. `module` replaces the
    target's module (tests run fake services this way); the target's name is in the
    environment variable PYRT_SERVICE for it."""
    target = canonical_target(name)
    os.environ[ENV_SERVICE] = target
    if target == SIM_BROKER and module is None:
        return run_sim_broker(config_dir)
    path = module or TARGET_MODULES[target]
    try:
        mod = importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name and (path == exc.name or path.startswith(exc.name + ".")):
            raise TargetUnavailable(f"{target} is not available: no module {path}") from exc
        raise
    return int(mod.run(Path(config_dir)) or 0)


def child_command(target: str, config_dir: Path, module: str | None = None) -> list[str]:
    """The command line of a supervised child."""
    cmd = [sys.executable, "-m", "pyrt", "run", target.replace("_", "-"), "--config-dir", str(config_dir)]
    return [*cmd, "--module", module] if module else cmd


# --------------------------------------------------------------------------- stopping
@dataclass(frozen=True)
class StopResult:
    """How one process stopped: outcome is 'stopped' (exited after SIGTERM), 'killed'
    (SIGKILL after the grace period), 'gone' (not running) or 'failed' (still alive)."""

    name: str
    pid: int
    outcome: str
    seconds: float

    def describe(self, grace_s: float) -> str:
        """One report line."""
        what = {
            "stopped": "stopped (SIGTERM)",
            "killed": f"KILLED (ignored SIGTERM for {grace_s:g}s)",
            "gone": "already gone",
            "failed": "FAILED to stop",
        }[self.outcome]
        return f"{self.name:<17} pid {self.pid:<7} {what} in {self.seconds:.2f}s"


def wait_until(cond: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `cond` until true (True) or the timeout (False)."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def stop_pid(name: str, pid: int, grace_s: float, alive: Callable[[int], bool] = pid_alive) -> StopResult:
    """SIGTERM `pid`, wait up to `grace_s` for it to exit, then SIGKILL it."""
    started = time.monotonic()

    def result(outcome: str) -> StopResult:
        return StopResult(name, pid, outcome, time.monotonic() - started)

    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return result("gone")
    except PermissionError:
        return result("failed")
    if wait_until(lambda: not alive(pid), grace_s):
        return result("stopped")
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return result("stopped")
    return result("killed" if wait_until(lambda: not alive(pid), 5.0) else "failed")


def _remove_files(cfg: AppConfig, name: str) -> None:
    pid_file(cfg, name).unlink(missing_ok=True)
    ready_file(cfg, name).unlink(missing_ok=True)


def down(cfg: AppConfig, grace_s: float = 10.0, say: Say = print, only: Iterable[str] | None = None) -> int:
    """Stop a running system in reverse start order, whoever started it; idempotent.
    `only` limits the stop to those processes (the emergency stop stops the trading
    services and keeps the control process and the venue up). Returns 0 when nothing of
    what was asked is left running, 1 if a process could not be stopped."""
    wanted = set(only) if only is not None else set(START_ORDER)
    running = [(n, pid) for n in reversed(START_ORDER) if n in wanted and (pid := live_pid(cfg, n)) is not None]
    sup = supervisor_pid(cfg) if only is None else None
    if not running and sup is None:
        say("nothing running")
        return 0
    if only is not None:  # a partial stop: tell a watching supervisor these exits are deliberate
        (run_dir(cfg) / EMERGENCY_FILE).write_text(" ".join(n for n, _ in running) + "\n")
        marker = run_dir(cfg) / f"{STOPPING_FILE}.partial"
    else:
        marker = run_dir(cfg) / STOPPING_FILE
    marker.write_text(f"{os.getpid()}\n")
    failed = False
    began = time.monotonic()
    try:
        if only is None:
            from pyrt.ops.chaos import stop_monitor

            stop_monitor(cfg, grace_s, say)
        for name, pid in running:
            res = stop_pid(name, pid, grace_s)
            say(res.describe(grace_s))
            failed |= res.outcome == "failed"
            if res.outcome != "failed":
                _remove_files(cfg, name)
        if sup is not None:
            if wait_until(lambda: not pid_alive(sup), grace_s):
                say(f"{SUPERVISOR:<17} pid {sup:<7} exited")
            else:
                res = stop_pid(SUPERVISOR, sup, grace_s)
                say(res.describe(grace_s))
                failed |= res.outcome == "failed"
            pid_file(cfg, SUPERVISOR).unlink(missing_ok=True)
    finally:
        marker.unlink(missing_ok=True)
    say(f"system stopped in {time.monotonic() - began:.2f}s" if not failed else "some processes could not be stopped")
    return 1 if failed else 0


def _release_emergency_hold(cfg: AppConfig, name: str) -> None:
    """`pyrt start NAME` after an emergency stop: NAME is no longer held down by it."""
    path = run_dir(cfg) / EMERGENCY_FILE
    held = _deliberately_stopped(cfg)
    if name in held:
        rest = held - {name}
        if rest:
            path.write_text(" ".join(sorted(rest)) + "\n")
        else:
            path.unlink(missing_ok=True)


def _deliberately_stopped(cfg: AppConfig) -> set[str]:
    try:
        return set((run_dir(cfg) / EMERGENCY_FILE).read_text().split())
    except FileNotFoundError:
        return set()


def down_in_progress(cfg: AppConfig) -> bool:
    """True while `pyrt down` is stopping the system."""
    pid = read_pid(run_dir(cfg) / STOPPING_FILE)
    return pid is not None and is_pyrt_process(pid)


# --------------------------------------------------------------------------- pyrt up
@dataclass
class SupervisorOptions:
    """How `pyrt up` behaves. `modules` replaces targets' modules (fake services in tests)."""

    ready_timeout_s: float = 60.0
    ready_timeouts: Mapping[str, float] = field(default_factory=dict)
    stop_grace_s: float = 10.0
    stop_on_exit: bool = True
    safe_mode: bool = False
    detach: bool = False
    modules: Mapping[str, str] = field(default_factory=dict)
    chaos: str = ""  # a fault profile of pyrt.ops.chaos, applied once everything is ready
    background: bool = False  # this is the detached supervisor (started by `pyrt up --detach`)


@dataclass
class Child:
    """A started process."""

    name: str
    proc: subprocess.Popen[bytes]
    started: float

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self, _pid: int = 0) -> bool:
        return self.proc.poll() is None


class StartFailed(NeedsOperator, RuntimeError):
    """A target exited or did not become ready in time."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.name = name


def _set_parent_death_signal() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: SIGTERM if the supervisor dies


def exit_text(code: int) -> str:
    """'exited with code 3' or 'killed by SIGKILL'."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def tail(path: Path, lines: int = 15) -> list[str]:
    """The last `lines` lines of a text file ([] if it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(fh.tell() - 64 * 1024, 0))
            return fh.read().decode(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return []


class Supervisor:
    """Starts the targets of a config in order, watches them, stops them in reverse order."""

    def __init__(
        self,
        cfg: AppConfig,
        config_dir: Path,
        opts: SupervisorOptions | None = None,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
    ) -> None:
        self.cfg = cfg
        self.config_dir = Path(config_dir).resolve()
        self.opts = opts or SupervisorOptions()
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.targets = expected_targets(cfg)
        self.children: dict[str, Child] = {}
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
        self.logs_dir = cfg.system.paths.logs_dir
        sup = cfg.system.supervisor
        self.policy = RestartPolicy(
            sup.restart_delay_s, sup.restart_max_delay_s, sup.restart_limit, sup.restart_window_s
        )
        self.held: set[str] = set()  # stopped on purpose (`pyrt stop`): not restarted until `pyrt start`
        self.pending: dict[str, float] = {}  # process -> monotonic time of its scheduled restart
        self.starting: dict[str, float] = {}  # (re)started, not ready yet -> its ready deadline
        self.waiters: dict[str, list[Path]] = {}  # requests answered once the process is ready
        self.last_exit: dict[str, str] = {}
        self.gave_up = ""
        self.began = time.time()

    # ------------------------------------------------------------------ reporting
    def say(self, message: str, loud: bool = False) -> None:
        """Print a line (stderr when loud) and append it to logs/supervisor.log."""
        try:
            print(message, file=self.err if loud else self.out, flush=True)
        except OSError:  # the terminal went away: the log file still gets it
            pass
        now = time.time()
        stamp = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now))}.{int(now * 1000) % 1000:03d}Z"
        with (self.logs_dir / "supervisor.log").open("a") as fh:
            fh.write(f"{stamp} {'ERROR' if loud else 'INFO '} supervisor {message}\n")

    def show_logs(self, name: str) -> None:
        """Print (loudly) the tail of what `name` wrote since this launch: its .out file
        (log lines and tracebacks), else its .log file."""
        out, log = self.logs_dir / f"{name}.out", self.logs_dir / f"{name}.log"
        lines = tail(out, 200)
        starts = [i for i, line in enumerate(lines) if line.startswith(LAUNCH_HEADER)]
        lines = lines[starts[-1] + 1 :] if starts else lines
        path = out
        if not lines:
            lines, path = tail(log), log
        self.say(f"---- last {min(len(lines), 20)} lines of {path} (log: {log}) ----", loud=True)
        for line in lines[-20:]:
            print(f"  {line}", file=self.err, flush=True)

    # ------------------------------------------------------------------ lifecycle
    def _on_signal(self, signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            self.reload_requested.set()
        else:
            self.stop_requested.set()

    def run(self) -> int:
        """`pyrt up`: start everything; then (foreground) watch until SIGTERM/SIGINT or a
        child's death (SIGHUP is passed on to the services: reload), or (detach) return.
        Returns the exit code."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        busy = self._already_running()
        if busy:
            self.say(f"already running: {busy}; run `pyrt down` first", loud=True)
            return 1
        if self.opts.detach and not self.opts.background:
            from pyrt.ops.supervisor_detach import run_in_background

            return run_in_background(self.config_dir, self.opts, self.out, self.err)
        self._prepare()
        try:
            try:
                self.start_all()
            except StartFailed as exc:
                self.say(f"!!! start-up failed: {exc}", loud=True)
                self.show_logs(exc.name)
                self.stop_all()
                return 1
            if self.stop_requested.is_set():
                self.say("interrupted during start-up")
                self.stop_all()
                return 1
            if self.opts.chaos:
                from pyrt.ops.chaos import start_monitor

                proc = start_monitor(self.cfg, self.config_dir, self.opts.chaos)
                self.children["chaos"] = Child("chaos", proc, time.monotonic())
                self.say(f"chaos profile {self.opts.chaos} on (pid {proc.pid}); `pyrt chaos status` or logs/chaos.log")
            self.write_state()
            if self.opts.background:
                from pyrt.ops.supervisor_detach import detach_output

                self.say(
                    f"system running detached, supervisor pid {os.getpid()}; "
                    "`pyrt status` to check, `pyrt down` to stop"
                )
                detach_output(self.logs_dir, self.out, self.err)
            else:
                self.say(f"all {len(self.children)} processes ready; Ctrl-C or `pyrt down` stops them")
            return self.watch()
        finally:
            pid_file(self.cfg, SUPERVISOR).unlink(missing_ok=True)

    def _already_running(self) -> str:
        found = [(n, live_pid(self.cfg, n)) for n in (SUPERVISOR, *START_ORDER)]
        return ", ".join(f"{n} (pid {p})" for n, p in found if p is not None)

    def _prepare(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        run_dir(self.cfg).mkdir(parents=True, exist_ok=True)
        for name in START_ORDER:
            ready_file(self.cfg, name).unlink(missing_ok=True)
        if not down_in_progress(self.cfg):
            (run_dir(self.cfg) / STOPPING_FILE).unlink(missing_ok=True)
        (run_dir(self.cfg) / EMERGENCY_FILE).unlink(missing_ok=True)
        (run_dir(self.cfg) / SUPERVISOR_STATE).unlink(missing_ok=True)
        shutil.rmtree(run_dir(self.cfg) / REQUESTS_DIR, ignore_errors=True)
        pid_file(self.cfg, SUPERVISOR).write_text(f"{os.getpid()}\n")

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.opts.safe_mode:
            env[ENV_SAFE_MODE] = "1"
        return env

    def launch(self, name: str) -> Child:
        """Start one target as a child process in its own session."""
        cmd = child_command(name, self.config_dir, self.opts.modules.get(name))
        out_path = self.logs_dir / f"{name}.out"
        with out_path.open("ab") as out:
            out.write(f"{LAUNCH_HEADER} {' '.join(cmd)} at {time.ctime()} ----\n".encode())
            out.flush()
            pdeath = None if self.opts.background or not sys.platform.startswith("linux") else _set_parent_death_signal
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._env(),
                start_new_session=True,
                preexec_fn=pdeath,  # noqa: PLW1509  # only prctl(PDEATHSIG) between fork and exec
            )
        child = Child(name, proc, time.monotonic())
        self.children[name] = child
        return child

    def _is_ready(self, child: Child) -> bool:
        info = read_ready_info(self.cfg, child.name)
        if info is None:
            return False
        return child.name == SIM_BROKER or info.get("pid") == child.pid

    def wait_ready(self, child: Child) -> None:
        """Block until `child` wrote its ready file; StartFailed if it exits or times out."""
        timeout = self.opts.ready_timeouts.get(child.name, self.opts.ready_timeout_s)
        deadline = child.started + timeout
        while not self._is_ready(child):
            code = child.proc.poll()
            if code is not None:
                raise StartFailed(child.name, f"{exit_text(code)} before it was ready")
            if time.monotonic() > deadline:
                raise StartFailed(child.name, f"was not ready within {timeout:g}s")
            if self.stop_requested.wait(POLL_S):
                return

    def start_all(self) -> None:
        """Start the targets in order, each once the previous one is ready."""
        began = time.monotonic()
        for name in self.targets:
            if self.stop_requested.is_set():
                return
            child = self.launch(name)
            self.wait_ready(child)
            if self.stop_requested.is_set():
                return
            info = read_ready_info(self.cfg, name) or {}
            if name == SIM_BROKER:
                where = f"port :{info.get('port', '?')}"
            else:
                label = "gateway" if name == CONTROL else "metrics"
                where = f"{label} :{metrics_port_of(self.cfg, name, info)}"
            took = time.monotonic() - child.started
            self.say(f"started {name:<17} pid {child.pid:<7} {where:<16} ({took:.1f}s)")
        self.say(f"started {len(self.children)} processes in {time.monotonic() - began:.1f}s")

    def watch(self) -> int:
        """Watch the children until a stop signal (stop all, 0), `pyrt down` (wait for them,
        0) or a process that cannot be healed (stop all unless configured otherwise, 1): a
        process that dies is restarted per the restart policy; requests of `pyrt
        start|stop|restart` are done in between."""
        while not self.stop_requested.wait(0.1):
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self.forward_reload()
            if down_in_progress(self.cfg):
                self.say("`pyrt down` is stopping the system; waiting for the processes to exit")
                return self._wait_for_down()
            now = time.monotonic()
            for name, child in list(self.children.items()):
                code = child.proc.poll()
                if code is not None and not self.on_exit(name, child, code, now):
                    return 1
            self._start_due(now)
            self._check_starting(now)
            self.serve_requests()
            if not self.children and not self.pending and not self._held():
                return 1
        self.say("stop requested")
        self.stop_all()
        return 1 if self.gave_up else 0

    # ------------------------------------------------------------------ healing
    def _held(self) -> set[str]:
        return self.held | _deliberately_stopped(self.cfg)

    def on_exit(self, name: str, child: Child, code: int, now: float) -> bool:
        """A child exited: note a deliberate stop, else schedule its restart. False when
        the restart policy gives up (the system has then been stopped)."""
        del self.children[name]
        self.starting.pop(name, None)
        if name in self._held():
            self.say(f"{name} (pid {child.pid}) stopped on purpose; not restarted until `pyrt start {name}`")
            self._answer_waiters(name, False, f"{name} was stopped before it was ready")
            self.write_state()
            return True
        _remove_files(self.cfg, name)
        self.last_exit[name] = exit_text(code)
        self.say(f"!!! {name} (pid {child.pid}) EXITED UNEXPECTEDLY: {exit_text(code)}", loud=True)
        self.show_logs(name)
        self._answer_waiters(name, False, f"{name} {exit_text(code)} before it was ready")
        if name == "chaos":  # the fault monitor is a tool, not a part of the system
            return True
        if not self.cfg.system.supervisor.restart:
            reason = f"{name} {exit_text(code)} and supervisor.restart is off"
        else:
            decision = self.policy.on_exit(name, code, now)
            reason = decision.reason
            if not decision.give_up:
                self.pending[name] = decision.at
                sup = self.cfg.system.supervisor
                self.say(
                    f"restarting {name} in {decision.delay_s:g}s "
                    f"(restart {decision.restarts} of at most {sup.restart_limit} within {sup.restart_window_s:g}s)",
                    loud=True,
                )
                self.write_state()
                return True
        return self.give_up(name, reason)

    def give_up(self, name: str, reason: str) -> bool:
        """The restart policy gave up on `name`: stop the whole system (unless stop_on_exit
        is off) and send an alert. Returns True only when the rest keeps running."""
        self.gave_up = reason
        self.say(f"!!! giving up: {reason}", loud=True)
        keep = not self.opts.stop_on_exit
        if keep:
            self.say(f"!!! {name} stays down; the rest keeps running (stop_on_exit is off)", loud=True)
        else:
            self.say("!!! stopping the whole system: a partial system must not trade", loud=True)
            self.stop_all()
        self.write_state()
        self.alert(name, reason, stopped=not keep)
        return keep

    def alert(self, name: str, reason: str, stopped: bool) -> None:
        """Tell the operator through the configured channels (webhook, e-mail)."""
        from pyrt.ops.notify import Alert, notifier_from_config

        notifier = notifier_from_config(self.cfg)
        if not notifier.channels:
            self.say("no notification channel configured (notifications in system.json): alert only logged", loud=True)
            return
        sup = self.cfg.system.supervisor
        alert = Alert(
            kind="supervisor_gave_up",
            severity="critical",
            title=f"{name} keeps crashing: {'system stopped' if stopped else f'{name} left down'}",
            detail=reason,
            fields={
                "service": name,
                "last_exit": self.last_exit.get(name, "-"),
                "restarts": str(self.policy.totals.get(name, 0)),
                "limit": f"{sup.restart_limit} within {sup.restart_window_s:g}s",
                "log": str(self.logs_dir / f"{name}.out"),
            },
        )
        results = notifier.send(alert)
        for r in results:
            self.say(f"alert sent to {r.channel}: {'ok' if r.ok else r.error}", loud=not r.ok)

    def _start_due(self, now: float) -> None:
        for name, at in list(self.pending.items()):
            if now >= at:
                del self.pending[name]
                self._relaunch(name)

    def _relaunch(self, name: str) -> None:
        ready_file(self.cfg, name).unlink(missing_ok=True)
        child = self.launch(name)
        self.starting[name] = child.started + self.opts.ready_timeouts.get(name, self.opts.ready_timeout_s)
        self.say(f"starting {name:<17} pid {child.pid}")
        self.write_state()

    def _check_starting(self, now: float) -> None:
        for name, deadline in list(self.starting.items()):
            child = self.children.get(name)
            if child is None:
                self.starting.pop(name, None)
            elif self._is_ready(child):
                del self.starting[name]
                took = time.monotonic() - child.started
                self.say(f"started {name:<17} pid {child.pid:<7} ready in {took:.1f}s")
                self._answer_waiters(name, True, f"{name} started, pid {child.pid}, ready in {took:.1f}s")
                self.write_state()
            elif now > deadline:  # its exit goes through the restart policy like any other
                self.say(f"!!! {name} was not ready within {deadline - child.started:g}s: stopping it", loud=True)
                stop_pid(name, child.pid, self.opts.stop_grace_s, alive=child.alive)

    def _answer_waiters(self, name: str, ok: bool, message: str) -> None:
        for path in self.waiters.pop(name, []):
            answer(path, ok, message)

    # ------------------------------------------------------------------ requests
    def serve_requests(self) -> None:
        """Do the waiting `pyrt start|stop|restart` requests."""
        for path, action, name in pending(self.cfg):
            if name not in self.targets:
                answer(path, False, f"{name!r} is not a process of this deployment")
                continue
            if action == "stop":
                answer(path, True, self.stop_one(name))
            elif action in ("start", "restart"):
                message = self.start_one(name, restart=action == "restart")
                if message:
                    answer(path, True, message)
                else:
                    self.waiters.setdefault(name, []).append(path)
            else:
                answer(path, False, f"unknown action {action!r}")

    def stop_one(self, name: str) -> str:
        """`pyrt stop NAME`: hold it down and stop it (SIGTERM, SIGKILL after the grace)."""
        self.held.add(name)
        self.pending.pop(name, None)
        child = self.children.pop(name, None)
        self.starting.pop(name, None)
        self._answer_waiters(name, False, f"{name} was stopped before it was ready")
        if child is None or not child.alive():
            self.write_state()
            return f"{name} was not running; held down until `pyrt start {name}`"
        res = stop_pid(name, child.pid, self.opts.stop_grace_s, alive=child.alive)
        if res.outcome != "failed":
            _remove_files(self.cfg, name)
        self.say(f"pyrt stop: {res.describe(self.opts.stop_grace_s)}", loud=res.outcome in ("killed", "failed"))
        self.write_state()
        return f"{res.describe(self.opts.stop_grace_s)}; held down until `pyrt start {name}`"

    def start_one(self, name: str, restart: bool) -> str:
        """`pyrt start|restart NAME`: release a hold and start it ("" when the answer comes
        once it is ready). A restart stops the running process first; neither counts as a
        crash."""
        self.held.discard(name)
        _release_emergency_hold(self.cfg, name)
        child = self.children.get(name)
        if child is not None and child.alive():
            if not restart:
                return f"{name} is already running (pid {child.pid})"
            del self.children[name]
            self.starting.pop(name, None)
            res = stop_pid(name, child.pid, self.opts.stop_grace_s, alive=child.alive)
            self.say(f"pyrt restart: {res.describe(self.opts.stop_grace_s)}", loud=res.outcome in ("killed", "failed"))
            if res.outcome == "failed":
                self.children[name] = child
                return f"{name} could not be stopped: {res.describe(self.opts.stop_grace_s)}"
            _remove_files(self.cfg, name)
        self.pending.pop(name, None)
        self._relaunch(name)
        return ""

    def write_state(self) -> None:
        """Publish run/supervisor.json (restarts, holds, states: `pyrt status`, metrics)."""
        held = self._held()
        states = {}
        for name in self.targets:
            if name in self.starting:
                states[name] = "starting"
            elif name in self.children:
                states[name] = "running"
            elif name in self.pending:
                states[name] = "restarting"
            elif name in held:
                states[name] = "held"
            else:
                states[name] = "stopped"
        try:
            write_json_atomic(
                run_dir(self.cfg) / SUPERVISOR_STATE,
                {
                    "pid": os.getpid(),
                    "started_at": self.began,
                    "restarts": dict(self.policy.totals),
                    "held": sorted(held),
                    "states": states,
                    "last_exit": self.last_exit,
                    "gave_up": self.gave_up,
                },
            )
        except OSError as exc:
            self.say(f"could not write {SUPERVISOR_STATE}: {exc}", loud=True)

    def forward_reload(self) -> None:
        """Pass a SIGHUP (reload the config) on to every running child."""
        for child in self.children.values():
            if child.alive() and child.name != SIM_BROKER:  # the sim broker has no reload
                os.kill(child.pid, signal.SIGHUP)
        self.say("SIGHUP: asked every service to reload its configuration")

    def _wait_for_down(self) -> int:
        while any(c.alive() for c in self.children.values()):
            if not down_in_progress(self.cfg):  # `pyrt down` ended or died: finish the job
                self.stop_all()
                break
            time.sleep(POLL_S)
        self.say("all processes exited")
        return 0

    def stop_all(self) -> None:
        """Stop the started children in reverse start order."""
        grace = self.opts.stop_grace_s
        for name in reversed(list(self.children)):
            child = self.children[name]
            if not child.alive():
                continue
            res = stop_pid(name, child.pid, grace, alive=child.alive)
            self.say(res.describe(grace), loud=res.outcome in ("killed", "failed"))
            if res.outcome != "failed":
                _remove_files(self.cfg, name)
        self.children.clear()
        self.pending.clear()
        self.starting.clear()
