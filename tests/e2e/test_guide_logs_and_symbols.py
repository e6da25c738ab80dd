"""The guide's log greps and its "Update Trading Symbols", on the whole system as processes.

- A broker rejection that arrives over trade_updates (the sim broker's stream-mode reject
  fault) is found by the guide's `grep "order.*failed\\|order.*rejected"` in
  execution_engine.log, counted in execution_orders_rejected_total{reason="broker"}, and the
  guide's `grep -o "Error: [^:]*" logs/*.log | sort | uniq -c` counts it by its kind.
- The guide's edit of the symbols and restart of market data: the metrics show which
  symbols stream, and an order in a new symbol is approved (risk saw its quotes) and filled
  (the sim broker learnt it)."""

from __future__ import annotations

import json
import os
import signal

import requests

from pyrt.config.system import SIM_LISTED_SYMBOLS
from tests.support.deploy import wait_for
from tests.support.sim import HEADERS

from .conftest import System
from .test_emergency import Operator


def manual(system: System, symbol: str, qty: int = 1) -> str:
    trade = system.script(
        "manual_trade.py", "--symbol", symbol, "--action", "buy", "--quantity", str(qty), "--order-type", "market",
    )  # fmt: skip
    return next(line.split()[1] for line in trade.stdout.splitlines() if line.startswith("client_order_id:"))


def status_of(system: System, coid: str) -> str:
    out = system.script("check_order.py", "--order-id", coid, check=False).stdout
    return next((line.split()[1] for line in out.splitlines() if line.strip().startswith("status:")), "")


def test_the_guides_log_greps_and_symbol_update(deployment: System) -> None:
    system = deployment
    op = Operator(system)
    system.script("start_trading_system.sh", "--safe-mode", timeout=120)

    # a rejection over trade_updates
    sim = f"http://127.0.0.1:{op.cfg.system.sim_broker.port}"
    fault = {"reject_next": {"count": 1, "mode": "stream"}}
    requests.post(f"{sim}/admin/faults", json=fault, headers=HEADERS, timeout=5).raise_for_status()
    coid = manual(system, "AAPL")
    wait_for(lambda: status_of(system, coid) == "rejected", 15, "the rejection", 0.3)
    grep = op.curl('grep "order.*failed\\|order.*rejected" logs/execution_engine.log')
    assert any(coid in line and "via=trade_updates" in line for line in grep.stdout.splitlines()), grep.stdout
    metrics = op.curl("curl -s http://localhost:<metrics>/metrics | grep execution_orders_rejected_total")
    assert 'execution_orders_rejected_total{reason="broker"} 1' in metrics.stdout, metrics.stdout
    kinds = op.curl('grep -o "Error: [^:]*" logs/*.log | sort | uniq -c | sort -rn')
    assert "logs/execution_engine.log:Error: BrokerRejection" in kinds.stdout, kinds.stdout

    # Update Trading Symbols: edit, restart market data, verify
    path = system.config_dir / "system.json"
    cfg = json.loads(path.read_text())
    cfg["market_data"]["symbols"] = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]
    path.write_text(json.dumps(cfg, indent=2))
    system.pyrt("restart", "market-data", "--reason", "new symbols", timeout=120)
    shown = wait_for(
        lambda: (
            'market_data_symbols_streaming{symbol="NVDA"} 1'
            in (out := op.curl("curl -s http://localhost:<metrics>/metrics | grep market_data_symbols").stdout)
            and out
        ),
        30,
        "the new symbols in the metrics",
        0.5,
    )
    assert "market_data_symbols 5" in shown and 'market_data_symbols_streaming{symbol="AMZN"} 1' in shown
    nvda = wait_for(lambda: (c := manual(system, "NVDA")) and status_of(system, c) == "filled" and c, 30, "NVDA", 1)
    assert nvda

    # a symbol the running venue does not list: the reload is refused, naming it (our config
    # check lets it through here only because the file claims the sim broker lists it)
    cfg["market_data"]["symbols"].append("ZZZQ")
    cfg["sim_broker"]["listed_symbols"] = [*SIM_LISTED_SYMBOLS, "ZZZQ"]
    path.write_text(json.dumps(cfg, indent=2))
    os.kill(int((system.root / "run" / "market_data.pid").read_text()), signal.SIGHUP)
    log = system.root / "logs" / "market_data.log"
    refused = "config reload refused: market_data.symbols ['ZZZQ'] not listed by the venue"
    wait_for(lambda: refused in log.read_text(), 30, "the refused reload", 0.3)
    metrics = op.curl("curl -s http://localhost:<metrics>/metrics | grep market_data_symbols").stdout
    assert "market_data_symbols 5" in metrics and "ZZZQ" not in metrics
