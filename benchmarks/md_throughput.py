"""Market-data pipeline throughput: sim broker process → market-data service process →
one bus subscriber (this process), at several offered quote rates.

    .venv/bin/python benchmarks/md_throughput.py [--rates 20000,40000,60000,80000]
                                                 [--seconds 3] [--repeat 3]

Per run the sim broker starts paused; once the service is subscribed and the subscriber
hears it, the market runs for ``--seconds`` at the offered rate, is paused again and the
pipeline drains. A run is lossless when every message the sim sent (its data_msgs_sent)
reached the subscriber, with no seq gap and no reconnect. It sustains the rate when it is
also lossless, the sim generated at least 95 % of the offered rate, and the backlog drained
within 0.1 s of the pause. Prints one line per run and medians per rate; ``measure()`` is
reused by benchmarks/pipeline.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pyrt.bus.schema import HEARTBEAT_PREFIX, MD_BAR_PREFIX, MD_QUOTE_PREFIX, MD_TRADE_PREFIX  # noqa: E402
from pyrt.bus.security import for_config  # noqa: E402
from pyrt.bus.zmq import ZmqSubscriber  # noqa: E402
from pyrt.config import load_config  # noqa: E402
from pyrt.simbroker.harness import DEFAULT_KEYS, SimBrokerProcess  # noqa: E402
from tests.support.deploy import make_deployment, wait_for  # noqa: E402

HEADERS = {"APCA-API-KEY-ID": DEFAULT_KEYS[0], "APCA-API-SECRET-KEY": DEFAULT_KEYS[1],
           "Content-Type": "application/json"}  # fmt: skip
DRAIN_QUIET_S = 0.5  # the pipeline is drained after this long without a message
SUSTAIN_DRAIN_S = 0.1  # a pipeline that keeps up has at most a tick or two in flight
DATA_PREFIXES = (MD_QUOTE_PREFIX, MD_TRADE_PREFIX, MD_BAR_PREFIX)


def _admin(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, headers=HEADERS, method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, timeout=30) as resp:  # a saturated sim answers late
        return json.loads(resp.read())


def _metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def _cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[int], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] / 1e6


def measure(rate: float, seconds: float, workdir: Path) -> dict[str, Any]:
    """One run at ``rate`` quotes/s for ``seconds`` (fresh sim broker and service under
    ``workdir``). Returns the figures of the run (see the module docstring)."""
    workdir.mkdir(parents=True, exist_ok=True)
    sim = SimBrokerProcess(workdir / "sim", "--symbols", "AAPL", "--quotes-per-second", str(rate),
                           "--tick-ms", "10", "--reset", "--rate-limit", "0").start()  # fmt: skip
    md: subprocess.Popen[bytes] | None = None
    try:
        _admin(sim.url, "/admin/market", {"paused": True})
        config_dir = make_deployment(workdir, sim_url=sim.url, system={
            "market_data": {"symbols": ["AAPL"]}, "signals": {"strategies": []}})  # fmt: skip
        cfg = json.loads((config_dir / "system.json").read_text())
        ready = workdir / "run" / "market_data.ready"
        with open(workdir / "market_data.out", "ab") as out:
            md = subprocess.Popen([sys.executable, "-m", "pyrt.services.market_data.service", str(config_dir)],
                                  stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        wait_for(lambda: ready.exists() or md.poll() is not None, 30, "market-data ready")
        if md.poll() is not None:
            raise RuntimeError(f"market-data exited with {md.returncode}; see {workdir / 'market_data.out'}")
        metrics_port = json.loads(ready.read_text())["metrics_port"]
        security = for_config(load_config(config_dir))  # the service admits only the deployment's bus key
        with ZmqSubscriber(
            cfg["market_data"]["zmq_publish_address"], [*DATA_PREFIXES, HEARTBEAT_PREFIX], security=security
        ) as sub:
            wait_for(lambda: sub.recv_batch(100), 10, "first heartbeat")  # the SUB is connected
            before = _admin(sim.url, "/admin/state")
            assert sim.proc is not None
            cpu0 = (_cpu_s(sim.proc.pid), _cpu_s(md.pid), time.process_time())
            delivered, lat_ns = 0, []
            _admin(sim.url, "/admin/market", {"paused": False})
            started = time.monotonic()
            while time.monotonic() - started < seconds:
                delivered += _take(sub, lat_ns)
            _admin(sim.url, "/admin/market", {"paused": True})
            paused = time.monotonic()
            last = paused
            while time.monotonic() - last < DRAIN_QUIET_S:
                n = _take(sub, lat_ns)
                if n:
                    delivered += n
                    last = time.monotonic()
            after = _admin(sim.url, "/admin/state")
            cpu1 = (_cpu_s(sim.proc.pid), _cpu_s(md.pid), time.process_time())
            gaps = sub.tracker.stats()
        active_s = paused - started
        sent = after["data_msgs_sent"] - before["data_msgs_sent"]
        generated = after["quotes_generated"] - before["quotes_generated"]
        reconnects = _metric(metrics_port, "market_data_websocket_reconnects_total")
        feed_latency_ms = (
            1000
            * _metric(metrics_port, "market_data_latency_seconds_sum")
            / max(1.0, _metric(metrics_port, "market_data_latency_seconds_count"))
        )
        lossless = sent == delivered and gaps["gaps"] == 0 and reconnects == 0
        result = {
            "offered_per_s": rate,
            "generated_per_s": generated / active_s,
            "delivered": delivered,
            "sent": sent,
            "delivered_per_s": delivered / active_s,
            "seq_gaps": gaps["gaps"],
            "missing": gaps["missing"] + max(0, sent - delivered),
            "reconnects": reconnects,
            "drain_s": last - paused,
            "latency_p50_ms": _pct(lat_ns, 0.5),
            "latency_p99_ms": _pct(lat_ns, 0.99),
            "lossless": lossless,
            "feed_latency_mean_ms": feed_latency_ms,  # sim event -> market-data receipt
            # CPU share of one core while the market ran and drained, per process
            "cpu_sim": (cpu1[0] - cpu0[0]) / (last - started),
            "cpu_md": (cpu1[1] - cpu0[1]) / (last - started),
            "cpu_sub": (cpu1[2] - cpu0[2]) / (last - started),
        }
        result["sustained"] = lossless and generated >= 0.95 * rate * active_s and result["drain_s"] <= SUSTAIN_DRAIN_S
        return result
    finally:
        if md is not None and md.poll() is None:
            md.send_signal(signal.SIGTERM)
            try:
                md.wait(15)
            except subprocess.TimeoutExpired:
                md.kill()
                md.wait(5)
        sim.stop()


def _take(sub: ZmqSubscriber, lat_ns: list[int]) -> int:
    """Receive what is queued; count data messages, sample event→subscriber latency."""
    n = 0
    batch = sub.recv_batch(20, 50_000)
    now = time.time_ns()
    for topic, env in batch:
        if topic.startswith(DATA_PREFIXES):
            n += 1
            if n % 50 == 1 and topic.startswith(MD_QUOTE_PREFIX):
                lat_ns.append(now - env.ts_event)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="20000,40000,60000,80000")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    results: dict[float, list[dict[str, Any]]] = {r: [] for r in rates}
    with tempfile.TemporaryDirectory(prefix="md-bench-") as tmp:
        for i in range(args.repeat):
            for rate in rates:
                try:
                    r = measure(rate, args.seconds, Path(tmp) / f"run{i}-{int(rate)}")
                except Exception as exc:  # one broken run must not lose the others
                    print(f"run {i + 1} offered {rate:>8,.0f}/s  FAILED: {exc!r}", flush=True)
                    continue
                results[rate].append(r)
                print(f"run {i + 1} offered {rate:>8,.0f}/s  generated {r['generated_per_s']:>8,.0f}/s  "
                      f"delivered {r['delivered_per_s']:>8,.0f}/s  sent-delivered {r['sent'] - r['delivered']}  "
                      f"gaps {r['seq_gaps']}  reconnects {r['reconnects']:.0f}  drain {r['drain_s']:.2f}s  "
                      f"lat p50/p99 {r['latency_p50_ms']:.1f}/{r['latency_p99_ms']:.1f} ms  "
                      f"(feed mean {r['feed_latency_mean_ms']:.1f} ms)  "
                      f"cpu sim/md/sub {r['cpu_sim']:.2f}/{r['cpu_md']:.2f}/{r['cpu_sub']:.2f}  "
                      f"{'SUSTAINED' if r['sustained'] else 'lossless' if r['lossless'] else 'LOSS'}",
                      flush=True)  # fmt: skip
    print("\nmedians per offered rate:")
    best = 0.0
    for rate, runs in results.items():
        if not runs:
            continue
        med = {
            k: statistics.median(r[k] for r in runs)
            for k in ("generated_per_s", "delivered_per_s", "seq_gaps", "drain_s", "latency_p50_ms", "latency_p99_ms")
        }
        sustained = sum(r["sustained"] for r in runs)
        if sustained * 2 > len(runs):
            best = max(best, rate)
        print(f"  offered {rate:>8,.0f}/s  generated {med['generated_per_s']:>8,.0f}/s  "
              f"delivered {med['delivered_per_s']:>8,.0f}/s  gaps {med['seq_gaps']:.0f}  drain {med['drain_s']:.2f}s  "
              f"lat p50/p99 {med['latency_p50_ms']:.1f}/{med['latency_p99_ms']:.1f} ms  "
              f"sustained in {sustained}/{len(runs)} runs")  # fmt: skip
    print(f"\nhighest offered rate sustained with zero loss (majority of runs): {best:,.0f} quotes/s")


if __name__ == "__main__":
    main()
