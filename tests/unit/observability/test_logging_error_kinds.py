"""Errors carry an `Error: <Kind>` token, so the guide's
`grep -o "Error: [^:]*" logs/*.log | sort | uniq -c | sort -rn` counts them by type."""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from pyrt.observability.logging import reset_logging, setup_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    reset_logging()
    structlog.reset_defaults()
    logging.getLogger().setLevel(level)


def test_errors_are_counted_by_kind_with_the_guides_grep(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    setup_logging("execution_engine", logs)
    log = logging.getLogger("pyrt.execution.core")
    log.error("journal write failed: disk full", extra={"error_kind": "JournalWriteFailed"})
    log.error("journal write failed: disk full", extra={"error_kind": "JournalWriteFailed"})
    log.warning("order rejected by the broker coid=c1", extra={"error_kind": "BrokerRejection"})
    try:
        raise TimeoutError("no answer")
    except TimeoutError:
        log.exception("order fate unresolved")
    logging.getLogger("pyrt.market_data").error("feed gone")
    log.info("order filled coid=c2")  # a success: no token
    log.warning("slow broker")  # a warning without a kind: no token
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = (logs / "execution_engine.log").read_text()
    assert "Error: BrokerRejection: order rejected by the broker coid=c1" in text
    assert not re.search(r"Error: .*(order filled|slow broker)", text)
    counted = subprocess.run(
        'grep -o "Error: [^:]*" logs/*.log | sort | uniq -c | sort -rn',
        shell=True, cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    counts = {what.split("Error: ", 1)[1]: int(n) for n, what in (line.split(None, 1) for line in counted.splitlines())}
    assert counts == {"JournalWriteFailed": 2, "TimeoutError": 1, "MarketDataError": 1, "BrokerRejection": 1}
