"""The real signal bridge over ZeroMQ when the final reports of its orders never arrive: the
approved intents stay pending until they are overdue, then the bridge asks the execution
engine for its open orders and ends those it no longer holds (the strategy is told "ended"
and is free to trade again). Overdue after 0.5 s here instead of 60 s."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pyrt.bus.zmq import ZmqPublisher
from pyrt.config import load_config
from pyrt.domain.market import Quote
from pyrt.services.signals import service as signals
from tests.support.bus import bus_key
from tests.support.deploy import make_deployment, wait_for

from .conftest import bridge_status, running_bridge


def test_intents_whose_reports_were_lost_end_once_overdue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "OVERDUE_S", 0.5)
    monkeypatch.setattr(signals, "OVERDUE_CHECK_S", 0.2)
    strategies = [{"name": "one", "kind": "benchmark_every_n", "symbols": ["AAPL"], "params": {"every_n": 1}}]
    config_dir = make_deployment(tmp_path / "root", system={"signals": {"strategies": strategies}})
    cfg = load_config(config_dir)
    md = ZmqPublisher(cfg.system.market_data.zmq_publish_address, publisher_id="market_data", security=bus_key(cfg))
    try:
        with running_bridge(config_dir) as (risk, control):  # approves; no engine, so no report ever
            deadline = time.monotonic() + 20
            while not risk.asked and time.monotonic() < deadline:
                md.publish_quote(Quote("AAPL", 99.99, 100, 100.01, 100, time.time_ns()))
                time.sleep(0.05)
            assert risk.asked, "no intent reached the stand-in risk manager"
            status = wait_for(
                lambda: (s := bridge_status(control))["intents_pending"] == 0 and s, 20, "the overdue intents ended"
            )
            assert status["sent_intents"] >= 1 and status["intents_unanswered"] == 0
    finally:
        md.close()
