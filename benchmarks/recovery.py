"""Recovery benchmark: `kill -9` of the execution engine under `pyrt up` to trading again.

Runs the real deployment (`pyrt up --detach`: the embedded sim broker, the four services,
the control process; the shipped strategies and restart_delay_s, the restart limit raised
to the number of runs and the window shortened to 1 s so that each kill is a first crash,
not a crash loop whose backoff doubles) in a temporary directory. Each run SIGKILLs the execution
engine and measures, from the kill:
  - ready:   the supervisor's new engine wrote its ready file (it replayed its journal and
             reconciled with the broker before that, as on any start);
  - trading: a manual order (1 share, buy and sell in turn) was approved by the risk
             manager and filled at the broker, as the journal records it.
It prints each run, the medians and the maximum against the target (trading again within
5 s), and in the same run the floor under it: the supervisor's first backoff
(supervisor.restart_delay_s) plus a bare `python -c "import pyrt.services.execution.service"`
(a new interpreter importing the engine, before any journal, broker or socket), median of
as many runs.

Exit status: 0 when the median kill-to-trading time is under the target, 1 otherwise
(2 if the system could not start). `pyrt down` always runs at the end.

Usage: python benchmarks/recovery.py [--runs 7] [--target-s 5] [--keep]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pyrt.bus import security as bus_security  # noqa: E402
from pyrt.config import AppConfig, load_config  # noqa: E402
from pyrt.domain.orders import OrderState  # noqa: E402
from pyrt.ops.audit import Caller  # noqa: E402
from pyrt.ops.facade import ControlFacade  # noqa: E402
from pyrt.ops.invariants import check_deployment, read_journal  # noqa: E402
from pyrt.ops.status import read_pid, read_ready_info  # noqa: E402
from tests.support.deploy import make_deployment  # noqa: E402

PYRT = [sys.executable, "-m", "pyrt"]
ENGINE = "execution_engine"
CALLER = Caller("benchmark-recovery", "benchmarks/recovery.py")
POLL_S = 0.005


def wait(cond: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(POLL_S)


def engine_ready(cfg: AppConfig, old_pid: int) -> bool:
    pid = read_pid(cfg.system.paths.pid_file(ENGINE))
    info = read_ready_info(cfg, ENGINE) or {}
    return pid is not None and pid != old_pid and info.get("pid") == pid


def filled(cfg: AppConfig, coid: str) -> bool:
    order = read_journal(cfg.system.execution.journal_path).proj.orders.get(coid)
    return order is not None and order.state == OrderState.FILLED


def trade(cfg: AppConfig, facade: ControlFacade, side: str, timeout_s: float = 30.0) -> str:
    """Submit until approved (the engine may still be starting), then wait for the fill."""

    last: list[str] = ["no answer"]

    def approved() -> str | None:
        try:
            res = facade.submit_order(CALLER, "AAPL", side, Decimal(1), reason="recovery benchmark")
        except Exception as exc:  # noqa: BLE001 - not answering yet
            last[0] = f"{type(exc).__name__}: {exc}"
            return None
        last[0] = f"{res.get('reason_code')}: {res.get('message')}"
        return str(res["client_order_id"]) if res.get("outcome") == "approved" else None

    try:
        coid: str = wait(approved, timeout_s, f"a {side} order to be approved")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc} (last answer: {last[0]})") from None
    wait(lambda: filled(cfg, coid), timeout_s, f"{coid} to be filled")
    return coid


def import_floor(runs: int) -> list[float]:
    """Seconds for a new interpreter to import the execution engine's module."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pyrt.services.execution.service"], check=True, cwd=REPO)
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--target-s", type=float, default=5.0)
    ap.add_argument("--keep", action="store_true", help="Keep the temporary deployment.")
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # the facade's audit lines of each order

    tmp = Path(tempfile.mkdtemp(prefix="pyrt-recovery-"))
    # every kill is the first in its window (restart_window_s 1 s, each run takes longer): the
    # backoff is restart_delay_s each time, not doubled as it is for a process that keeps dying
    config_dir = make_deployment(tmp, system={"supervisor": {"restart_limit": args.runs + 1, "restart_window_s": 1.0}})
    env = {**os.environ, "PYRT_CONFIG_DIR": str(config_dir)}
    cfg = load_config(config_dir, env=env)
    delay = cfg.system.supervisor.restart_delay_s
    to_ready: list[float] = []
    to_trading: list[float] = []
    try:
        up = subprocess.run(
            [*PYRT, "up", "--detach"], check=False, cwd=tmp, env=env, capture_output=True, text=True, timeout=180
        )
        if up.returncode != 0:
            print(up.stdout + up.stderr, file=sys.stderr)
            return 2
        bus_security.activate(bus_security.for_config(cfg))  # the invariant checker's own request to the engine
        facade = ControlFacade(cfg)
        trade(cfg, facade, "buy")  # warm: the whole path has traded once
        print(f"system up in {tmp}; killing the execution engine {args.runs} times (restart_delay_s={delay:g})")
        for i in range(args.runs):
            old = read_pid(cfg.system.paths.pid_file(ENGINE))
            assert old is not None, "the execution engine is not running"
            t0 = time.perf_counter()
            os.kill(old, signal.SIGKILL)
            wait(lambda o=old: engine_ready(cfg, o), 60, "the engine to be ready again")
            t_ready = time.perf_counter() - t0
            trade(cfg, facade, "sell" if i % 2 == 0 else "buy")
            t_trading = time.perf_counter() - t0
            to_ready.append(t_ready)
            to_trading.append(t_trading)
            print(f"run {i + 1}: kill -> ready {t_ready:.2f}s, kill -> order approved and filled {t_trading:.2f}s")
        report = check_deployment(cfg)
        print(f"invariants after {args.runs} kills: {report.line()}")
    finally:
        subprocess.run(
            [*PYRT, "down", "--grace", "10"], check=False, cwd=tmp, env=env, capture_output=True, timeout=120
        )
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    floor = import_floor(args.runs)
    med_trading = statistics.median(to_trading)
    print()
    print(
        f"kill -9 execution engine -> ready:            median {statistics.median(to_ready):.2f}s  max {max(to_ready):.2f}s"
    )
    print(f"kill -9 execution engine -> trading (filled): median {med_trading:.2f}s  max {max(to_trading):.2f}s")
    print(f"target: trading again under {args.target_s:g}s")
    print(
        f"floor: backoff {delay:g}s + interpreter start and engine import median {statistics.median(floor):.2f}s "
        f"= {delay + statistics.median(floor):.2f}s"
    )
    ok = med_trading < args.target_s and report.ok
    print(
        json.dumps(
            {
                "median_to_ready_s": round(statistics.median(to_ready), 3),
                "median_to_trading_s": round(med_trading, 3),
                "floor_s": round(delay + statistics.median(floor), 3),
                "target_s": args.target_s,
                "ok": ok,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
