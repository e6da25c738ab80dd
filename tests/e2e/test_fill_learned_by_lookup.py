"""The stuck-intent defect, through the real processes: while the trade stream loses every
event, orders fill at the broker and the execution engine learns each fill by a REST lookup.
The strategy must see that order finished and trade the same symbol again (before the fix,
a fill learned by lookup was reported as event "filled", which the signal bridge did not
take as final, so the strategy's intent stayed pending for ever)."""

from __future__ import annotations

from types import SimpleNamespace

from pyrt.config import load_config
from pyrt.persistence.journal import Journal, RecordKind
from tests.support.deploy import make_deployment, wait_for
from tests.support.sim import SimAdmin

from .conftest import System

ONE_STRATEGY = [
    {
        "name": "ema_fast",
        "kind": "ema_crossover",
        "symbols": ["AAPL"],
        "params": {"fast": 2, "slow": 5, "source": "quote", "sample_interval_s": 1},
    }
]


def _orders(cfg) -> tuple[list[str], set[str]]:  # type: ignore[no-untyped-def]
    """(the strategy's orders in journal order, those whose fill came from a lookup)."""
    try:
        with Journal(cfg.system.execution.journal_path, read_only=True) as j:
            records = list(j.iter_records())
    except Exception:  # noqa: BLE001 - not created yet
        return [], set()
    orders = [r.client_order_id for r in records if r.kind == RecordKind.INTENT]
    by_lookup = {
        r.client_order_id for r in records if r.kind == RecordKind.STATUS and r.payload.get("status") == "filled"
    }
    return orders, by_lookup


def test_a_strategy_trades_again_after_a_fill_learned_by_lookup(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "root"
    config_dir = make_deployment(
        root, system={"signals": {"strategies": ONE_STRATEGY}, "sim_broker": {"quotes_per_second": 10, "seed": 11}}
    )
    system = System(root, config_dir)
    cfg = load_config(config_dir)
    try:
        system.pyrt("up", "--detach", timeout=120)
        sim = SimAdmin(SimpleNamespace(url=f"http://127.0.0.1:{cfg.system.sim_broker.port}"))
        sim.admin("POST", "/admin/faults", {"trade_stream": {"drop": 1.0}})  # the stream tells nothing
        first = wait_for(
            lambda: (lambda o, f: o[0] if o and o[0] in f else None)(*_orders(cfg)),
            90,
            "a first order filled and learned by lookup",
            interval=0.5,
        )
        wait_for(lambda: len(_orders(cfg)[0]) >= 2, 90, "the same strategy to trade AAPL again", interval=0.5)
        assert _orders(cfg)[0][0] == first
    finally:
        system.pyrt("down", "--grace", "5", check=False, timeout=90)
