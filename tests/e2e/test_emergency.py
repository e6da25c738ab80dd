"""The operator's emergency procedures on the whole system as processes, through the
guide's scripts and curl commands: safe mode sends no order until POST /trading/enable,
liquidate_positions.py --confirm leaves no position, emergency_stop.sh leaves zero open
orders at the broker, stops the four trading services and alerts by webhook and e-mail,
and the circuit breaker stays active across a restart (restart_trading_system.sh)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pyrt.config import AppConfig, load_config
from pyrt.persistence.journal import Journal, RecordKind
from tests.integration.notify.receivers import SmtpReceiver, WebhookReceiver
from tests.support.deploy import FAST_STRATEGIES, REPO, make_deployment, wait_for

from .conftest import System

TRADING_SERVICES = ("market_data", "risk_manager", "execution_engine", "signal_bridge")


def loose_risk_limits() -> str:
    """The shipped limits, but the fast strategies' many small losing trades must not trip
    the breaker during a test."""
    toml = (REPO / "config" / "risk_limits.toml").read_text()
    toml = re.sub(r"(?m)^max_consecutive_losses = \d+", "max_consecutive_losses = 10000", toml)
    return re.sub(r"(?m)^max_trades_per_day = \d+", "max_trades_per_day = 100000", toml)


class Operator:
    """What an operator at the deployment root does: the API with the token file, curl."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.cfg: AppConfig = load_config(system.config_dir)

    @property
    def api(self) -> str:
        info = json.loads((self.cfg.system.paths.run_dir / "control.ready").read_text())
        return f"http://127.0.0.1:{info['api_port']}"

    def get(self, path: str, **params: Any) -> Any:
        token = (self.system.root / "data" / "api_token").read_text().strip()
        res = requests.get(self.api + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        res.raise_for_status()
        return res.json()

    def curl(self, command: str) -> subprocess.CompletedProcess[str]:
        """A shell command line at the root, `localhost:<api>` and `localhost:<metrics>` filled in."""
        line = command.replace("<api>", self.api.rsplit(":", 1)[1])
        line = line.replace("<metrics>", str(self.cfg.system.metrics.gateway))
        return subprocess.run(
            ["bash", "-c", line], cwd=self.system.root, capture_output=True, text=True, timeout=30, check=False
        )

    def intents(self) -> int:
        """Orders the execution engine journalled."""
        try:
            with Journal(self.cfg.system.execution.journal_path, read_only=True) as j:
                return sum(1 for r in j.iter_records() if r.kind == RecordKind.INTENT)
        except Exception:  # noqa: BLE001 - not created yet
            return 0

    def positions(self) -> dict[str, str]:
        return {p["symbol"]: p["qty"] for p in self.get("/api/v1/positions")}

    def open_orders(self) -> list[dict[str, Any]]:
        return self.get("/api/v1/orders", status="open")

    def last_fill_price(self, symbol: str) -> float:
        filled = [
            o
            for o in self.get("/api/v1/orders", status="closed", limit=500)
            if o["symbol"] == symbol and o["filled_avg_price"]
        ]
        return float(max(filled, key=lambda o: o["submitted_at"])["filled_avg_price"])


def step_timings(output: str) -> dict[str, float]:
    """{step: duration_ms} from the emergency stop's report lines (`  1. halt_trading  12.3 ms ok ...`)."""
    return {m[1]: float(m[2]) for m in re.finditer(r"(?m)^\s+\d\. (\w+)\s+([\d.]+) ms", output)}


@pytest.fixture
def receivers() -> Iterator[tuple[WebhookReceiver, SmtpReceiver]]:
    hook, smtp = WebhookReceiver(), SmtpReceiver()
    try:
        yield hook, smtp
    finally:
        hook.close()
        smtp.close()


@pytest.fixture
def alerted(tmp_path: Path, receivers: tuple[WebhookReceiver, SmtpReceiver]) -> Iterator[System]:
    hook, smtp = receivers
    root = tmp_path / "root"
    notifications = {
        "webhook_url": hook.url("/services/T000/B000/secret-path"),
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp.port,
            "from_addr": "pyrt@example.com",
            "to_addrs": ["ops@example.com"],
            "starttls": False,
        },
    }
    config_dir = make_deployment(
        root,
        risk_toml=loose_risk_limits(),
        system={
            "signals": {"strategies": FAST_STRATEGIES},
            "sim_broker": {"quotes_per_second": 10, "seed": 11},
            "notifications": notifications,
        },
    )
    system = System(root, config_dir)
    try:
        yield system
    finally:
        system.pyrt("down", "--grace", "5", check=False, timeout=90)


