"""Replay of historical bars: ordering, quote paths, pacing, Parquet and error reports."""

from itertools import islice, pairwise
from pathlib import Path

import pytest

from pyrt.domain.market import Bar, Quote
from pyrt.simbroker.replay import ReplayDataError, ReplayMarket, parse_timestamp_ns

HISTORICAL = Path("/work/shared/data/historical")
BENCH = Path("/work/shared/data/bench/aapl_1m_100k.csv")
SEC = 1_000_000_000


def bench_head(tmp_path: Path, rows: int = 300) -> Path:
    """The first rows of the shared 1-minute benchmark file, in a temporary file."""
    with BENCH.open() as f:
        lines = list(islice(f, rows + 1))
    path = tmp_path / "aapl_head.csv"
    path.write_text("".join(lines))
    return path


def test_replay_of_daily_aapl_yields_249_bars_in_order_with_quotes_inside_them() -> None:
    market = ReplayMarket(HISTORICAL / "AAPL.csv", speed=None)
    events = [e for _, e in market.events()]
    bars = [e for e in events if isinstance(e, Bar)]
    assert len(bars) == 249 and len(events) == 249 * 5
    assert [b.ts_ns for b in bars] == sorted(b.ts_ns for b in bars)
    assert bars[0] == Bar(
        "AAPL",
        220.965,
        225.35,
        220.27,
        222.91,
        65276741.0,
        parse_timestamp_ns("2024-11-01 04:00:00+00:00"),
        859117,
        222.804987,
    )
    pending: list[Quote] = []
    for e in events:
        if isinstance(e, Quote):
            pending.append(e)
            continue
        assert len(pending) == 4
        assert (pending[0].mid, pending[-1].mid) == pytest.approx((e.open, e.close), abs=0.006)
        for q in pending:
            assert 0 < q.bid_price < q.ask_price and q.bid_size > 0 and q.ask_size > 0
            assert e.low - 0.006 <= q.mid <= e.high + 0.006  # mid of a cent-rounded quote
            assert q.bid_price <= e.high and q.ask_price >= e.low
            assert e.ts_ns <= q.ts_ns < e.ts_ns + 86_400 * SEC
        pending = []


def test_two_symbols_merge_in_time_order_and_serve_the_bars_endpoint() -> None:
    market = ReplayMarket([HISTORICAL / "AAPL.csv", str(HISTORICAL / "MSFT.csv")], speed=60)
    assert market.symbols == ("AAPL", "MSFT")
    offsets = [due for due, _ in market.events()]
    assert offsets == sorted(offsets) and offsets[0] == 0
    start = parse_timestamp_ns("2025-01-01T00:00:00Z")
    end = parse_timestamp_ns("2025-01-31T23:59:59Z")
    january = market.bars("MSFT", start, end)
    assert len(january) == 20
    assert all(start <= b.ts_ns <= end and b.symbol == "MSFT" for b in january)
    assert market.bars("MSFT", start, end, limit=3) == january[:3]
    assert market.bars("NOPE", start, end) == []


