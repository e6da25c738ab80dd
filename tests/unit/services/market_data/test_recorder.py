"""The market-data recorder: batches by rows or time, one Parquet file per kind and New
York date, bar files the backtester loads, and the disk bound deleting the oldest files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pyrt.backtest.data import load_bars
from pyrt.bus.schema import BarMsg, QuoteMsg, TradeMsg
from pyrt.services.market_data.recorder import ROTATE_NS, Recorder, day_files, enforce_limit, ny_date

MIN = 60_000_000_000
T0 = 1_704_205_800_000_000_000  # 2024-01-02 09:30 New York
NY_MIDNIGHT = 1_704_258_000_000_000_000  # 2024-01-03 00:00 New York (05:00 UTC)


def quote(t: int, sym: str = "AAPL") -> QuoteMsg:
    return QuoteMsg(sym, 100.0, 5.0, 100.1, 7.0, t)


def bar(i: int, sym: str = "AAPL") -> BarMsg:
    return BarMsg(sym, 100 + i, 101 + i, 99 + i, 100.5 + i, 1000.0, T0 + i * MIN, 12, 100.2 + i)


def test_a_batch_is_due_after_its_rows_or_its_interval(tmp_path: Path) -> None:
    rec = Recorder(tmp_path, 10**9, flush_rows=3, flush_interval_s=5.0)
    assert not rec.due(100.0)  # nothing waits
    rec.add(quote(T0))
    assert rec.due(100.0)  # waited since the start (never taken)
    assert rec.take(100.0) == [quote(T0)] and rec.buffer == []
    rec.add(quote(T0 + 1))
    assert not rec.due(104.0) and rec.due(105.0)
    rec.add(quote(T0 + 2))
    rec.add(quote(T0 + 3))
    assert rec.due(101.0)  # three rows: at once
    with pytest.raises(ValueError, match="flush_rows"):
        Recorder(tmp_path, 10, 0, 1.0)


def test_rows_go_to_one_file_per_kind_and_new_york_date_and_bars_load_in_the_backtester(tmp_path: Path) -> None:
    rec = Recorder(tmp_path, 10**9, 1000, 5.0)
    rows = [quote(T0), TradeMsg("AAPL", 100.05, 10.0, T0 + 5, 77), *(bar(i) for i in range(3)), bar(0, "MSFT")]
    rows.append(quote(NY_MIDNIGHT + 1))  # the next New York day
    result = rec.write(rows, now_ns=123)
    assert result.rows == len(rows) and len(result.files) == 4 and len(rec.open_files()) == 4
    rec.write([bar(3), bar(4), quote(T0 + 9)], now_ns=456)  # a second batch: row groups of the open files
    day1, day2 = date(2024, 1, 2), date(2024, 1, 3)
    assert ny_date(NY_MIDNIGHT - 1) == day1 and ny_date(NY_MIDNIGHT) == day2
    rec.close()
    assert rec.open_files() == []
    assert [p.name for p in day_files(tmp_path, day1, "quotes")] == ["quotes-123-000002.parquet"]
    assert len(day_files(tmp_path, day2, "quotes")) == 1 and day_files(tmp_path, day2, "bars") == []
    trades = pq.read_table(day_files(tmp_path, day1, "trades")[0]).to_pylist()
    assert trades[0]["price"] == 100.05 and trades[0]["trade_id"] == 77 and trades[0]["symbol"] == "AAPL"
    quotes = pq.read_table(day_files(tmp_path, day1, "quotes")[0]).to_pylist()
    assert [(q["bid_price"], q["ask_size"]) for q in quotes] == [(100.0, 7.0)] * 2
    data = load_bars(day_files(tmp_path, day1, "bars"))
    assert data.timeframe == "1Min" and data.symbols == ("AAPL", "MSFT") and len(data) == 6
    assert int(data.open_ns.min()) == T0 and float(data.close.max()) == 104.5


def test_files_rotate_and_the_oldest_are_deleted_beyond_the_disk_bound(tmp_path: Path) -> None:
    probe = Recorder(tmp_path / "probe", 10**9, 10, 1.0)
    probe.write([quote(T0 + i) for i in range(50)], 1)
    probe.close()
    size = next((tmp_path / "probe").rglob("*.parquet")).stat().st_size
    rec = Recorder(tmp_path / "rec", 3 * size + size // 2, 10, 1.0)  # room for three files
    written = []
    for k in range(4):  # same day, one batch a (simulated) minute: each file is past max/8 and rotates
        result = rec.write([quote(T0 + k * MIN + i) for i in range(50)], now_ns=k * MIN)
        written += result.files
    assert len(set(written)) == 4
    later = T0 + 2 * 86_400_000_000_000  # two days on: yesterday's files close
    written += rec.write([quote(later + i) for i in range(50)], now_ns=ROTATE_NS * 2).files
    rec.write([quote(later + 1000 + i) for i in range(50)], now_ns=ROTATE_NS * 3)  # rotated by age
    rec.close()
    deleted, total = enforce_limit(tmp_path / "rec", rec.max_bytes)
    left = sorted((tmp_path / "rec").rglob("*.parquet"))
    assert total <= rec.max_bytes and len(left) == 3
    assert written[0] not in left and written[1] not in left  # the oldest went first
    assert written[-1] in left
    assert len(list((tmp_path / "rec").iterdir())) <= 2  # emptied day folders removed
    deleted, total = enforce_limit(tmp_path / "rec", 1, keep={left[-1]})
    assert len(deleted) == 2 and total == left[-1].stat().st_size
