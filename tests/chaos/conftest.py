"""The fault matrix's outcomes, collected per test and printed as one table at the end of
the session (scenario, seeds, orders, lost, duplicated, drift): `make test-chaos` reads it."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.support.chaos import Outcome

OUTCOMES: list[Outcome] = []


@pytest.fixture
def chaos_outcomes() -> list[Outcome]:
    return OUTCOMES


def summary_lines(outcomes: list[Outcome]) -> list[str]:
    rows: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        rows[o.scenario].append(o)
    head = f"{'scenario':<40} {'seeds':>5} {'orders':>6} {'lost':>4} {'dup':>4} {'orphan':>6} {'ghost':>5} {'drift':>5}  result"
    lines = [head, "-" * len(head)]
    for name, outs in rows.items():
        r = [o.report for o in outs]
        bad = [str(o.seed) for o in outs if not o.report.ok]
        lines.append(
            f"{name:<40} {len(outs):>5} {sum(o.orders for o in outs):>6} {sum(len(x.lost) for x in r):>4} "
            f"{sum(len(x.duplicated) for x in r):>4} {sum(len(x.orphans) for x in r):>6} "
            f"{sum(len(x.sent_after_reject) for x in r):>5} {sum(len(x.drift) for x in r):>5}  "
            + ("ok" if not bad else f"VIOLATED (seeds {','.join(bad)})")
        )
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if OUTCOMES:
        terminalreporter.section("fault matrix: invariants against the broker")
        for line in summary_lines(OUTCOMES):
            terminalreporter.write_line(line)
