"""A gap in the execution reports makes the risk manager count it and take the execution
engine's position snapshot instead of deciding on partial state."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import requests

from pyrt.bus import schema as wire
from pyrt.bus.security import for_config
from pyrt.bus.zmq import ReplyServer, ZmqPublisher, ZmqSubscriber, wait_connected
from pyrt.config import load_config
from pyrt.ops.status import read_ready_info
from pyrt.services.risk import service as risk_service
from tests.support.deploy import make_deployment, wait_for


def test_report_gap_triggers_a_position_snapshot(tmp_path: Path):
    config_dir = make_deployment(tmp_path / "root")
    cfg = load_config(config_dir)
    bus_key = for_config(cfg)  # the deployment's bus key: the risk manager admits no one else
    engine = ReplyServer(cfg.system.execution.order_endpoint, security=bus_key)  # stands in for the execution engine
    reports = ZmqPublisher(
        cfg.system.execution.report_publish_address, publisher_id="execution_engine", security=bus_key
    )
    stop = threading.Event()
    thread = threading.Thread(target=risk_service.run, args=(config_dir, stop), daemon=True)
    thread.start()
    try:
        ready = wait_for(lambda: read_ready_info(cfg, "risk_manager"), 20, "risk ready")
        probe = ZmqSubscriber(cfg.system.execution.report_publish_address, [wire.EXEC_PREFIX], security=bus_key)
        wait_connected(reports, probe)
        probe.close()
        topic = wire.exec_position("AAPL")
        reports.publish(
            topic, wire.PositionUpdate("AAPL", Decimal(5), Decimal(100), Decimal(500), Decimal(0), Decimal(0))
        )
        # two updates are lost on the way: seq jumps from 1 to 4
        reports.factory.make(topic, wire.Heartbeat("x", "ok", 0))
        reports.factory.make(topic, wire.Heartbeat("x", "ok", 0))
        reports.publish(
            topic, wire.PositionUpdate("AAPL", Decimal(8), Decimal(100), Decimal(800), Decimal(0), Decimal(0))
        )
        asked = wait_for(lambda: engine.poll(100), 10, "snapshot request")
        identity, env = asked[0]
        assert isinstance(env.payload, wire.SnapshotRequest) and env.payload.kind == "positions"
        engine.reply(
            identity,
            wire.Snapshot(
                "positions",
                [wire.PositionUpdate("AAPL", Decimal(12), Decimal(100), Decimal(1200), Decimal(0), Decimal(0))],
            ),
            env.correlation_id,
        )
        port = ready["metrics_port"]
        wait_for(
            lambda: "bus_seq_gaps_total 1.0" in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text,
            10,
            "gap counted",
        )
        log = tmp_path / "root" / "logs" / "risk_manager.log"
        wait_for(lambda: "positions resynchronised" in log.read_text(), 10, "resync logged")
    finally:
        stop.set()
        thread.join(15)
        engine.close()
        reports.close()
