"""Soak benchmark: the whole system for N minutes under load; prints its figures.

A leak, a slow CPU creep or a lost message shows only after a long run, never in a unit
test. This runs the real deployment (`pyrt up --detach`: the embedded sim broker, the four
services and the control process) in a temporary directory with the sim broker streaming
--rate quotes/s in total (split over the symbols) and fast strategies trading, and prints
every --sample-s seconds:
  - RSS per process (/proc/<pid>/status VmRSS; pids from the run dir's pid files),
  - CPU % per process over the interval (/proc/<pid>/stat utime+stime),
  - bus sequence gaps and dropped frames (bus_seq_gaps_total, bus_messages_dropped_total
    summed over the services, read from the control process's merged /metrics),
  - orders submitted and filled (execution_orders_submitted/filled_total).
At the end: RSS after the warm-up and at the end per process, growth %, checked against the
target "RSS growth under 5 % over 60 minutes" (each process; a run shorter than 60 minutes
checks the same 5 % without extrapolating, so it only catches a fast leak), median CPU,
total gaps/drops, and the order invariants against the broker (trading is disabled first
and the order flow allowed to settle):
  - the journal's positions equal the broker's,
  - no client_order_id appears twice at the broker,
  - no broker order is unknown to the journal,
  - no order the journal saw reach the broker is missing there, none it decided never
    to send is there, and none is left in flight,
  - every journalled order that reached the broker agrees with it (broker id, filled
    quantity, state).
All but the last are the shared checks of pyrt.ops.invariants (the fault matrix's); the
per-order agreement is added here. The journal is read read-only (Journal +
projections.replay), the broker through the project's AlpacaVenue adapter (alpaca-py) with
the deployment's keys (the sim's default ones).

Exit status: 0 if every invariant holds and every process stayed under the growth target,
1 otherwise (2 if the system could not start). `pyrt down` always runs at the end, also on
Ctrl-C or an exception.

Usage: python benchmarks/soak.py [--minutes 60] [--sample-s 30] [--rate 1000]
                                 [--warmup-s S] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pyrt.config import AppConfig, load_config  # noqa: E402
from pyrt.domain.orders import map_alpaca_status  # noqa: E402
from pyrt.ops import invariants  # noqa: E402
from pyrt.ops.gateway import parse_exposition, scrape  # noqa: E402
from pyrt.ops.status import expected_targets, live_pid  # noqa: E402
from pyrt.persistence.journal import Journal  # noqa: E402
from pyrt.persistence.projections import OrderProjection, replay  # noqa: E402
from pyrt.venues.port import BrokerOrder  # noqa: E402
from tests.support.deploy import FAST_STRATEGIES, make_deployment  # noqa: E402

PYRT = [sys.executable, "-m", "pyrt"]
SYMBOLS = ["AAPL", "MSFT", "GOOGL"]
TARGET_GROWTH_PCT = 5.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
SHORT = {
    "sim_broker": "sim",
    "market_data": "md",
    "risk_manager": "risk",
    "execution_engine": "exec",
    "signal_bridge": "sig",
    "control": "ctl",
}

# An hour of fast strategies exceeds the daily trade count and, losing the spread on each
# round trip, the consecutive-loss count: both would trip the breaker and stop the orders.
RISK_TOML = (REPO / "config" / "risk_limits.toml").read_text()
for _key, _value in (
    ("max_trades_per_day = 50", "max_trades_per_day = 10000000"),
    ("max_consecutive_losses = 5", "max_consecutive_losses = 10000000"),
):
    RISK_TOML = RISK_TOML.replace(_key, _value)


# --------------------------------------------------------------------------- /proc
def rss_kb(pid: int) -> int | None:
    """VmRSS of `pid` in kB, None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of `pid` in clock ticks, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5), after pid and comm


# --------------------------------------------------------------------------- metrics
@dataclass
class Counters:
    gaps: float = 0.0
    drops: float = 0.0
    submitted: float = 0.0
    filled: float = 0.0
    rejected: float = 0.0
    denied: float = 0.0
    quotes: float = 0.0
    scraped: bool = False


