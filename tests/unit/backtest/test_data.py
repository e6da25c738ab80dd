"""The backtest's bar loader: formats, timeframe inference, refusals with file and line,
skipping bad rows, date and symbol filters, visibility order and chunked iteration."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from pyrt.backtest.data import BarData, BarDataError, load_bars
from pyrt.domain.errors import BadInput

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
HEADER = "timestamp,symbol,open,high,low,close,volume"


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp()) * 1_000_000_000


def write(path: Path, *lines: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def minute_rows(symbol: str, start: str, n: int, step_min: int = 1, price: float = 100.0) -> list[str]:
    t0 = datetime.fromisoformat(start)
    out = []
    for k in range(n):
        t = datetime.fromtimestamp(t0.timestamp() + 60 * step_min * k, tz=UTC)
        p = price + k * 0.01
        out.append(f"{t.isoformat().replace('+00:00', 'Z')},{symbol},{p:.2f},{p + 0.05:.2f},{p - 0.05:.2f},{p:.2f},100")
    return out


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path


def refused(paths: list[Path], **kw: object) -> str:
    with pytest.raises(BarDataError) as info:
        load_bars(paths, **kw)  # type: ignore[arg-type]
    assert isinstance(info.value, BadInput) and isinstance(info.value, ValueError)
    return str(info.value)


# ------------------------------------------------------------------ formats
def test_shared_daily_csv_bars_open_at_the_session_open_and_close_at_its_close_early_closes_included() -> None:
    path = shared("historical", "AAPL.csv")
    data = load_bars([path])
    assert data.timeframe == "1Day" and data.timeframe_ns == 86_400_000_000_000
    assert data.symbols == ("AAPL",) and len(data) == 249
    assert data.open_ns[0] == ns("2024-11-01T09:30:00-04:00") and data.close_ns[0] == ns("2024-11-01T16:00:00-04:00")
    day_after_thanksgiving = np.flatnonzero(data.open_ns == ns("2024-11-29T09:30:00-05:00"))
    assert len(day_after_thanksgiving) == 1
    assert data.close_ns[day_after_thanksgiving[0]] == ns("2024-11-29T13:00:00-05:00")
    assert data.close[0] == 222.91 and data.volume[0] == 65276741.0
    (src,) = data.sources
    assert src.path == str(path) and src.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (src.rows, src.symbols, src.timeframe, src.skipped_rows) == (249, ("AAPL",), "1Day", 0)
    assert data.regular_hours_only() and data.problems == []


def test_shared_minute_file_with_z_stamps() -> None:
    data = load_bars([shared("bench", "aapl_1m_100k.csv")])
    assert (len(data), data.timeframe, data.symbols) == (100_000, "1Min", ("AAPL",))
    assert data.open_ns[0] == ns("2024-01-02T14:30:00+00:00")
    assert np.all(data.close_ns - data.open_ns == 60_000_000_000)
    assert np.all(np.diff(data.close_ns) > 0)
    assert data.open[0] == 150.0 and data.volume[0] == 25641
    assert not data.regular_hours_only()  # the file runs through nights and weekends


def test_a_directory_loads_its_csv_files_merged_in_visibility_order() -> None:
    data = load_bars([shared("historical")])
    assert data.symbols == ("AAPL", "GOOGL", "MSFT") and len(data) == 3 * 249
    assert [s.symbols for s in data.sources] == [("AAPL",), ("GOOGL",), ("MSFT",)]
    assert data.sym[:6].tolist() == [0, 1, 2, 0, 1, 2]
    key = data.close_ns * 8 + data.sym
    assert np.all(np.diff(key) > 0)


def test_without_a_symbol_column_the_file_name_is_the_symbol(tmp_path: Path) -> None:
    rows = [r.replace(",XX,", ",") for r in minute_rows("XX", "2024-01-02T14:30:00+00:00", 3)]
    data = load_bars([write(tmp_path / "msft.csv", *rows, header="timestamp,open,high,low,close,volume")])
    assert data.symbols == ("MSFT",) and len(data) == 3


def test_many_files_and_symbols_merge_by_close_then_symbol(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", *minute_rows("ZZZ", "2024-01-02T14:30:00+00:00", 3))
    b = write(tmp_path / "b.csv", *minute_rows("AAA", "2024-01-02T14:31:00+00:00", 3))
    data = load_bars([a, b])
    assert data.symbols == ("AAA", "ZZZ")
    assert [(int(t), int(s)) for t, s in zip(data.open_ns, data.sym, strict=True)] == [
        (ns("2024-01-02T14:30:00+00:00"), 1),
        (ns("2024-01-02T14:31:00+00:00"), 0),
        (ns("2024-01-02T14:31:00+00:00"), 1),
        (ns("2024-01-02T14:32:00+00:00"), 0),
        (ns("2024-01-02T14:32:00+00:00"), 1),
        (ns("2024-01-02T14:33:00+00:00"), 0),
    ]


def parquet(path: Path, stamps: pa.Array, symbol: str = "AAPL", metadata: dict[bytes, bytes] | None = None) -> Path:
    n = len(stamps)
    table = pa.table(
        {
            "timestamp": stamps,
            "symbol": [symbol] * n,
            "open": [10.0 + k for k in range(n)],
            "high": [11.0 + k for k in range(n)],
            "low": [9.0 + k for k in range(n)],
            "close": [10.5 + k for k in range(n)],
            "volume": [1000] * n,
        }
    )
    if metadata:
        table = table.replace_schema_metadata(metadata)
    pq.write_table(table, path)
    return path


def test_parquet_with_tz_aware_stamps_or_iso_text(tmp_path: Path) -> None:
    stamps = [datetime(2024, 1, 2, 14, 30 + 5 * k, tzinfo=UTC) for k in range(4)]
    a = parquet(tmp_path / "a.parquet", pa.array(stamps, type=pa.timestamp("us", tz="UTC")))
    b = parquet(tmp_path / "b.parquet", pa.array([s.isoformat() for s in stamps]), symbol="MSFT")
    data = load_bars([a, b])
    assert data.timeframe == "5Min" and data.symbols == ("AAPL", "MSFT") and len(data) == 8
    assert data.open_ns[0] == ns("2024-01-02T14:30:00+00:00") and data.close_ns[0] == ns("2024-01-02T14:35:00+00:00")
    assert data.open[:2].tolist() == [10.0, 10.0] and data.volume.dtype == np.float64


def test_parquet_with_naive_stamps_is_refused(tmp_path: Path) -> None:
    naive = pa.array([datetime(2024, 1, 2, 14, 30 + k) for k in range(3)], type=pa.timestamp("us"))  # noqa: DTZ001 - naive on purpose
    path = parquet(tmp_path / "naive.parquet", naive)
    msg = refused([path])
    assert str(path) in msg and "no timezone" in msg


def test_a_parquet_file_may_declare_its_timeframe_so_a_single_bar_is_not_ambiguous(tmp_path: Path) -> None:
    stamp = pa.array([datetime(2024, 11, 1, 4, tzinfo=UTC)], type=pa.timestamp("ns", tz="UTC"))
    path = parquet(tmp_path / "one.parquet", stamp, metadata={b"pyrt_timeframe": b"1Day"})
    data = load_bars([path])
    assert data.timeframe == "1Day" and len(data) == 1


# ------------------------------------------------------------------ timeframes
@pytest.mark.parametrize(("step", "name"), [(1, "1Min"), (5, "5Min"), (15, "15Min"), (60, "1Hour")])
def test_the_timeframe_is_the_most_common_gap(tmp_path: Path, step: int, name: str) -> None:
    rows = minute_rows("AAPL", "2024-01-02T14:00:00+00:00", 6, step)
    rows = rows[:2] + rows[3:]  # a missing bar: a gap of two steps, once
    data = load_bars([write(tmp_path / "x.csv", *rows)])
    assert data.timeframe == name and data.timeframe_ns == step * 60_000_000_000
    assert np.all(data.close_ns - data.open_ns == step * 60_000_000_000)


def test_daily_bars_are_stamped_at_new_york_midnight_in_winter_and_summer(tmp_path: Path) -> None:
    rows = [
        "2024-03-08T05:00:00Z,AAPL,10,11,9,10,5",  # Friday, EST
        "2024-03-11T04:00:00Z,AAPL,10,11,9,10,5",  # Monday, EDT
        "2024-03-12T04:00:00Z,AAPL,10,11,9,10,5",
    ]
    data = load_bars([write(tmp_path / "d.csv", *rows)])
    assert data.timeframe == "1Day"
    assert data.open_ns.tolist() == [
        ns("2024-03-08T09:30:00-05:00"),
        ns("2024-03-11T09:30:00-04:00"),
        ns("2024-03-12T09:30:00-04:00"),
    ]


def test_naive_stamps_are_refused_naming_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "naive.csv", "2024-01-02 14:30:00,AAPL,10,11,9,10,5", "2024-01-02 14:31:00,AAPL,10,11,9,10,5"
    )
    msg = refused([path])
    assert f"{path}, line 2" in msg and "no timezone" in msg


def test_a_single_row_is_refused_as_ambiguous(tmp_path: Path) -> None:
    path = write(tmp_path / "one.csv", "2024-01-02T14:30:00Z,AAPL,10,11,9,10,5")
    msg = refused([path])
    assert str(path) in msg and "single row" in msg


def test_a_single_row_file_is_fine_beside_files_that_tell_the_timeframe(tmp_path: Path) -> None:
    one = write(tmp_path / "one.csv", "2024-01-02T14:35:00Z,MSFT,10,11,9,10,5")
    many = write(tmp_path / "many.csv", *minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 5))
    data = load_bars([one, many])
    assert data.timeframe == "1Min" and len(data) == 6


def test_stamps_that_fit_no_timeframe_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "odd.csv", *minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 5, step_min=7))
    msg = refused([path])
    assert str(path) in msg and "fit no timeframe" in msg and "0:07:00" in msg


def test_stamps_off_the_timeframe_grid_are_refused(tmp_path: Path) -> None:
    rows = minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 5)
    rows[3] = rows[3].replace(":00Z", ":30Z")
    path = write(tmp_path / "off.csv", *rows)
    msg = refused([path])
    assert f"{path}, line 5" in msg and "1Min boundary" in msg


def test_daily_bars_at_utc_midnight_are_refused_with_a_hint(tmp_path: Path) -> None:
    rows = [f"2024-01-0{d}T00:00:00Z,AAPL,10,11,9,10,5" for d in (2, 3, 4, 5)]
    msg = refused([write(tmp_path / "utc.csv", *rows)])
    assert "fit no timeframe" in msg and "New York midnight" in msg and "line 2" in msg


def test_mixed_timeframes_are_refused_naming_both_files(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", *minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 5))
    b = write(tmp_path / "b.csv", *minute_rows("MSFT", "2024-01-02T14:30:00+00:00", 5, step_min=5))
    msg = refused([a, b])
    assert "mixed timeframes" in msg and str(a) in msg and str(b) in msg and "1Min" in msg and "5Min" in msg


# ------------------------------------------------------------------ bad rows
BAD_CASES = [
    ("2024-01-02T14:32:00Z,AAPL,0,11,9,10,5", "non-positive price"),
    ("2024-01-02T14:32:00Z,AAPL,10,9,11,10,5", "high < low"),
    ("2024-01-02T14:32:00Z,AAPL,12,11,9,10,5", "open outside [low, high]"),
    ("2024-01-02T14:32:00Z,AAPL,10,11,9,8,5", "close outside [low, high]"),
    ("2024-01-02T14:32:00Z,AAPL,10,11,9,10,-5", "negative volume"),
    ("2024-01-02T14:32:00Z,AAPL,10,inf,9,10,5", "a value that is not a finite number"),
    ("2024-01-02T14:31:00Z,AAPL,10,11,9,10,5", "duplicate stamp for AAPL (as line 3)"),
    ("2024-01-02T14:29:00Z,AAPL,10,11,9,10,5", "stamp out of order for AAPL"),
    ("2024-01-02T14:32:00Z,AAPL,10,abc,9,10,5", "high: cannot parse 'abc'"),
    ("2024-01-02T14:32:00Z,AAPL,10,11,9,,5", "close: empty value"),
    ("yesterday,AAPL,10,11,9,10,5", "timestamp: cannot parse 'yesterday'"),
    ("2024-01-02T14:32:00Z,AAPL,10,11,9,10", "6 fields, the header has 7"),
]


@pytest.mark.parametrize(("bad", "why"), BAD_CASES)
def test_a_bad_row_refuses_the_load_with_file_and_line(tmp_path: Path, bad: str, why: str) -> None:
    good = minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 2)  # lines 2 and 3
    later = minute_rows("AAPL", "2024-01-02T14:33:00+00:00", 3)
    path = write(tmp_path / "bad.csv", *good, bad, *later)
    msg = refused([path])
    assert f"{path}, line 4: {why}" in msg and msg.startswith("1 bad row(s)")


@pytest.mark.parametrize(("bad", "why"), BAD_CASES)
def test_skip_bad_drops_and_counts_the_row_and_keeps_the_problem(tmp_path: Path, bad: str, why: str) -> None:
    good = minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 2)
    later = minute_rows("AAPL", "2024-01-02T14:33:00+00:00", 3)
    path = write(tmp_path / "bad.csv", *good, bad, *later)
    data = load_bars([path], skip_bad=True)
    assert len(data) == 5 and data.sources[0].skipped_rows == 1 and data.sources[0].rows == 5
    assert len(data.problems) == 1 and data.problems[0].startswith(f"{path}, line 4: {why}")


def test_the_error_lists_the_first_problems_and_the_count(tmp_path: Path) -> None:
    rows = minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 30)
    rows = [r.rsplit(",", 1)[0] + ",-1" if k % 2 else r for k, r in enumerate(rows)]
    msg = refused([write(tmp_path / "neg.csv", *rows)])
    assert msg.startswith("15 bad row(s)") and "line 3: negative volume" in msg and "... and 5 more" in msg
    assert "line 21:" in msg and "line 23:" not in msg


def test_line_numbers_stay_exact_past_blank_lines(tmp_path: Path) -> None:
    rows = minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 4)
    path = tmp_path / "blank.csv"
    path.write_text("\n".join([HEADER, rows[0], "", rows[1], rows[2].rsplit(",", 1)[0] + ",-3", rows[3]]) + "\n")
    assert f"{path}, line 5: negative volume" in refused([path])


def test_a_stamp_given_by_two_files_is_a_duplicate_of_the_later_file(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", *minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 3))
    b = write(tmp_path / "b.csv", *minute_rows("AAPL", "2024-01-02T14:32:00+00:00", 3))
    msg = refused([a, b])
    assert f"{b}, line 2: duplicate stamp for AAPL (also in {a}, line 4)" in msg
    data = load_bars([a, b], skip_bad=True)
    assert len(data) == 5 and [s.skipped_rows for s in data.sources] == [0, 1]


def test_a_daily_bar_on_a_holiday_is_a_bad_row(tmp_path: Path) -> None:
    rows = [
        "2024-12-24T05:00:00Z,AAPL,10,11,9,10,5",
        "2024-12-25T05:00:00Z,AAPL,10,11,9,10,5",  # Christmas
        "2024-12-26T05:00:00Z,AAPL,10,11,9,10,5",
    ]
    path = write(tmp_path / "d.csv", *rows)
    assert f"{path}, line 3: daily bar on 2024-12-25, a day without a NYSE session" in refused([path])
    data = load_bars([path], skip_bad=True)
    assert len(data) == 2 and data.close_ns[0] == ns("2024-12-24T13:00:00-05:00")  # an early close


def test_missing_columns_and_missing_files_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "2024-01-02T14:30:00Z,AAPL,10", header="timestamp,symbol,open")
    msg = refused([path])
    assert f"{path}, line 1: missing column(s) high, low, close, volume" in msg
    assert "no such file" in refused([tmp_path / "nope.csv"])


# ------------------------------------------------------------------ filters
def test_start_and_end_keep_new_york_trading_dates_inclusive(tmp_path: Path) -> None:
    stamps = [
        "2024-01-02T04:00:00Z",  # New York 2024-01-01 23:00: out
        "2024-01-02T05:00:00Z",  # New York 2024-01-02 00:00: in
        "2024-01-02T15:00:00Z",
        "2024-01-02T16:00:00Z",
        "2024-01-03T04:00:00Z",  # New York 2024-01-02 23:00
        "2024-01-03T05:00:00Z",
        "2024-01-04T04:00:00Z",  # New York 2024-01-03 23:00: in
        "2024-01-04T05:00:00Z",  # New York 2024-01-04 00:00: out
    ]
    path = write(tmp_path / "h.csv", *[f"{t},AAPL,10,11,9,10,5" for t in stamps])
    data = load_bars([path], start=date(2024, 1, 2), end=date(2024, 1, 3))
    assert data.timeframe == "1Hour"
    assert data.open_ns.tolist() == [ns(t.replace("Z", "+00:00")) for t in stamps[1:7]]
    assert data.sources[0].rows == 6 and data.sources[0].skipped_rows == 0
    assert len(load_bars([path], start=date(2025, 1, 1))) == 0


def test_start_and_end_on_daily_bars(tmp_path: Path) -> None:
    data = load_bars([shared("historical", "MSFT.csv")], start=date(2024, 11, 4), end=date(2024, 11, 8))
    assert len(data) == 5 and data.open_ns[0] == ns("2024-11-04T09:30:00-05:00")


def test_symbols_keep_only_those_and_ignore_the_others_problems(tmp_path: Path) -> None:
    rows = minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 3) + minute_rows("MSFT", "2024-01-02T14:30:00+00:00", 3)
    rows.append("2024-01-02T14:40:00Z,MSFT,10,9,11,10,5")  # bad, but MSFT is not wanted
    data = load_bars([write(tmp_path / "x.csv", *rows)], symbols=["aapl"])
    assert data.symbols == ("AAPL",) and len(data) == 3 and data.sources[0].symbols == ("AAPL",)


# ------------------------------------------------------------------ iteration and sessions
def test_chunks_yield_python_lists_that_zip_into_bars(tmp_path: Path) -> None:
    data = load_bars([write(tmp_path / "x.csv", *minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 10))])
    chunks = list(data.chunks(4))
    assert [len(c[0]) for c in chunks] == [4, 4, 2]
    first = chunks[0]
    assert all(type(col) is list for col in first)
    assert type(first[0][0]) is int and type(first[2][0]) is int and type(first[3][0]) is float
    rows = [row for c in chunks for row in zip(*c, strict=True)]
    assert rows[0] == (
        ns("2024-01-02T14:30:00+00:00"),
        ns("2024-01-02T14:31:00+00:00"),
        0,
        100.0,
        100.05,
        99.95,
        100.0,
        100.0,
    )
    assert [r[1] for r in rows] == data.close_ns.tolist()


def bars_at(tmp_path: Path, *stamps: str) -> BarData:
    rows = [f"{s},AAPL,10,11,9,10,5" for s in stamps]
    return load_bars([write(tmp_path / "s.csv", *rows)])


def test_regular_hours_only(tmp_path: Path) -> None:
    assert bars_at(
        tmp_path, "2024-07-01T13:30:00Z", "2024-07-01T13:31:00Z", "2024-07-01T19:59:00Z"
    ).regular_hours_only()
    assert not bars_at(tmp_path, "2024-07-01T13:29:00Z", "2024-07-01T13:30:00Z").regular_hours_only()
    assert not bars_at(tmp_path, "2024-07-01T19:59:00Z", "2024-07-01T20:00:00Z").regular_hours_only()
    # 2024-07-03 closes at 13:00 New York (17:00Z); 2024-07-06 is a Saturday
    assert bars_at(tmp_path, "2024-07-03T16:58:00Z", "2024-07-03T16:59:00Z").regular_hours_only()
    assert not bars_at(tmp_path, "2024-07-03T16:59:00Z", "2024-07-03T17:00:00Z").regular_hours_only()
    assert not bars_at(tmp_path, "2024-07-06T14:00:00Z", "2024-07-06T14:01:00Z").regular_hours_only()
    hourly = bars_at(tmp_path, "2024-07-01T14:00:00Z", "2024-07-01T15:00:00Z")
    assert hourly.regular_hours_only()


def test_a_bad_parquet_row_is_named_by_its_row_number(tmp_path: Path) -> None:
    stamps = pa.array(
        [datetime(2024, 1, 2, 14, 30 + k, tzinfo=UTC) for k in range(4)], type=pa.timestamp("ns", tz="UTC")
    )
    path = parquet(tmp_path / "p.parquet", stamps)
    table = pq.read_table(path)
    lows = table["low"].to_pylist()
    lows[2] = 50.0
    pq.write_table(table.set_column(table.column_names.index("low"), "low", pa.array(lows)), path)
    assert f"{path}, row 3: high < low" in refused([path])


def test_a_header_with_a_byte_order_mark_and_quoted_values(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    rows = [f'"{r.split(",", 1)[0]}",{r.split(",", 1)[1]}' for r in minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 3)]
    path.write_bytes(("\ufeff" + HEADER + "\r\n" + "\r\n".join(rows) + "\r\n").encode())
    data = load_bars([path])
    assert len(data) == 3 and data.symbols == ("AAPL",)


def test_importing_the_loader_imports_neither_pyarrow_nor_alpaca() -> None:
    code = "import sys, pyrt.backtest.data; print(sorted({m.split('.')[0] for m in sys.modules} & {'pyarrow', 'alpaca', 'pandas'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_minute_bars_with_missing_minutes_are_still_minute_bars(tmp_path: Path) -> None:
    rows = minute_rows("THIN", "2024-01-02T14:30:00+00:00", 40)
    sparse = [r for k, r in enumerate(rows) if k % 2 == 0 or k % 7 == 0]  # gaps of 2 minutes mostly, some of 1
    data = load_bars([write(tmp_path / "thin.csv", *sparse)])
    assert data.timeframe == "1Min" and len(data) == len(sparse)
    every_other = [r for k, r in enumerate(rows) if k % 2 == 0]  # only 2-minute gaps: no timeframe says so
    assert "fit no timeframe" in refused([write(tmp_path / "two.csv", *every_other)])


def test_a_declared_timeframe_is_checked_not_inferred(tmp_path: Path) -> None:
    stamps = [datetime(2024, 1, 2, 14, 30 + 3 * k, tzinfo=UTC) for k in range(4)]  # every third minute
    arr = pa.array(stamps, type=pa.timestamp("ns", tz="UTC"))
    path = parquet(tmp_path / "thin.parquet", arr, metadata={b"pyrt_timeframe": b"1Min"})
    assert load_bars([path]).timeframe == "1Min"
    daily = parquet(tmp_path / "d.parquet", arr, metadata={b"pyrt_timeframe": b"1Day"})
    assert f"{daily}, row 1: a daily bar must be stamped at New York midnight" in refused([daily])


def test_a_single_daily_row_takes_the_timeframe_of_the_other_files(tmp_path: Path) -> None:
    one = write(tmp_path / "one.csv", "2024-11-05T05:00:00Z,ZZZ,10,11,9,10,5")
    assert "single row" in refused([one])
    data = load_bars([shared("historical", "AAPL.csv"), one])
    assert data.timeframe == "1Day" and data.symbols == ("AAPL", "ZZZ") and len(data) == 250


def test_asking_for_symbols_the_files_do_not_hold_says_what_they_hold(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", *minute_rows("AAPL", "2024-01-02T14:30:00+00:00", 3))
    msg = refused([path], symbols=["TSLA", "NVDA"])
    assert f"no bars of NVDA, TSLA in {path} (they hold AAPL)" in msg
