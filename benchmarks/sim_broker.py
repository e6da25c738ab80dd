"""Sim broker benchmark: prints its figures.

1. Order round trip with alpaca-py: TradingClient.submit_order → HTTP ack, and submit →
   `fill` event on TradingStream, p50/p99 over N market orders (default 1,000).
2. Sustained quotes/s delivered to one alpaca-py StockDataStream subscriber.

The sim broker runs as its own process (`pyrt sim-broker`), as in production.
Usage: python benchmarks/sim_broker.py [--orders 1000] [--seconds 5] [--rate 60000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from alpaca.data.live.stock import StockDataStream
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from alpaca.trading.stream import TradingStream

from pyrt.simbroker.harness import DEFAULT_KEYS, SimBrokerProcess

KEY, SECRET = DEFAULT_KEYS


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def order_round_trip(n: int, workdir: Path) -> None:
    proc = SimBrokerProcess(
        workdir / "orders", "--rate-limit", "0", "--reset", "--quotes-per-second", "5", "--initial-cash", "100000000"
    ).start()
    try:
        client = TradingClient(KEY, SECRET, paper=True, url_override=proc.url)
        client._session.trust_env = False  # no ~/.netrc and proxy lookups per call (~1 ms in requests)
        fills: dict[str, float] = {}
        cond = threading.Condition()

        async def on_update(msg: dict) -> None:
            data = msg["data"]
            if data["event"] == "fill":
                with cond:
                    fills[data["order"]["client_order_id"]] = time.perf_counter()
                    cond.notify_all()

        stream = TradingStream(KEY, SECRET, raw_data=True, url_override=proc.ws_url + "/stream")
        stream.subscribe_trade_updates(on_update)
        thread = threading.Thread(target=stream.run, daemon=True)
        thread.start()
        # warm up (connections, first imports) and make sure the stream is listening
        deadline = time.monotonic() + 10
        i = 0
        while not fills and time.monotonic() < deadline:
            client.submit_order(
                MarketOrderRequest(
                    symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=f"warm-{i}"
                )
            )
            i += 1
            time.sleep(0.05)
        acks, trips = [], []
        for k in range(n):
            cid = f"bench-{k}"
            side = OrderSide.BUY if k % 2 == 0 else OrderSide.SELL
            t0 = time.perf_counter()
            client.submit_order(
                MarketOrderRequest(symbol="AAPL", qty=1, side=side, time_in_force=TimeInForce.DAY, client_order_id=cid)
            )
            t1 = time.perf_counter()
            with cond:
                cond.wait_for(lambda cid=cid: cid in fills, timeout=5)
            acks.append((t1 - t0) * 1e3)
            trips.append((fills[cid] - t0) * 1e3)
        stream.stop()
        thread.join(5)
        print(f"orders: {n} market orders via alpaca-py against the sim broker process")
        print(f"  order ack (submit_order returns)  p50 {statistics.median(acks):.2f} ms  p99 {pct(acks, 0.99):.2f} ms")
        print(
            f"  round trip (submit -> fill event) p50 {statistics.median(trips):.2f} ms  p99 {pct(trips, 0.99):.2f} ms"
        )
    finally:
        proc.stop()


def quote_throughput(seconds: float, rate: float, workdir: Path, raw: bool) -> None:
    proc = SimBrokerProcess(
        workdir / f"quotes-{raw}", "--reset", "--symbols", "AAPL", "--quotes-per-second", str(rate), "--tick-ms", "10"
    ).start()
    try:
        stream = StockDataStream(KEY, SECRET, raw_data=raw, url_override=proc.ws_url + "/v2/iex")
        count = [0]
        first = [0.0]

        async def on_quote(q: object) -> None:
            count[0] += 1

        stream.subscribe_quotes(on_quote, "AAPL")
        thread = threading.Thread(target=stream.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while count[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(1.0)  # settle
        c0, t0 = count[0], time.perf_counter()
        time.sleep(seconds)
        c1, t1 = count[0], time.perf_counter()
        stream.stop()
        thread.join(5)
        mode = "raw_data=True" if raw else "parsed models"
        print(
            f"quotes: offered {rate:,.0f}/s, delivered to one alpaca-py subscriber ({mode}): {(c1 - c0) / (t1 - t0):,.0f} quotes/s over {seconds:.0f} s"
        )
        del first
    finally:
        proc.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=60_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        order_round_trip(args.orders, Path(tmp))
        quote_throughput(args.seconds, args.rate, Path(tmp), raw=True)
        quote_throughput(args.seconds, args.rate, Path(tmp), raw=False)


if __name__ == "__main__":
    main()