def read_counters(cfg: AppConfig) -> Counters:
    """The soak's counters from the control process's merged /metrics (zeros if unreachable)."""
    out = Counters()
    text = scrape(f"http://127.0.0.1:{cfg.system.metrics.gateway}/metrics", 5.0)
    if text is None:
        return out
    out.scraped = True
    wanted = {
        "bus_seq_gaps_total": "gaps",
        "bus_messages_dropped_total": "drops",
        "execution_orders_submitted_total": "submitted",
        "execution_orders_filled_total": "filled",
        "execution_orders_rejected_total": "rejected",
        "risk_checks_failed_total": "denied",
    }
    for family in parse_exposition(text):
        for sample in family.samples:
            if sample.name == "market_data_messages_received_total" and ("type", "quote") in sample.labels:
                out.quotes += float(sample.value)
            elif sample.name in wanted:
                attr = wanted[sample.name]
                setattr(out, attr, getattr(out, attr) + float(sample.value))
    return out


# --------------------------------------------------------------------------- invariants
def disagreements(proj: OrderProjection, broker_orders: list[BrokerOrder]) -> list[str]:
    """Orders the journal and the broker both have but describe differently (broker id,
    filled quantity, state). pyrt.ops.invariants checks presence and positions, not this."""
    journalled = proj.orders
    out: list[str] = []
    for b in broker_orders:
        order = journalled.get(b.client_order_id)
        if order is None:
            continue  # an orphan: reported by the shared check
        try:
            state = map_alpaca_status(b.status)
        except (KeyError, ValueError):
            out.append(f"{b.client_order_id}: broker status {b.status!r} is not an Alpaca status")
            continue
        if order.broker_order_id != b.id or order.filled_qty != b.filled_qty or order.state != state:
            out.append(
                f"{b.client_order_id}: journal {order.state.value} id={order.broker_order_id or '-'} "
                f"filled={order.filled_qty}, broker {state.value} id={b.id} filled={b.filled_qty}"
            )
    return out


def settled_invariants(cfg: AppConfig, venue: Any, deadline_s: float) -> tuple[list[str], OrderProjection]:
    """The invariants, asked again until they hold or `deadline_s` runs out (a fill reaches
    the journal through the trade stream a moment after the broker has it): the shared
    check (lost, duplicated, orphans, sent after a local rejection, position drift) plus
    `disagreements`, and no order left in flight."""
    deadline = time.monotonic() + deadline_s
    while True:
        shared = invariants.check_deployment(cfg, venue)
        with Journal(cfg.system.execution.journal_path, read_only=True) as journal:
            proj = replay(journal.iter_records())
        problems = [*shared.problems, *disagreements(proj, venue.list_all_orders_since(None))]
        if shared.unresolved:
            problems.append(
                f"{len(shared.unresolved)} orders still in flight in the journal: {', '.join(shared.unresolved[:5])}"
            )
        if not problems or time.monotonic() > deadline:
            return problems, proj
        time.sleep(1.0)


# --------------------------------------------------------------------------- the run
@dataclass
class Sample:
    t_s: float
    rss_kb: dict[str, int]
    cpu_pct: dict[str, float]
    counters: Counters


@dataclass
class Run:
    root: Path
    config_dir: Path
    env: dict[str, str]
    samples: list[Sample] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def pyrt(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*PYRT, *args, "--config-dir", str(self.config_dir)],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def running_system(root: Path, rate: float) -> Iterator[Run]:
    """`pyrt up --detach` in a fresh deployment under `root`; `pyrt down` on the way out,
    whatever happens (SIGTERM is turned into KeyboardInterrupt so it also gets there)."""
    system = {
        "market_data": {"symbols": SYMBOLS},
        "sim_broker": {"symbols": SYMBOLS, "quotes_per_second": rate / len(SYMBOLS), "seed": 11},
        "signals": {"strategies": FAST_STRATEGIES},
    }
    config_dir = make_deployment(root, system=system, risk_toml=RISK_TOML)
    run = Run(root, config_dir, {**os.environ, "PYRT_CONFIG_DIR": str(config_dir)})
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        up = run.pyrt("up", "--detach", timeout=180)
        if up.returncode != 0:
            raise RuntimeError(f"pyrt up exited {up.returncode}:\n{up.stdout}\n{up.stderr}")
        yield run
    finally:
        down = run.pyrt("down", "--grace", "10", timeout=180)
        print(f"pyrt down: exit {down.returncode}")
        signal.signal(signal.SIGTERM, previous)


