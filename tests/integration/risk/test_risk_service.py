"""The risk-manager process: SIGHUP reloads limits (an invalid file keeps the old ones, and
a reload never clears an active breaker); the breaker survives a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from pyrt.bus import schema as wire
from pyrt.bus.security import for_config
from pyrt.bus.zmq import RequestClient
from pyrt.config import load_config
from pyrt.ops.status import read_ready_info
from tests.support.deploy import make_deployment, wait_for


class RiskProcess:
    def __init__(self, config_dir: Path) -> None:
        self.cfg = load_config(config_dir)
        (self.cfg.system.paths.run_dir / "risk_manager.ready").unlink(missing_ok=True)
        log = open(config_dir.parent / "risk.out", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pyrt.services.risk.service", str(config_dir)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        wait_for(lambda: read_ready_info(self.cfg, "risk_manager") or self.proc.poll() is not None, 30, "risk ready")
        self.port = read_ready_info(self.cfg, "risk_manager")["metrics_port"]

    def metric(self, name: str) -> str:
        text = requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        return "\n".join(line for line in text.splitlines() if line.startswith(name))

    def command(self, action: str, **args: str) -> wire.ControlResult:
        with RequestClient(
            self.cfg.system.risk.intent_endpoint, timeout_ms=5000, security=for_config(self.cfg)
        ) as client:
            return client.request(wire.ControlCommand(action, args, reason="test", actor="pytest")).payload

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)


def limits(shares: int) -> str:
    """risk_max_position_size of each configured symbol, as exposed."""
    return "\n".join(f'risk_max_position_size{{symbol="{s}"}} {shares}.0' for s in ("AAPL", "GOOGL", "MSFT"))


def test_sighup_reload_and_breaker_persistence(tmp_path: Path):
    config_dir = make_deployment(tmp_path / "root")
    risk_file = config_dir / "risk_limits.toml"
    risk = RiskProcess(config_dir)
    try:
        assert risk.metric("risk_max_position_size") == limits(1000)
        # the guide's position utilisation: the same labels on both sides, one series per symbol
        assert risk.metric("trading_position_size") == "\n".join(
            f'trading_position_size{{symbol="{s}"}} 0.0' for s in ("AAPL", "GOOGL", "MSFT")
        )
        assert risk.command("breaker_activate", mode="HALTED").ok
        wait_for(lambda: risk.metric("risk_circuit_breaker_active ") == "risk_circuit_breaker_active 1.0", 5, "breaker")
        # the shell reads the typed event: the activation is counted under its trigger
        activations = risk.metric("risk_circuit_breaker_activations_total")
        assert 'risk_circuit_breaker_activations_total{trigger="manual"} 1.0' in activations, activations
        assert 'risk_circuit_breaker_activations_total{trigger="daily_loss"} 0.0' in activations, activations
        # a valid reload takes effect and leaves the breaker active
        risk_file.write_text(risk_file.read_text().replace("max_shares = 1000", "max_shares = 500"))
        os.kill(risk.proc.pid, signal.SIGHUP)
        wait_for(lambda: risk.metric("risk_max_position_size") == limits(500), 10, "reloaded limit")
        assert 'config_reload_total{status="success"} 1.0' in risk.metric("config_reload_total")
        assert risk.metric("risk_circuit_breaker_active ") == "risk_circuit_breaker_active 1.0"
        # an invalid file is rejected: the old limits stay
        risk_file.write_text(risk_file.read_text().replace("max_shares = 500", "max_shares = -3"))
        os.kill(risk.proc.pid, signal.SIGHUP)
        wait_for(
            lambda: 'config_reload_total{status="failed"} 1.0' in risk.metric("config_reload_total"), 10, "rejected"
        )
        assert risk.metric("risk_max_position_size") == limits(500)
        assert risk.stop() == 0
        log = (tmp_path / "root" / "logs" / "risk_manager.log").read_text()
        assert "config reload rejected" in log and "max_shares" in log
        assert "circuit breaker activated: trigger=manual reason=test mode=HALTED manual=True" in log
        # the breaker survives a restart
        risk_file.write_text(risk_file.read_text().replace("max_shares = -3", "max_shares = 500"))
        risk = RiskProcess(config_dir)
        assert risk.metric("risk_circuit_breaker_active ") == "risk_circuit_breaker_active 1.0"
        status = risk.command("status").data
        assert status["breaker"]["active"] and status["breaker"]["trigger"] == "manual"
    finally:
        if risk.proc.poll() is None:
            risk.stop()


def test_the_broadcast_decision_names_the_order(tmp_path: Path):
    """A denial on `risk.decision` says which order it was (the console shows it): strategy,
    symbol, side and quantity, not only the intent id."""
    import itertools
    import time
    from decimal import Decimal

    from pyrt.bus.zmq import ZmqSubscriber
    from pyrt.domain.enums import OrderSide
    from pyrt.domain.intents import OrderIntent

    config_dir = make_deployment(tmp_path / "root")
    risk = RiskProcess(config_dir)
    sub = ZmqSubscriber(risk.cfg.system.risk.publish_address, [wire.risk_decision()], security=for_config(risk.cfg))
    try:
        got: list[wire.RiskDecisionMsg] = []
        ids = itertools.count()
        deadline = time.monotonic() + 20
        with RequestClient(risk.cfg.system.risk.intent_endpoint, timeout_ms=5000, security=for_config(risk.cfg)) as c:
            while not got and time.monotonic() < deadline:  # until the subscription is up
                intent = OrderIntent(
                    intent_id=f"t{next(ids)}", strategy="ema_cross", symbol="MSFT", side=OrderSide.BUY, qty=Decimal(7)
                )
                c.request(wire.OrderIntentMsg(intent), correlation_id=intent.intent_id)
                got += [e.payload for _, e in sub.recv_batch(200) if isinstance(e.payload, wire.RiskDecisionMsg)]
        assert got, "no decision broadcast"
        msg = got[0]
        assert not msg.decision.approved and msg.decision.reason_code == "NO_MARKET_DATA"
        assert (msg.strategy, msg.symbol, msg.side, msg.qty) == ("ema_cross", "MSFT", "buy", Decimal(7))
        kept = risk.command("recent").data["denials"]  # what the console loads at its start
        assert kept and (kept[-1]["strategy"], kept[-1]["symbol"], kept[-1]["qty"]) == ("ema_cross", "MSFT", "7")
    finally:
        sub.close()
        risk.stop()
