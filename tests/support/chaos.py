"""The fault matrix's moving parts: a sim broker in its own process (so it can be stopped and
restarted on the same port and state file), the execution engine in its own process (so a
failpoint can kill it), a seeded mix of orders sent on the engine's real order endpoint, and
one scenario runner that ends every scenario with the same invariant check
(`pyrt.ops.invariants`) against the broker through alpaca-py.

Why processes and not threads: failpoints are read from the environment at import and end
the process with os._exit(137); a broker restart has to drop every connection for real."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pyrt.bus import schema as wire
from pyrt.bus.schema import RequestTimeout
from pyrt.bus.zmq import RequestClient
from pyrt.config import load_config
from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent
from pyrt.ops.invariants import InvariantReport, check, read_snapshot, venue_for
from pyrt.simbroker.harness import SimBrokerProcess
from tests.support.bus import bus_key
from tests.support.deploy import make_deployment, wait_for
from tests.support.engine import EngineProcess
from tests.support.sim import SimAdmin

PRICES = {"AAPL": 100.0, "MSFT": 50.0, "GOOGL": 150.0}


class ChaosBroker(SimAdmin):
    """`pyrt sim-broker` as a child process, paused market with fixed quotes."""

    quote_size = 1000

    def __init__(self, data_dir: Path, seed: int) -> None:
        self.proc = SimBrokerProcess(data_dir, "--rate-limit", "0", "--seed", str(seed)).start()
        super().__init__(self.proc)
        self._quote_all()

    def _quote_all(self) -> None:
        self.admin("POST", "/admin/market", {"paused": True})
        for sym, px in PRICES.items():
            self.quote(sym, px - 0.01, px + 0.01)

    def faults(self, spec: dict[str, Any]) -> None:
        self.admin("POST", "/admin/faults", spec)

    def clear_faults(self) -> None:
        self.admin("DELETE", "/admin/faults")

    def restart(self) -> None:
        """Stop the process (SIGTERM) and start it again on the same port and state."""
        self.proc.stop()
        self.proc.start()
        self._quote_all()

    def stop(self) -> None:
        self.proc.stop()


def order_mix(seed: int, n: int) -> list[OrderIntent]:
    """n small orders: buy/sell, market/limit (limits either marketable or resting), seeded.
    Sells may exceed the position: the broker refuses them (no shorting), a refusal path."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        sym = rng.choice(sorted(PRICES))
        side = "buy" if rng.random() < 0.65 else "sell"
        qty = Decimal(rng.randint(1, 3))
        kw: dict[str, Any] = {}
        if rng.random() < 0.35:
            px = PRICES[sym] * (1 + rng.choice((-0.02, 0.02)))  # marketable or resting, each half the time
            kw = {"order_type": OrderType.LIMIT, "limit_price": Decimal(f"{px:.2f}")}
        out.append(
            OrderIntent(
                intent_id=f"s{seed}n{k}",
                strategy="chaos",
                symbol=sym,
                side=OrderSide(side),
                qty=qty,
                time_in_force=TimeInForce.DAY,
                **{"order_type": OrderType.MARKET, **kw},
            )
        )
    return out


def control(cfg: Any, action: str, timeout_ms: int = 15000, **args: str) -> wire.ControlResult | None:
    """One operator command to the engine; None when it did not answer (e.g. killed)."""
    with RequestClient(
        cfg.system.execution.order_endpoint, timeout_ms=timeout_ms, client_id="chaos-op", security=bus_key(cfg)
    ) as c:
        try:
            res = c.request(wire.ControlCommand(action, args, "chaos test", "chaos")).payload
        except RequestTimeout:
            return None
    assert isinstance(res, wire.ControlResult)
    return res


@dataclass
class Scenario:
    """One row of the matrix. `faults`: the sim broker fault spec applied before the orders;
    `failpoint`: armed in the first engine; `broker_restart`: the sim broker is restarted
    half-way; `operator`: 'reconcile' or 'liquidate' is run (with the failpoint armed)."""

    name: str
    faults: dict[str, Any] | None = None
    failpoint: str = ""
    broker_restart: bool = False
    operator: str = ""
    orders: int = 8


@dataclass
class Outcome:
    scenario: str
    seed: int
    orders: int
    report: InvariantReport
    notes: list[str] = field(default_factory=list)


