"""The replay diff on hand-made journals and backtest results: matched intents with their
fill price and time gaps, missed and extra intents, thresholds; the journal reading (the
day's strategy intents with their average fill); the gauges the control process serves."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pyrt.backtest.results import FillRow, OrderRow, RunResult
from pyrt.domain.events import JournalRecord
from pyrt.ops.gateway import render_families
from pyrt.ops.replay_metrics import replay_families, write_last_replay
from pyrt.research.replay import Intent, Thresholds, backtest_intents, diff, live_intents, quote_gaps

S = 1_000_000_000
BAR = 1_704_207_600 * S  # 2024-01-02 10:00 New York
DAY = date(2024, 1, 2)


def rec(seq: int, kind: str, coid: str, payload: dict[str, object], ts: int = BAR) -> JournalRecord:
    return JournalRecord(seq, ts, kind, coid, payload)


def intent(coid: str, side: str, qty: int, ts: int, strategy: str = "ema") -> JournalRecord:
    payload = {"intent_id": coid, "strategy": strategy, "symbol": "AAPL", "side": side, "qty": str(qty),
               "order_type": "market", "ts_ns": ts}  # fmt: skip
    return rec(0, "intent", coid, payload, ts)


def fill(coid: str, qty: int, price: str, ts: int) -> JournalRecord:
    return rec(0, "fill", coid, {"execution_id": f"x{ts}", "qty": str(qty), "price": price}, ts)


def row(intent_id: str, side: str, qty: int, ts: int, price: str | None, status: str = "filled") -> OrderRow:
    return OrderRow(intent_id, "ema", "AAPL", side, Decimal(qty), "market", "day", None, None, ts, "why", status,
                    filled_qty=Decimal(qty if price else 0), avg_price=Decimal(price) if price else None)  # fmt: skip


def run_of(rows: list[OrderRow]) -> RunResult:
    fills = [
        FillRow(o.decided_ns, o.symbol, o.side, o.qty, o.avg_price, Decimal(0), Decimal(0), Decimal(0), o.strategy,
                o.intent_id, "c", "", Decimal(0))
        for o in rows if o.avg_price is not None
    ]  # fmt: skip
    return RunResult("v", {}, [], Decimal(1), Decimal(1), Decimal(1), 0, 1, "1Min", fills=fills, orders=rows)


def test_the_journal_gives_the_days_strategy_intents_with_their_average_fill() -> None:
    records = [
        intent("a", "buy", 10, BAR + 2 * S),
        fill("a", 4, "100.00", BAR + 3 * S),
        fill("a", 6, "100.10", BAR + 4 * S),
        intent("b", "sell", 10, BAR + 86_400 * S),  # the next day
        intent("m", "buy", 1, BAR, strategy="manual"),  # an operator's order
    ]
    (a,) = live_intents(records, DAY)
    assert (a.ref, a.side, a.qty, a.fill_ns) == ("a", "buy", Decimal(10), BAR + 3 * S)
    assert a.fill_price == Decimal("100.06")


def test_matched_missed_and_extra_intents_with_price_and_time_gaps() -> None:
    live = live_intents(
        [
            intent("a", "buy", 10, BAR + 2 * S), fill("a", 10, "100.05", BAR + 3 * S),  # 5 bps worse, 3 s later
            intent("b", "sell", 10, BAR + 600 * S), fill("b", 10, "99.00", BAR + 601 * S),
            intent("c", "buy", 5, BAR + 1200 * S),  # the backtest never decided this: extra
        ],
        DAY,
    )  # fmt: skip
    bt = backtest_intents(run_of([
        row("1", "buy", 10, BAR, "100.00"),
        row("2", "sell", 10, BAR + 600 * S, "99.00"),
        row("3", "buy", 10, BAR + 900 * S, "98.00"),  # live never made it: missed
        row("4", "buy", 99, BAR + 950 * S, None, status="denied"),  # the journal has approved intents only
        row("end-1", "sell", 10, BAR + 999 * S, "97.00"),  # the engine's own closing order
    ]))  # fmt: skip
    assert [b.ref for b in bt] == ["1", "2", "3"]
    result = diff(DAY, live, bt, Thresholds(max_price_gap_bps=2.0))
    assert [(p.live.ref, p.backtest.ref) for p in result.matched] == [("a", "1"), ("b", "2")]
    assert result.matched[0].price_gap_bps == pytest.approx(5.0) and result.matched[0].time_gap_s == 3.0
    assert result.matched[1].price_gap_bps == 0.0  # a sell at the same price
    assert [i.ref for i in result.missed] == ["3"] and [i.ref for i in result.extra] == ["c"]
    assert result.mismatches() == {"missed": 1, "extra": 1, "price_gap": 1, "time_gap": 0}
    assert not result.passed and result.to_dict()["total_mismatches"] == 3
    assert diff(DAY, live, bt, Thresholds(max_price_gap_bps=6.0, max_mismatches=2)).passed


def test_an_intent_outside_the_window_or_of_another_size_does_not_match() -> None:
    bt = [Intent("ema", "AAPL", "buy", Decimal(10), "market", None, None, BAR, "1")]
    late = [Intent("ema", "AAPL", "buy", Decimal(10), "market", None, None, BAR + 121 * S, "a")]
    other = [Intent("ema", "AAPL", "buy", Decimal(11), "market", None, None, BAR + S, "a")]
    assert diff(DAY, late, bt, Thresholds(match_window_s=120)).mismatches()["missed"] == 1
    assert diff(DAY, late, bt, Thresholds(match_window_s=180)).matched
    assert diff(DAY, other, bt, Thresholds()).mismatches() == {"missed": 1, "extra": 1, "price_gap": 0, "time_gap": 0}
    sell = [Intent("ema", "AAPL", "sell", Decimal(10), "market", None, None, BAR, "1", Decimal(100), BAR)]
    worse = [Intent("ema", "AAPL", "sell", Decimal(10), "market", None, None, BAR, "a", Decimal("99.95"), BAR)]
    assert diff(DAY, worse, sell, Thresholds()).matched[0].price_gap_bps == pytest.approx(5.0)  # adverse: positive
    with pytest.raises(ValueError, match="max_price_gap_bps"):
        Thresholds(max_price_gap_bps=-1)


def test_the_last_replay_becomes_gauges_of_the_control_process(tmp_path: Path) -> None:
    cfg = SimpleNamespace(system=SimpleNamespace(paths=SimpleNamespace(run_dir=tmp_path / "run")))
    assert replay_families(cfg) == []  # no replay yet
    write_last_replay(cfg, "2024-01-02", {"missed": 1, "extra": 0, "price_gap": 2, "time_gap": 0}, passed=False)
    text = render_families(replay_families(cfg))
    assert 'backtest_replay_mismatches{kind="missed"} 1' in text
    assert 'backtest_replay_mismatches{kind="price_gap"} 2' in text
    assert "backtest_replay_passed 0" in text and "# TYPE backtest_replay_mismatches gauge" in text
    (tmp_path / "run" / "last_replay.json").write_text("{ not json")
    assert replay_families(cfg) == []  # a broken file: no gauges, the scrape goes on


def test_live_fills_against_the_recorded_quote_they_crossed() -> None:
    buy = Intent("ema", "AAPL", "buy", Decimal(1), "market", None, None, BAR, "a", Decimal("100.05"), BAR + 10 * S)
    sell = Intent("ema", "AAPL", "sell", Decimal(1), "market", None, None, BAR, "b", Decimal("99.90"), BAR + 20 * S)
    bt = [Intent("ema", "AAPL", s, Decimal(1), "market", None, None, BAR, r) for s, r in (("buy", "1"), ("sell", "2"))]
    result = diff(DAY, [buy, sell], bt, Thresholds())
    ts = np.array([BAR, BAR + 9 * S, BAR + 15 * S, BAR + 30 * S])
    quotes = {"AAPL": (ts, np.array([99.0, 99.99, 99.95, 1.0]), np.array([99.1, 100.0, 99.97, 2.0]))}
    quote_gaps(result, quotes)
    gaps = [p.quote_gap_bps for p in result.matched]
    assert gaps == [pytest.approx(5.0), pytest.approx(5.003, abs=1e-3)]  # buy above the ask, sell below the bid
    assert result.to_dict()["fill_vs_quote_bps"] == {"median": pytest.approx(5.0015, abs=1e-3), "fills": 2}
