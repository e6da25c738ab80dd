"""The fault matrix: each failpoint of the execution engine (killed there, restarted) and each
fault of the sim broker, each with seeded mixes of market and limit orders sent on the
engine's real order endpoint, each ending with the same invariants checked against the broker
(pyrt.ops.invariants): nothing lost, nothing duplicated, nothing at the broker that the
journal does not know or decided never to send, positions equal, and a halt whenever not.

`make test` runs a quick subset (one seed of three scenarios); `make test-chaos`
(PYRT_CHAOS=full) runs every scenario with three seeds and prints the summary table."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.chaos import Outcome, Scenario, run_scenario
from tests.support.deploy import REPO

FULL = os.environ.get("PYRT_CHAOS", "") == "full"
SEEDS = (1, 2, 3) if FULL else (1,)

SCENARIOS = [
    Scenario("kill after_journal_before_send", failpoint="after_journal_before_send"),
    Scenario("kill after_send_before_ack_write", failpoint="after_send_before_ack_write"),
    Scenario("kill after_fill_before_position_update", failpoint="after_fill_before_position_update"),
    Scenario("kill mid_reconcile", failpoint="mid_reconcile", operator="reconcile"),
    Scenario("kill during_liquidation", failpoint="during_liquidation", operator="liquidate"),
    Scenario("broker http 500", faults={"http_error": {"status": 500, "probability": 0.5, "count": 4}}),
    Scenario("broker http 429", faults={"http_error": {"status": 429, "probability": 0.5, "count": 4}}),
    Scenario("broker hangs (timeouts)", faults={"hang": {"seconds": 3.0, "probability": 0.5, "count": 3}}),
    Scenario("lost replies", faults={"drop_reply": {"probability": 0.5, "count": 3}}),
    Scenario("trade updates dropped", faults={"trade_stream": {"drop": 0.3}}),
    Scenario("trade updates duplicated", faults={"trade_stream": {"duplicate": 0.5}}),
    Scenario("trade updates reordered", faults={"trade_stream": {"reorder": 0.5}}),
    Scenario("trade stream stalled", faults={"trade_stream": {"stall_seconds": 4.0}}),
    Scenario("broker restart", broker_restart=True),
]
QUICK = {"kill after_send_before_ack_write", "lost replies"}  # the rest: make test-chaos


def _engine_has(failpoint: str) -> bool:
    source = (REPO / "src" / "pyrt" / "services" / "execution" / "service.py").read_text()
    return f'failpoint("{failpoint}")' in source


def _params() -> list[object]:
    out = []
    for sc in SCENARIOS:
        if not FULL and sc.name not in QUICK:
            continue
        marks = []
        if sc.failpoint and not _engine_has(sc.failpoint):
            marks.append(
                pytest.mark.xfail(
                    reason=f"failpoint {sc.failpoint} is not in the execution engine yet (being added by the lead)",
                    run=False,
                    strict=False,
                )
            )
        for seed in SEEDS:
            out.append(pytest.param(sc, seed, marks=marks, id=f"{sc.name.replace(' ', '-')}-seed{seed}"))
    return out


@pytest.mark.parametrize(("scenario", "seed"), _params())
def test_invariants_hold_under_fault(tmp_path: Path, scenario: Scenario, seed: int, chaos_outcomes: list[Outcome]):
    outcome = run_scenario(tmp_path, scenario, seed)
    chaos_outcomes.append(outcome)
    report = outcome.report
    detail = f"{report.line()}\nnotes: {outcome.notes}"
    assert not report.unresolved, detail
    assert report.ok, detail
    assert report.orders >= outcome.orders - 1  # the orders really went through the engine