class ScenarioRun:
    """Everything one scenario needs, cleaned up by close()."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.seed = seed
        self.sim = ChaosBroker(root / "sim", seed)
        # short submit timeout so a hang turns into an unknown outcome; the engine runs
        # alone (no risk manager heartbeats): park its watchdog
        self.config_dir = make_deployment(
            root / "deploy",
            sim_url=self.sim.url,
            system={
                "execution": {"submit_timeout_s": 2.0, "watchdog_risk_silence_s": 3600, "watchdog_cancel_after_s": 7200}
            },
        )
        self.cfg = load_config(self.config_dir)
        self.engine: EngineProcess | None = None
        self.out_of_band: list[str] = []
        self.notes: list[str] = []

    def start_engine(self, failpoints: str = "") -> EngineProcess:
        self.engine = EngineProcess(self.config_dir, failpoints)
        return self.engine

    def send(self, intents: list[OrderIntent], stop_when: Callable[[], bool] = lambda: False) -> int:
        """Send intents one by one on the order endpoint; returns how many were handed over
        (a timeout counts: the engine may have journalled it before dying)."""
        sent = 0
        with RequestClient(
            self.cfg.system.execution.order_endpoint, timeout_ms=4000, client_id="chaos", security=bus_key(self.cfg)
        ) as client:
            for i in intents:
                if stop_when():
                    break
                try:
                    client.request(wire.OrderIntentMsg(i), correlation_id=i.intent_id)
                except RequestTimeout:
                    self.notes.append(f"{i.intent_id}: no reply")
                sent += 1
        return sent

    def place_out_of_band(self, symbol: str, qty: int) -> None:
        """A market buy straight at the broker (not through the engine): a position mismatch."""
        coid = f"oob-{symbol}-{len(self.out_of_band)}"
        self.sim.admin(
            "POST",
            "/v2/orders",
            {
                "symbol": symbol,
                "qty": str(qty),
                "side": "buy",
                "type": "market",
                "time_in_force": "day",
                "client_order_id": coid,
            },
        )
        self.out_of_band.append(coid)

    def report(self) -> InvariantReport:
        from pyrt.ops.invariants import engine_halt_reason

        before, broker, after = read_snapshot(self.cfg.system.execution.journal_path, venue_for(self.cfg))
        halted = engine_halt_reason(self.cfg) if self.engine and self.engine.alive else "(engine not running)"
        return check(before, broker, after, halted=halted or "", ignore=self.out_of_band)

    def settle(self, timeout_s: float = 60) -> InvariantReport:
        """Faults off; wait until nothing is in flight, cancel what rests, wait until the
        journal and the broker agree (or the deadline), and return the final report."""
        self.sim.clear_faults()
        try:
            wait_for(lambda: not self.report().unresolved, timeout_s, "no order in flight", interval=0.5)
        except AssertionError as exc:
            self.notes.append(str(exc))
        control(self.cfg, "cancel_all", timeout_s="5")
        try:
            wait_for(
                lambda: (r := self.report()).ok and not r.busy_symbols,
                timeout_s,
                "journal and broker agree",
                interval=0.5,
            )
        except AssertionError as exc:
            self.notes.append(str(exc))
        return self.report()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()
        self.sim.stop()


def run_scenario(root: Path, sc: Scenario, seed: int) -> Outcome:
    """Run one scenario with one seed and return its invariant report."""
    run = ScenarioRun(root, seed)
    try:
        intents = order_mix(seed, sc.orders)
        half = len(intents) // 2
        if sc.operator:
            _operator_scenario(run, sc, intents)
        elif sc.failpoint:
            engine = run.start_engine(sc.failpoint)
            n = run.send(intents, stop_when=lambda: not engine.alive)
            wait_for(lambda: not engine.alive, 20, f"engine killed at {sc.failpoint}")
            assert engine.proc.returncode == 137, f"engine exited {engine.proc.returncode}, not at the failpoint"
            run.start_engine()
            run.send(intents[n:])
        else:
            run.start_engine()
            if sc.faults:
                run.sim.faults({"seed": seed, **sc.faults})
            run.send(intents[:half])
            if sc.broker_restart:
                run.sim.restart()
            run.send(intents[half:])
        report = run.settle()
        return Outcome(sc.name, seed, len(intents), report, run.notes)
    finally:
        run.close()


def _operator_scenario(run: ScenarioRun, sc: Scenario, intents: list[OrderIntent]) -> None:
    run.start_engine()
    run.send(intents)
    wait_for(lambda: not run.report().unresolved, 30, "orders resolved", interval=0.5)
    run.engine.stop()  # type: ignore[union-attr]
    if sc.operator == "reconcile":
        # two symbols out of line at the broker, so a kill after the first adoption leaves one
        run.place_out_of_band("AAPL", 2)
        run.place_out_of_band("MSFT", 3)
        engine = run.start_engine(sc.failpoint)  # halts at start-up: position mismatch
        res = control(run.cfg, "reconcile", apply="true")
        wait_for(lambda: not engine.alive, 20, f"engine killed at {sc.failpoint}")
        assert engine.proc.returncode == 137, f"reconcile answered {res} and the engine did not die"
        run.start_engine()
        res = control(run.cfg, "reconcile", apply="true")
        assert res is not None and res.ok, res
    else:  # liquidate
        run.send(
            [
                OrderIntent(
                    intent_id=f"s{run.seed}fill{s}", strategy="chaos", symbol=s, side=OrderSide.BUY, qty=Decimal(2)
                )
                for s in ("AAPL", "MSFT")
            ]
        )
        wait_for(lambda: not run.report().unresolved, 30, "orders resolved", interval=0.5)
        run.engine.stop()  # type: ignore[union-attr]
        engine = run.start_engine(sc.failpoint)
        control(run.cfg, "liquidate", timeout_s="5")
        wait_for(lambda: not engine.alive, 20, f"engine killed at {sc.failpoint}")
        assert engine.proc.returncode == 137
        run.start_engine()
        wait_for(lambda: not run.report().unresolved, 30, "closing orders resolved", interval=0.5)
        res = control(run.cfg, "liquidate", timeout_s="5")
        assert res is not None, "liquidation re-run got no answer"
        wait_for(lambda: not any(p.qty for p in venue_for(run.cfg).positions()), 30, "flat at the broker", interval=0.5)
