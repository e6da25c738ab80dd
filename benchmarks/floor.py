"""What this machine allows, before any py_rt logic: the floor under tick-to-submit.

1. One request/reply round trip on our bus (RequestClient -> ReplyServer in another
   process, tcp loopback), with the server idle between requests as the order path is
   (--gap-ms apart, 200 ms = 5 orders/s like benchmarks/pipeline.py) and back to back.
   The order path crosses three one-way hops (market-data -> signal-bridge -> risk-manager
   -> execution-engine), so a one-way hop is about half a round trip.
   For comparison, the same round trip over a plain Unix socket: ZeroMQ moves each message
   through an I/O thread on both sides, so a hop wakes three threads where a socket wakes one.
2. One SQLite commit of a small record in WAL mode at synchronous=FULL (an fsync: the
   journal's default) and NORMAL, in the directory the journal would use.

    .venv/bin/python benchmarks/floor.py [--dir data] [--gap-ms 200] [--count 60]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import socket
import sqlite3
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from pyrt.bus import schema as s
from pyrt.bus.zmq import EPHEMERAL, ReplyServer, RequestClient


def _echo_server(conn: Connection) -> None:
    with ReplyServer(EPHEMERAL, server_id="floor") as server:
        conn.send(server.last_endpoint)
        while not conn.poll(0):
            server.serve(lambda env: env.payload, timeout_ms=50)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def round_trips(count: int, gap_s: float) -> list[float]:
    """Microseconds per request/reply round trip, ``gap_s`` apart."""
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_echo_server, args=(child,))
    proc.start()
    try:
        endpoint = parent.recv()
        out: list[float] = []
        with RequestClient(endpoint, timeout_ms=5000, client_id="floor") as client:
            payload = s.Heartbeat("floor", "x" * 200, 0)
            for _ in range(5):  # connect and warm up
                client.request(payload)
            for _ in range(count):
                time.sleep(gap_s)
                t0 = time.perf_counter_ns()
                client.request(payload)
                out.append((time.perf_counter_ns() - t0) / 1000.0)
        return out
    finally:
        parent.send("stop")
        proc.join(10)


def _echo_unix(path: str, conn: Connection) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        conn.send("listening")
        peer, _ = server.accept()
        with peer:
            while data := peer.recv(65536):
                peer.sendall(data)


def unix_round_trips(count: int, gap_s: float) -> list[float]:
    """Microseconds per echo over a Unix socket (one wake-up each way), ``gap_s`` apart."""
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "echo.sock")
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(target=_echo_unix, args=(path, child))
        proc.start()
        try:
            parent.recv()
            out: list[float] = []
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect(path)
                message = b"x" * 300
                for i in range(count + 5):
                    time.sleep(gap_s)
                    t0 = time.perf_counter_ns()
                    client.sendall(message)
                    received = 0
                    while received < len(message):
                        received += len(client.recv(65536))
                    if i >= 5:
                        out.append((time.perf_counter_ns() - t0) / 1000.0)
            return out
        finally:
            proc.join(10)


def commits(directory: Path, synchronous: str, count: int = 200) -> list[float]:
    """Microseconds per small committed insert, SQLite WAL at ``synchronous``."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        db = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous}")
            db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT)")
            out = []
            for i in range(count):
                t0 = time.perf_counter_ns()
                db.execute("BEGIN")
                db.execute("INSERT INTO t VALUES (?, ?)", (i, "x" * 300))
                db.execute("COMMIT")
                out.append((time.perf_counter_ns() - t0) / 1000.0)
            return out
        finally:
            db.close()


def measure(directory: Path, gap_ms: float = 200.0, count: int = 60) -> dict[str, float]:
    idle = round_trips(count, gap_ms / 1000.0)
    busy = round_trips(count * 5, 0.0)
    unix = unix_round_trips(count, gap_ms / 1000.0)
    full = commits(directory, "FULL")
    normal = commits(directory, "NORMAL")
    return {
        "rtt_idle_p50_us": statistics.median(idle),
        "rtt_idle_p99_us": _pct(idle, 0.99),
        "rtt_busy_p50_us": statistics.median(busy),
        "rtt_unix_idle_p50_us": statistics.median(unix),
        "commit_full_p50_us": statistics.median(full),
        "commit_full_p99_us": _pct(full, 0.99),
        "commit_normal_p50_us": statistics.median(normal),
    }


def report(f: dict[str, float], gap_ms: float) -> None:
    rows = [
        (
            f"bus round trip, server idle {gap_ms:.0f} ms between requests",
            f"p50 {f['rtt_idle_p50_us']:6.0f} us  p99 {f['rtt_idle_p99_us']:6.0f} us",
        ),
        ("bus round trip, back to back", f"p50 {f['rtt_busy_p50_us']:6.0f} us"),
        (
            f"plain Unix socket round trip, idle {gap_ms:.0f} ms between",
            f"p50 {f['rtt_unix_idle_p50_us']:6.0f} us  (one thread woken each way, not three)",
        ),
        (
            "SQLite WAL commit, synchronous=FULL",
            f"p50 {f['commit_full_p50_us']:6.0f} us  p99 {f['commit_full_p99_us']:6.0f} us",
        ),
        ("SQLite WAL commit, synchronous=NORMAL", f"p50 {f['commit_normal_p50_us']:6.0f} us"),
    ]
    for label, value in rows:
        print(f"  {label + ':':<55} {value}")
    floor_full = 3 * f["rtt_idle_p50_us"] / 2 + f["commit_full_p50_us"]
    print(f"  floor for tick-to-submit (3 idle one-way hops + FULL commit, no py_rt logic): ~{floor_full:.0f} us")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--gap-ms", type=float, default=200.0)
    ap.add_argument("--count", type=int, default=60)
    args = ap.parse_args()
    print(f"floor on this machine ({args.dir}):")
    report(measure(args.dir, args.gap_ms, args.count), args.gap_ms)


if __name__ == "__main__":
    main()