def test_safe_mode_liquidation_emergency_stop_and_breaker_restart(
    alerted: System, receivers: tuple[WebhookReceiver, SmtpReceiver]
) -> None:
    system, (hook, smtp) = alerted, receivers
    op = Operator(system)

    # safe mode: the strategies compute signals and want to trade, but no order is sent
    out = system.script("start_trading_system.sh", "--safe-mode", timeout=120)
    assert "started 6 processes" in out.stdout and "safe mode" in out.stdout
    wait_for(lambda: op.get("/api/v1/status")["signals"]["suppressed_intents"] >= 1, 60, "a suppressed intent", 0.2)
    assert op.intents() == 0 and op.get("/api/v1/orders", status="all") == []

    # the guide's step 7: resume normal operation
    res = op.curl(
        'curl -s -X POST -H "Authorization: Bearer $(cat data/api_token)" localhost:<api>/api/v1/trading/enable'
    )
    assert json.loads(res.stdout) == {"ok": True, "detail": "trading enabled", "blocked_by": [], "next_steps": []}, res
    wait_for(lambda: op.intents() >= 1, 60, "the strategies to trade", 0.2)

    # liquidation: automatic trading off, two positions of our own, then close everything
    system.pyrt("trading", "disable", "--reason", "before liquidation")
    for symbol in ("AAPL", "MSFT"):
        system.script(
            "manual_trade.py", "--symbol", symbol, "--action", "buy", "--quantity", "5", "--order-type", "market"
        )
    wait_for(lambda: {"AAPL", "MSFT"} <= set(op.positions()), 15, "two positions")
    dry = system.script("liquidate_positions.py")
    assert "DRY RUN" in dry.stdout and set(op.positions()) >= {"AAPL", "MSFT"}
    liq = system.script("liquidate_positions.py", "--confirm", "--reason", "e2e")
    assert "0 positions left" in liq.stdout, liq.stdout
    # the API's reads are cached (0.5 s from the engine; 2 s from the broker when the engine
    # was slow to answer), and the liquidation ran in another process
    wait_for(lambda: op.positions() == {}, 10, "the API to show no positions", 0.2)

    # the breaker, activated by the guide's curl, survives a restart
    res = op.curl(
        'curl -s -X POST -H "Authorization: Bearer $(cat data/api_token)" '
        "localhost:<api>/api/v1/circuit-breaker/activate"
    )
    assert json.loads(res.stdout)["ok"] is True, res
    system.script("restart_trading_system.sh", timeout=120)
    assert op.get("/api/v1/status")["circuit_breaker"]["active"] is True
    metrics = op.curl("curl -s http://localhost:<metrics>/metrics | grep risk_circuit_breaker_active")
    assert "risk_circuit_breaker_active 1" in metrics.stdout.splitlines(), metrics.stdout
    system.pyrt("breaker", "deactivate", "--reason", "e2e: restart checked", "--force")

    # resting limit orders far from the market (4 % below, inside the 5 % price collar)
    for symbol in ("AAPL", "MSFT"):
        price = round(op.last_fill_price(symbol) * 0.96, 2)
        system.script(
            "manual_trade.py",
            "--symbol",
            symbol,
            "--action",
            "buy",
            "--quantity",
            "1",
            "--order-type",
            "limit",
            "--limit-price",
            str(price),
        )
    wait_for(lambda: len([o for o in op.open_orders() if o["type"] == "limit"]) == 2, 15, "two resting orders")

    # the kill switch (the strategies trade again since the restart)
    out = system.script("emergency_stop.sh", "--reason", "e2e kill switch", timeout=120)
    print(out.stdout)
    assert list(step_timings(out.stdout)) == ["halt_trading", "cancel_orders", "stop_services", "notify"], out.stdout
    assert "the broker confirms zero open orders" in out.stdout
    assert op.open_orders() == []  # control and the venue stay up
    services = op.get("/api/v1/status")["services"]
    assert [s for s in TRADING_SERVICES if services[s]["running"]] == []
    assert services["control"]["running"] and services["sim_broker"]["running"]
    # (the control process also relays other alerts, e.g. the breaker activated above)
    wait_for(lambda: any(body["pyrt"]["kind"] == "emergency_stop" for _path, body in hook.posts), 10, "the webhook")
    mail = wait_for(
        lambda: next((m.message for m in smtp.mails if "Emergency stop" in m.message["Subject"]), None),
        10,
        "the e-mail",
    )
    assert "e2e kill switch" in mail.get_content()