def pids(cfg: AppConfig) -> dict[str, int]:
    found = {name: live_pid(cfg, name, clean=False) for name in expected_targets(cfg)}
    return {name: pid for name, pid in found.items() if pid is not None}


def sample_loop(run: Run, cfg: AppConfig, seconds: float, every_s: float) -> None:
    """Sample every `every_s` for `seconds`, printing each sample as it is taken."""
    procs = pids(cfg)
    missing = set(expected_targets(cfg)) - set(procs)
    if missing:
        raise RuntimeError(f"not running after pyrt up: {', '.join(sorted(missing))}")
    t0 = time.monotonic()
    last_ticks = {n: cpu_ticks(p) or 0 for n, p in procs.items()}
    last_t = t0
    prev = read_counters(cfg)
    next_at = t0 + every_s
    while True:
        time.sleep(max(0.0, next_at - time.monotonic()))
        now = time.monotonic()
        rss: dict[str, int] = {}
        cpu: dict[str, float] = {}
        for name, pid in procs.items():
            kb, ticks = rss_kb(pid), cpu_ticks(pid)
            if kb is None or ticks is None:
                if name not in run.lost:
                    run.lost.append(name)
                continue
            rss[name] = kb
            cpu[name] = 100.0 * (ticks - last_ticks[name]) / CLK_TCK / (now - last_t)
            last_ticks[name] = ticks
        counters = read_counters(cfg)
        s = Sample(now - t0, rss, cpu, counters)
        run.samples.append(s)
        print_sample(s, prev, now - last_t)
        last_t = now
        prev = counters
        if run.lost:
            print(f"  PROCESS GONE: {', '.join(run.lost)}")
            return
        if now - t0 >= seconds - 0.5:
            return
        next_at += every_s


def print_sample(s: Sample, prev: Counters, interval_s: float) -> None:
    c = s.counters
    rss = " ".join(f"{SHORT[n]} {kb / 1024:5.1f}" for n, kb in s.rss_kb.items())
    cpu = " ".join(f"{SHORT[n]} {p:4.1f}" for n, p in s.cpu_pct.items())
    metrics = (
        (
            f"quotes/s {(c.quotes - prev.quotes) / interval_s:,.0f}  gaps {c.gaps:.0f} (+{c.gaps - prev.gaps:.0f})  drops {c.drops:.0f} (+{c.drops - prev.drops:.0f})  "
            f"orders submitted {c.submitted:.0f} (+{c.submitted - prev.submitted:.0f}) "
            f"filled {c.filled:.0f} rejected {c.rejected:.0f}, risk denied {c.denied:.0f}"
        )
        if c.scraped
        else "metrics unreachable"
    )
    print(f"[{s.t_s:6.0f} s] RSS MB: {rss}", flush=True)
    print(f"           CPU %:  {cpu}", flush=True)
    print(f"           {metrics}", flush=True)