def test_speed_60_turns_a_one_minute_bar_gap_into_one_second(tmp_path: Path) -> None:
    market = ReplayMarket(bench_head(tmp_path), speed=60)
    due_bars = [(due, e) for due, e in market.events() if isinstance(e, Bar)]
    assert len(due_bars) == 300
    assert due_bars[0][0] == 1 * SEC  # the first bar closes one data minute after the start
    assert all(b[0] - a[0] == SEC for a, b in pairwise(due_bars))
    first_quotes = [due for due, e in islice(market.events(), 4)]
    assert first_quotes == [0, SEC // 4, SEC // 2, 3 * SEC // 4]  # 15 s of data apart
    assert market.replay_time_ns(2 * SEC) == market.start_ns + 120 * SEC


def test_events_until_paces_by_elapsed_wall_time(tmp_path: Path) -> None:
    market = ReplayMarket(bench_head(tmp_path, 10), speed=60)
    assert [type(e) for e in market.events_until(0)] == [Quote]
    assert market.next_due_ns() == SEC // 4
    batch = market.events_until(SEC)
    assert [type(e) for e in batch] == [Quote, Quote, Quote, Bar, Quote]
    assert len(market.events_until(10 * SEC, max_events=7)) == 7
    rest = market.events_until(100 * SEC)
    assert len(rest) == 10 * 5 - 1 - 5 - 7 and market.next_due_ns() is None
    market.rewind()
    assert len(market.events_until(0)) == 1


def test_unpaced_replay_makes_everything_due_at_once(tmp_path: Path) -> None:
    market = ReplayMarket(bench_head(tmp_path, 50), speed=0)
    assert {due for due, _ in market.events()} == {0}
    assert len(market.events_until(0, max_events=100)) == 100
    assert len(market.events_until(0)) == 150


def test_parquet_round_trip_matches_csv(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    csv_bars = ReplayMarket(HISTORICAL / "AAPL.csv").bars("AAPL", 0, 2**62)[:30]
    columns = {
        "timestamp": pa.array([b.ts_ns for b in csv_bars], pa.timestamp("ns", tz="UTC")),
        "symbol": [b.symbol for b in csv_bars],
        **{k: [getattr(b, k) for b in csv_bars] for k in ("open", "high", "low", "close")},
        "volume": [b.volume for b in csv_bars],
        "vwap": [b.vwap for b in csv_bars],
        "trade_count": [float(b.trade_count) for b in csv_bars],
    }
    pq.write_table(pa.table(columns), tmp_path / "aapl.parquet")
    text_ts = ["2024-11-01 04:00:00+00:00"] + [f"2030-01-{d:02d}T00:00:00Z" for d in range(1, 30)]
    as_text = dict(columns, timestamp=text_ts)
    pq.write_table(pa.table(as_text), tmp_path / "text_ts.parquet")

    replayed = ReplayMarket(tmp_path / "aapl.parquet", speed=None)
    assert replayed.bars("AAPL", 0, 2**62) == csv_bars
    from_csv = ReplayMarket(HISTORICAL / "AAPL.csv", speed=None).events()
    assert list(replayed.events()) == list(islice(from_csv, 30 * 5))
    assert ReplayMarket(tmp_path / "text_ts.parquet").bars("AAPL", 0, 2**62)[0] == csv_bars[0]


HEADER = "timestamp,symbol,open,high,low,close,volume\n"
GOOD = "2024-01-02T14:30:00Z,AAPL,150.00,150.02,149.98,150.00,25641\n"


@pytest.mark.parametrize(
    ("body", "where", "column"),
    [
        (GOOD + "2024-01-02T14:31:00Z,AAPL,150.00,150.07,149.95,abc,95951\n", "line 3", "close"),
        (GOOD + GOOD.replace("14:30", "14:31").replace("150.02", "149.99"), "line 3", "high"),
        (GOOD + "2024-01-02T14:31:00Z,AAPL,150.00,150.07\n", "line 3", None),
        (GOOD + "\n" + "yesterday,AAPL,150.00,150.07,149.95,150.0,95951\n", "line 4", "timestamp"),
        (GOOD + "2024-01-02 14:31:00,AAPL,150,150.07,149.95,150,95951\n", "line 3", "timestamp"),
        (GOOD + GOOD, "line 3", "timestamp"),
        (GOOD.replace("25641", "-5"), "line 2", "volume"),
    ],
)
def test_malformed_csv_names_file_line_and_column(tmp_path: Path, body: str, where: str, column: str | None) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + body)
    with pytest.raises(ReplayDataError) as info:
        ReplayMarket(path)
    assert str(path) in str(info.value) and where in str(info.value)
    assert info.value.column == column
    if column:
        assert f"column {column!r}" in str(info.value)


def test_missing_column_and_unknown_file_type(tmp_path: Path) -> None:
    path = tmp_path / "nocol.csv"
    path.write_text("timestamp,open,high,low,close,volume\n2024-01-02T14:30:00Z,1,1,1,1,1\n")
    with pytest.raises(ReplayDataError, match=r"line 1, column 'symbol': missing column"):
        ReplayMarket(path)
    with pytest.raises(ReplayDataError, match="unsupported file type"):
        ReplayMarket(tmp_path / "bars.json")


def test_malformed_parquet_names_the_row(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "timestamp": ["2024-01-02T14:30:00Z", "2024-01-02T14:31:00Z"],
            "symbol": ["AAPL", "AAPL"],
            "open": [1.0, 1.0],
            "high": [1.0, 1.0],
            "low": [1.0, 2.0],
            "close": [1.0, 1.0],
            "volume": [1, 1],
        }
    )
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(ReplayDataError, match=r"bad.parquet: row 2, column 'low'"):
        ReplayMarket(tmp_path / "bad.parquet")
