"""Bus benchmark: quotes through real zmq PUB/SUB on tcp loopback (publisher in its own
process), and encode+decode cost of one quote frame.

    .venv/bin/python benchmarks/bus.py [--quotes 100000] [--curve]

``--curve``: both sockets with the bus's CURVE keys (pyrt.bus.security), as in production.

Prints msgs/s received, gaps (quotes the PUB dropped at its high-water mark) and
microseconds per quote for encode, decode and both. Runs in well under 10 s.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
import timeit
from multiprocessing.connection import Connection
from pathlib import Path

from pyrt.bus import schema as s
from pyrt.bus.security import BusSecurity, for_keys_dir
from pyrt.bus.zmq import EPHEMERAL, ZmqPublisher, ZmqSubscriber

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "SPY"]
END = s.md_status("END")


def _security(keys_dir: str) -> BusSecurity | None:
    return for_keys_dir(Path(keys_dir)) if keys_dir else None


def publisher_process(endpoint: str, count: int, conn: Connection, keys_dir: str = "") -> None:
    """Connect to the subscriber, announce with heartbeats until told to go, then blast."""
    with ZmqPublisher(endpoint, bind=False, publisher_id="bench", security=_security(keys_dir)) as pub:
        while not conn.poll(0.01):
            pub.publish(s.heartbeat("bench"), s.Heartbeat("bench", "warmup", 0))
        conn.recv()
        quotes = [s.QuoteMsg(sym, 100.0, 1.0, 100.01, 2.0, 0) for sym in SYMBOLS]
        n = len(quotes)
        started = time.perf_counter()
        for i in range(count):
            pub.publish_quote(quotes[i % n])
        elapsed = time.perf_counter() - started
        for _ in range(3):  # END may be dropped at HWM like anything else; repeat it
            pub.publish(END, s.SymbolStatus("END", False))
        conn.send(elapsed)
        conn.recv()  # keep the socket open until the subscriber is done


def pubsub(count: int, keys_dir: str = "") -> None:
    with ZmqSubscriber(EPHEMERAL, [s.MD_PREFIX, s.HEARTBEAT_PREFIX], bind=True, security=_security(keys_dir)) as sub:
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(
            target=publisher_process, args=(sub.last_endpoint, count, child, keys_dir)
        )
        proc.start()
        deadline = time.monotonic() + 10
        while not sub.recv_batch(50) and time.monotonic() < deadline:
            pass
        parent.send("go")
        received = 0
        first = last = 0.0
        done = False
        while not done and time.monotonic() < deadline:
            for topic, _env in sub.recv_batch(100):
                if topic == END:
                    done = True
                    break
                if topic.startswith(s.MD_QUOTE_PREFIX):
                    if not received:
                        first = time.perf_counter()
                    received += 1
                    last = time.perf_counter()
        publish_s = parent.recv()
        parent.send("bye")
        proc.join(5)
        gaps = sub.tracker.stats()
    span = max(last - first, 1e-9)
    print(
        f"pub/sub tcp loopback{' (CURVE)' if keys_dir else ''}: {count} quotes published at {count / publish_s:,.0f}/s"
    )
    print(f"                       {received} received at {received / span:,.0f} msgs/s")
    print(f"                       gaps {gaps['gaps']}, missing {gaps['missing']}", end="")
    print(f", dropped {sub.dropped}")


def codec() -> None:
    factory = s.EnvelopeFactory("bench")
    env = factory.make(s.md_quote("AAPL"), s.QuoteMsg("AAPL", 189.12, 100.0, 189.14, 200.0, 1))
    enc, dec = s.FrameEncoder(), s.FrameDecoder()
    frame = enc.encode_quote(env)
    n = 50_000

    def best(fn: object) -> float:
        return min(timeit.repeat(fn, number=n, repeat=3)) / n * 1e6  # type: ignore[arg-type]

    print(f"quote frame          : {len(frame)} bytes")
    print(f"encode               : {best(lambda: enc.encode_quote(env)):.2f} us")
    print(f"decode               : {best(lambda: dec.decode(frame)):.2f} us")
    print(f"encode+decode        : {best(lambda: dec.decode(enc.encode_quote(env))):.2f} us")
    topic, msg = s.md_quote("AAPL"), env.payload
    full = best(lambda: dec.decode(enc.encode_quote(factory.make(topic, msg))))
    print(f"stamp+encode+decode  : {full:.2f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=100_000)
    parser.add_argument("--curve", action="store_true", help="secure both sockets with CURVE (bus keys)")
    args = parser.parse_args()
    print(f"load average         : {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")
    codec()
    if args.curve:
        with tempfile.TemporaryDirectory() as tmp:
            pubsub(args.quotes, str(Path(tmp) / "bus_keys"))
    else:
        pubsub(args.quotes)


if __name__ == "__main__":
    main()
