"""The recorder in a real market-data process: with `market_data.record` on, the quotes it
publishes from the sim broker land in Parquet under the day's folder (an injected quote with
its prices), the last batch is written at a graceful stop; an invalid record section refuses
to start, naming the field."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from pyrt.bus.schema import md_quote
from pyrt.bus.zmq import ZmqSubscriber
from pyrt.services.market_data.recorder import SUFFIX
from tests.support.bus import bus_key
from tests.support.deploy import make_deployment, wait_for

from .conftest import FAST, Sim, wait_msg

ROOT = Path(__file__).resolve().parents[3]


def start(config_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pyrt.services.market_data.service", str(config_dir)],
        cwd=config_dir.parent, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def rows(folder: Path, kind: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for f in sorted(folder.rglob(f"{kind}-*{SUFFIX}")):
        out += pq.read_table(f).to_pylist()
    return out


def test_a_market_data_process_records_what_it_publishes(tmp_path: Path, sim: Sim) -> None:
    record = tmp_path / "recorded"
    system = json.loads(json.dumps(FAST))
    system["market_data"]["record"] = {"enabled": True, "path": str(record), "max_disk_mb": 5,
                                       "flush_rows": 100000, "flush_interval_s": 0.2}  # fmt: skip
    config_dir = make_deployment(tmp_path, sim_url=sim.url, system=system)
    address = json.loads((config_dir / "system.json").read_text())["market_data"]["zmq_publish_address"]
    proc = start(config_dir)
    try:
        with ZmqSubscriber(address, ["md.", "hb."], security=bus_key(config_dir)) as sub:
            wait_msg(sub, lambda t, e: t.startswith("md.quote."), 20, "quotes on the bus")
            wait_for(lambda: list(record.rglob(f"quotes-*{SUFFIX}")), 10, "a quotes file")  # open: read after the stop
            sim.admin("POST", "/admin/market", {"paused": True})
            sim.quote("MSFT", 322.5, 322.75, 700, 300)  # published just before the stop: the last flush has it
            wait_msg(sub, lambda t, e: t == md_quote("MSFT") and e.payload.bid_price == 322.5, 5, "the last quote")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    quotes = rows(record, "quotes")
    assert {r["symbol"] for r in quotes} <= {"AAPL", "MSFT", "GOOGL"}
    assert len(quotes) > 10
    injected = [r for r in quotes if r["symbol"] == "MSFT" and r["bid_price"] == 322.5]
    assert [(r["ask_price"], r["bid_size"], r["ask_size"]) for r in injected] == [(322.75, 700.0, 300.0)]
    assert "market data recording to" in out
    days = [p.name for p in record.iterdir()]
    assert len(days) >= 1 and all(len(d) == 10 and d[4] == "-" for d in days)  # YYYY-MM-DD folders


def test_an_invalid_record_section_refuses_to_start(tmp_path: Path, sim: Sim) -> None:
    system = json.loads(json.dumps(FAST))
    system["market_data"]["record"] = {"enabled": True, "max_disk_mb": -1}
    proc = start(make_deployment(tmp_path, sim_url=sim.url, system=system))
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "market_data.record.max_disk_mb" in out
