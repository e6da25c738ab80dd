"""The execution engine when orders outrun its request budget, and when it restarts with
unsent orders in its journal (order-safety review D1, D2, D4): nothing is parked for longer
than it may live, nothing is sent after a local rejection, and recovery resolves unsent
orders concurrently instead of retrying definitive 404s one order after another."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pyrt.domain.ids import client_order_id
from pyrt.persistence.journal import Journal
from pyrt.persistence.projections import replay
from pyrt.services.execution.records import intent_entries
from tests.support.deploy import REPO, make_deployment, wait_for

from .conftest import Sim, intent, running_engine, send

QUIET_WATCHDOG = {"watchdog_risk_silence_s": 3600, "watchdog_cancel_after_s": 7200}


def _projection(cfg):  # type: ignore[no-untyped-def]
    with Journal(cfg.system.execution.journal_path, read_only=True) as j:
        return replay(j.iter_records())


def test_a_burst_beyond_the_submit_budget_is_refused_at_admission_and_nothing_drifts(sim: Sim, tmp_path: Path):
    risk = (
        (REPO / "config" / "risk_limits.toml")
        .read_text()
        .replace("max_orders_per_minute = 60", "max_orders_per_minute = 10")
    )
    config_dir = make_deployment(
        tmp_path / "root",
        sim_url=sim.url,
        risk_toml=risk,
        system={
            "execution": {
                **QUIET_WATCHDOG,
                "request_budget_per_minute": 20,
                "cancel_reserve_per_minute": 4,
                "read_reserve_per_minute": 4,
            }
        },
    )
    with running_engine(config_dir) as (engine, client):
        cfg = engine.cfg
        acks = [send(client, intent(200 + n, symbol=("AAPL", "MSFT", "GOOGL")[n % 3])) for n in range(30)]
        accepted = {a.client_order_id for a in acks if a.accepted}
        refused = [a for a in acks if not a.accepted]
        assert accepted and refused, "a burst of 30 against a submit tier of 12 a minute"
        assert {a.reason_code for a in refused} == {"BUDGET_EXHAUSTED"}, refused[0]
        wait_for(lambda: all(o.state.value == "filled" for o in _projection(cfg).orders.values()), 20, "fills")
        proj = _projection(cfg)
        assert set(proj.orders) == accepted  # a refusal journals nothing
        at_broker = [o["client_order_id"] for o in sim.orders()]
        assert sorted(at_broker) == sorted(accepted)  # each accepted order sent once, nothing else
        assert sim.positions() == {s: p.qty for s, p in proj.positions.items() if p.qty}


def test_restart_with_unsent_orders_resends_them_all_promptly(sim: Sim, deployment: Path):
    """Six orders journalled as sent that never reached the broker (a crash between the
    commit and the POST). Retrying each definitive 404 five times, one order after another,
    aged the later ones past their resend limit (30 s): every one must be resent."""
    from pyrt.config import load_config

    cfg = load_config(deployment)
    intents = [intent(300 + n, symbol="MSFT") for n in range(6)]
    with Journal(cfg.system.execution.journal_path) as j:
        for i in intents:
            coid = client_order_id(i.strategy, i.intent_id)
            j.append_records(intent_entries(coid, i))
    with running_engine(deployment) as (engine, _client):
        wait_for(
            lambda: {o.state.value for o in _projection(engine.cfg).orders.values()} == {"filled"},
            20,
            "all six resent and filled",
        )
        assert sim.positions() == {"MSFT": Decimal(6)} and len(sim.orders()) == 6
