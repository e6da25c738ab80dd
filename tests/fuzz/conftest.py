"""The fuzz summary: one row per decoder (inputs, accepted, rejected-and-counted, crashes,
seconds), printed at the end of the session; `make test-fuzz` reports it."""

from __future__ import annotations

import logging

import pytest

from tests.fuzz.harness import BUDGET_ENV, TALLIES, Tally, budget


def summary_lines(tallies: list[Tally]) -> list[str]:
    head = f"{'decoder':<34} {'inputs':>9} {'accepted':>9} {'rejected':>9} {'crashes':>7} {'seconds':>8}"
    lines = [head, "-" * len(head)]
    for t in tallies:
        lines.append(f"{t.decoder:<34} {t.inputs:>9} {t.accepted:>9} {t.rejected:>9} {t.crashes:>7} {t.seconds:>8.1f}")
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLIES:
        terminalreporter.section(f"fuzz: {budget()} inputs per decoder (${BUDGET_ENV})")
        for line in summary_lines(TALLIES):
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _quiet_logs():
    """Decoders log each drop (some throttled, some not); a million drops would fill the
    captured log, so logging is off while a fuzz test runs."""
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)