# --------------------------------------------------------------------------- report
def report(run: Run, warmup_s: float, minutes: float, problems: list[str], proj: OrderProjection) -> int:
    """Print the summary table; return the exit status."""
    measured = [s for s in run.samples if s.t_s >= warmup_s - 0.5]
    failed = bool(problems) or bool(run.lost)
    print()
    print(f"summary: {minutes:g} min, warm-up {warmup_s:.0f} s, {len(measured)} samples after it")
    if len(measured) < 2:
        print("  not enough samples after the warm-up to measure growth")
        return 1
    first, last = measured[0], measured[-1]
    span_min = (last.t_s - first.t_s) / 60.0
    print(
        f"  target: RSS growth under {TARGET_GROWTH_PCT:g} % over 60 minutes, per process "
        f"(measured over {span_min:.1f} min{'' if span_min >= 59.5 else ', not extrapolated'})"
    )
    print(
        f"  {'process':<18} {'RSS start MB':>12} {'RSS end MB':>11} {'max MB':>8} {'growth %':>9} "
        f"{'%/h linear':>10} {'CPU % p50':>10}  verdict"
    )
    for name in first.rss_kb:
        if name not in last.rss_kb:
            print(f"  {name:<18} {'gone':>12}")
            failed = True
            continue
        start, end = first.rss_kb[name], last.rss_kb[name]
        peak = max(s.rss_kb.get(name, 0) for s in measured)
        growth = 100.0 * (end - start) / start
        cpu = statistics.median(s.cpu_pct[name] for s in measured if name in s.cpu_pct)
        ok = growth < TARGET_GROWTH_PCT
        failed |= not ok
        per_hour = growth * 60.0 / span_min if span_min > 0 else 0.0  # information only: early growth often levels off
        print(
            f"  {name:<18} {start / 1024:12.1f} {end / 1024:11.1f} {peak / 1024:8.1f} {growth:9.2f} "
            f"{per_hour:10.1f} {cpu:10.1f}  {'ok' if ok else 'MISSED'}"
        )
    c = run.samples[-1].counters
    rate = (last.counters.quotes - first.counters.quotes) / max(last.t_s - first.t_s, 1e-9)
    print(f"  market data: {rate:,.0f} quotes/s received on average after the warm-up")
    print(f"  bus gaps {c.gaps:.0f}, dropped frames {c.drops:.0f} (whole run, all services)")
    print(
        f"  orders: {c.submitted:.0f} submitted, {c.filled:.0f} filled, {c.rejected:.0f} rejected, "
        f"{c.denied:.0f} intents denied by risk (metrics); "
        f"{len(proj.orders)} in the journal"
    )
    if not proj.orders:
        print("  no order reached the journal: the invariants were checked against nothing")
        failed = True
    positions = ", ".join(f"{s} {p.qty}" for s, p in sorted(proj.positions.items())) or "flat"
    print(f"  invariants against the broker (journal positions: {positions}):")
    if problems:
        for p in problems:
            print(f"    BROKEN: {p}")
    else:
        print(
            "    ok: positions equal; no lost, duplicated, orphan or ghost order; none in flight; "
            "every order at the broker agrees with the journal"
        )
    print(f"result: {'FAIL' if failed else 'PASS'}")
    return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--sample-s", type=float, default=30.0, help="seconds between samples")
    ap.add_argument("--rate", type=float, default=1000.0, help="quotes per second in total, over the symbols")
    ap.add_argument(
        "--warmup-s",
        type=float,
        default=None,
        help="seconds before the RSS baseline (default: 10%% of the run, at most 120)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the deployment directory (logs, journal)")
    args = ap.parse_args()
    if args.minutes <= 0 or args.sample_s <= 0 or args.rate <= 0:
        ap.error("--minutes, --sample-s and --rate must be positive")
    seconds = args.minutes * 60.0
    warmup_s = args.warmup_s if args.warmup_s is not None else min(120.0, 0.1 * seconds)
    if warmup_s >= seconds - args.sample_s:
        ap.error("the warm-up leaves less than two samples; lower --warmup-s or --sample-s")
    tmp = tempfile.mkdtemp(prefix="pyrt-soak-")
    root = Path(tmp) / "root"
    print(
        f"soak: {args.minutes:g} min at {args.rate:,.0f} quotes/s ({len(SYMBOLS)} symbols), "
        f"sample every {args.sample_s:g} s, warm-up {warmup_s:.0f} s; deployment {root}",
        flush=True,
    )
    try:
        with running_system(root, args.rate) as run:
            cfg = load_config(run.config_dir, run.env)
            sample_loop(run, cfg, seconds, args.sample_s)
            disabled = run.pyrt("trading", "disable", "--reason", "soak: settle before the invariant check")
            print(f"trading disable: {(disabled.stdout or disabled.stderr).strip()}")
            venue = invariants.venue_for(cfg)
            problems, proj = settled_invariants(cfg, venue, 30.0)
        return report(run, warmup_s, args.minutes, problems, proj)
    except KeyboardInterrupt:
        print("interrupted; the system was stopped")
        return 130
    except RuntimeError as exc:  # pyrt up failed, or a process was missing right after it
        print(f"could not run the soak: {exc}")
        return 2
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
