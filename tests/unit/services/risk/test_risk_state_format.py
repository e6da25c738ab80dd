"""The saved risk state keeps its on-disk format: `data/risk_state_v1.json` was written by
`RiskManager.save()` of the code before the risk limits, triggers and events were folded
into config and domain types (commit 9dcc750). A restart on today's code must read it and
write it back unchanged, and `pyrt verify` reads its positions through the risk package."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from pyrt.domain.enums import BreakerTrigger, TradingState
from pyrt.services.risk.core import Reason
from pyrt.services.risk.state import saved_positions

from .conftest import START_NS, Env

SAVED = Path(__file__).parent / "data" / "risk_state_v1.json"
D = Decimal


def test_a_state_saved_before_the_refactor_restores_and_saves_back_unchanged() -> None:
    saved = json.loads(SAVED.read_text())
    assert saved["saved_at_ns"] == START_NS
    env = Env(max_daily_loss=D(1000))
    env.core.restore(saved)
    assert env.core.trading_state is TradingState.REDUCING
    breaker = env.core.breaker
    assert (breaker.active, breaker.trigger, breaker.mode) == (True, BreakerTrigger.DAILY_LOSS, TradingState.REDUCING)
    assert env.core.book.positions["AAPL"].trade_pnl == D("4.00")
    assert json.loads(json.dumps(env.core.snapshot(), default=str)) == saved


def test_the_restored_state_still_decides(make_env: type[Env]) -> None:
    env = make_env(max_daily_loss=D(1000))
    env.core.restore(json.loads(SAVED.read_text()))
    env.quote("MSFT", bid=400.0, ask=400.2)
    assert env.check(symbol="MSFT", qty=1).reason_code == Reason.CIRCUIT_BREAKER_ACTIVE
    assert env.check(symbol="MSFT", side="sell", qty=1).approved  # reduces: 1 held + 2 still pending


def test_saved_positions_reads_the_quantities() -> None:
    assert saved_positions(json.loads(SAVED.read_text())) == {"AAPL": D(6), "MSFT": D(1)}
    assert saved_positions({"book": {"positions": {"X": {"qty": "0"}}}}) == {}
    assert saved_positions({}) == {}
