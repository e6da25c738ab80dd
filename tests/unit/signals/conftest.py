"""Fixtures for the signal-bridge tests: bars from the shared CSVs and an instant-fill
stand-in for risk + execution."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pyrt.domain.clock import datetime_to_ns
from pyrt.domain.enums import OrderSide
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar
from pyrt.domain.orders import OrderState
from pyrt.services.signals.core import SignalCore

HISTORICAL = Path("/work/shared/data/historical")


def read_bars(path: Path) -> list[Bar]:
    with path.open() as f:
        return [
            Bar(
                symbol=row["symbol"],
                open=float(row["open"]),
                high=float(row["high"]),
                low=float(row["low"]),
                close=float(row["close"]),
                volume=float(row["volume"]),
                ts_ns=datetime_to_ns(datetime.fromisoformat(row["timestamp"])),
            )
            for row in csv.DictReader(f)
        ]


class InstantFills:
    """Approves every intent and fills it at once, reporting the new position."""

    def __init__(self, core: SignalCore) -> None:
        self.core = core
        self.positions: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.intents: list[OrderIntent] = []

    def process(self, outputs: Iterable[object]) -> None:
        for o in outputs:
            if isinstance(o, OrderIntent):
                self.intents.append(o)
                self.core.on_risk_decision(o.intent_id, True, "OK")
                key = (o.strategy, o.symbol)
                self.positions[key] += o.qty if o.side is OrderSide.BUY else -o.qty
                self.core.on_execution_report(o.strategy, o.symbol, OrderState.FILLED, self.positions[key], o.intent_id)


@pytest.fixture
def historical_bars() -> dict[str, list[Bar]]:
    files = sorted(HISTORICAL.glob("*.csv"))
    if not files:
        pytest.skip(f"no CSVs in {HISTORICAL}")
    return {p.stem: read_bars(p) for p in files}


@pytest.fixture
def instant_fills() -> type[InstantFills]:
    return InstantFills
