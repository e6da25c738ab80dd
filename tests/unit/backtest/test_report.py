from __future__ import annotations

import csv
import json
import re
from array import array
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from pyrt.backtest.report import (
    EQUITY_COLUMNS,
    FILES,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    TRADE_COLUMNS,
    build_report,
    write_report,
)
from pyrt.backtest.results import (
    REPORT_SCHEMA_VERSION,
    DataSource,
    FillRow,
    OrderRow,
    RunResult,
    SymbolPrices,
)
from pyrt.backtest.terminal import print_summary

D = Decimal
NS = 1_000_000_000


def _ns(s: str) -> int:
    return int(datetime.fromisoformat(s).replace(tzinfo=UTC).timestamp()) * NS


def _fill(ts: str, side: str, qty: str, price: str, pos: str, reason: str, fee: str = "0") -> FillRow:
    return FillRow(
        ts_ns=_ns(ts),
        symbol="AAPL",
        side=side,
        qty=D(qty),
        price=D(price),
        fee=D(fee),
        spread_cost=D("0.5"),
        slippage_cost=D("0.25"),
        strategy="ema",
        intent_id=f"i-{ts}",
        client_order_id=f"c-{ts}",
        reason=reason,
        position_after=D(pos),
    )


def small_run(bars: int = 6) -> RunResult:
    """Three trading days of two bars each; a long trade in AAPL that wins, a second that is
    still open at the end, and one denied order."""
    stamps = [
        "2024-01-02T15:00:00", "2024-01-02T20:00:00",
        "2024-01-03T15:00:00", "2024-01-03T20:00:00",
        "2024-01-04T15:00:00", "2024-01-04T20:00:00",
    ][:bars]  # fmt: skip
    equity = [100_000.0, 100_050.0, 100_200.0, 99_900.0, 100_100.0, 100_300.0][:bars]
    exposure = [0.0, 10_000.0, 10_100.0, 0.0, 9_900.0, 10_000.0][:bars]
    fills = [
        _fill("2024-01-02T20:00:00", "buy", "100", "100", "100", "ema cross up", fee="1"),
        _fill("2024-01-03T15:00:00", "sell", "100", "101.5", "0", "ema cross down", fee="1.25"),
        _fill("2024-01-04T15:00:00", "buy", "100", "99", "100", "ema cross up"),
    ]
    orders = [
        OrderRow("i1", "ema", "AAPL", "buy", D(100), "market", "day", None, None, _ns(stamps[0]),
                 "ema cross up", status="filled", filled_qty=D(100), avg_price=D(100)),
        OrderRow("i2", "ema", "MSFT", "buy", D(1000), "limit", "day", D("350.10"), None,
                 _ns(stamps[-1]), "ema cross up", status="denied", reason_code="MAX_NOTIONAL",
                 message="order notional 350,100 > limit 50,000"),
    ]  # fmt: skip
    return RunResult(
        version="0.0.0-test",
        config={"strategies": [{"name": "ema", "kind": "ema_cross_long_only"}], "fill_at": "close"},
        sources=[DataSource("data/aapl.csv", "ab" * 32, bars, ("AAPL",), "1Hour")],
        initial_cash=D(100_000),
        final_cash=D("90200"),
        final_equity=D(str(equity[-1])),
        start_ns=_ns(stamps[0]),
        end_ns=_ns(stamps[-1]),
        timeframe="1Hour",
        fills=fills,
        orders=orders,
        equity_ts=array("q", [_ns(s) for s in stamps]),
        equity=array("d", equity),
        gross_exposure=array("d", exposure),
        prices={"AAPL": SymbolPrices(_ns(stamps[0]), 99.0, _ns(stamps[-1]), 101.0, bars)},
        bars_processed=bars,
        price_series={"AAPL": (array("q", [_ns(s) for s in stamps]), array("d", [99, 100, 101.5, 98, 99, 101][:bars]))},
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_writes_every_file_with_the_promised_columns(tmp_path: Path) -> None:
    write_report(small_run(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    fills_header = (tmp_path / "fills.csv").read_text().splitlines()[0]
    assert fills_header.startswith("timestamp,symbol,side,qty,price,")
    fills = _rows(tmp_path / "fills.csv")
    assert fills[0]["timestamp"] == "2024-01-02T20:00:00Z"
    assert (fills[0]["side"], fills[0]["qty"], fills[0]["price"]) == ("buy", "100", "100")
    assert fills[1]["price"] == "101.5"
    assert fills[1]["spread_cost"] == "0.5" and fills[1]["slippage_cost"] == "0.25"
    trades = _rows(tmp_path / "trades.csv")
    assert [t["open"] for t in trades] == ["false", "true"]
    assert trades[0]["gross_pnl"] == "150"
    assert trades[0]["net_pnl"] == "147.75"
    assert trades[0]["exit_reason"] == "ema cross down"
    assert trades[0]["duration_s"] == str(19 * 3600)
    assert trades[1]["exit_reason"] == "open at end"
    equity = _rows(tmp_path / "equity.csv")
    assert list(equity[0]) == ["timestamp", "equity", "drawdown", "gross_exposure"]
    assert len(equity) == 6
    assert equity[3] == {
        "timestamp": "2024-01-03T20:00:00Z",
        "equity": "99900.00",
        "drawdown": f"{99_900 / 100_200 - 1:.8f}",
        "gross_exposure": "0.00",
    }
    assert equity[0]["drawdown"] == "0.00000000"
    orders = _rows(tmp_path / "orders.csv")
    denied = [o for o in orders if o["status"] == "denied"]
    assert denied[0]["reason_code"] == "MAX_NOTIONAL"
    assert denied[0]["message"] == "order notional 350,100 > limit 50,000"
    assert denied[0]["limit_price"] == "350.1"


def test_report_json_schema_and_figures(tmp_path: Path) -> None:
    write_report(small_run(), tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["schema_version"] == REPORT_SCHEMA_VERSION
    s = report["summary"]
    assert s["total_return"] == pytest.approx(0.003)
    assert s["trading_days"] == 3
    assert (s["trades"], s["open_trades"], s["orders"], s["denials"], s["fills"]) == (1, 1, 2, 1, 3)
    assert s["win_rate"] == 1.0
    assert s["profit_factor"] is None  # no losing trade
    assert s["max_drawdown"] == pytest.approx(99_900 / 100_200 - 1)
    assert s["max_drawdown_peak"] == "2024-01-03T15:00:00Z"
    assert s["max_drawdown_recovery"] == "2024-01-04T20:00:00Z"
    assert s["exposure"] == pytest.approx(4 / 6)
    assert report["costs"] == {"spread": 1.5, "slippage": 0.75, "fees": 2.25, "total": 4.5}
    bh = report["buy_and_hold"]
    assert bh["symbols"]["AAPL"]["return"] == pytest.approx(101 / 99 - 1)
    assert bh["equal_weight"]["return"] == pytest.approx(101 / 99 - 1)
    assert report["per_symbol"]["AAPL"]["fills"] == 3
    assert report["per_strategy"]["ema"]["net_pnl"] == pytest.approx(147.75)
    assert report["denials_by_reason"] == {"MAX_NOTIONAL": 1}
    assert report["sources"][0]["sha256"] == "ab" * 32
    assert report["period"]["start"] == "2024-01-02T15:00:00Z"


def test_nothing_is_nan_in_edge_cases(tmp_path: Path) -> None:
    one = small_run(bars=1)
    one.fills, one.orders = [], []
    report = build_report(one)
    text = json.dumps(report, allow_nan=False)  # raises on NaN or inf
    assert report["summary"]["sharpe"] is None
    assert report["summary"]["win_rate"] is None
    assert "NaN" not in text
    empty = RunResult("0", {}, [], D(1000), D(1000), D(1000), 0, 0, "1Day")
    write_report(empty, tmp_path / "empty")
    report = json.loads((tmp_path / "empty" / "report.json").read_text())
    assert report["summary"]["total_return"] == 0.0
    assert report["summary"]["annual_return"] is None
    assert report["summary"]["max_drawdown"] == 0.0
    assert (tmp_path / "empty" / "fills.csv").read_text().count("\n") == 1  # the header


def test_html_is_self_contained(tmp_path: Path) -> None:
    write_report(small_run(), tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert not re.search(r"https?://", html)
    assert "<script" not in html and "<link" not in html and "src=" not in html
    assert html.count("<svg") == 3  # equity, drawdown, AAPL price
    assert 'class="buy"' in html and 'class="sell"' in html
    for line in ("Spread", "Slippage", "Fees"):
        assert f'<th class="l">{line}</th>' in html
    assert "MAX_NOTIONAL" in html


def test_same_run_gives_byte_identical_files(tmp_path: Path) -> None:
    write_report(small_run(), tmp_path / "a")
    write_report(small_run(), tmp_path / "b")
    write_report(small_run(), tmp_path / "a")  # rewriting over itself too
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_html_size_stays_sane_on_a_long_curve(tmp_path: Path) -> None:
    run = small_run()
    n = 100_000
    start = _ns("2024-01-02T14:31:00")
    run.equity_ts = array("q", (start + i * 60 * NS for i in range(n)))
    run.equity = array("d", (100_000.0 + (i % 977) - (i % 331) for i in range(n)))
    run.gross_exposure = array("d", bytes(8 * n))
    run.price_series = {"AAPL": (run.equity_ts, array("d", (100.0 + (i % 97) / 10 for i in range(n))))}
    write_report(run, tmp_path)
    assert (tmp_path / "report.html").stat().st_size < 400_000


def test_terminal_summary_prints_the_figures_and_costs() -> None:
    console = Console(record=True, width=120)
    print_summary(build_report(small_run()), console)
    text = console.export_text()
    for label in ("Sharpe", "Max drawdown", "Win rate", "Spread", "Slippage", "Fees", "Total"):
        assert label in text
    assert "0.30 %" in text  # total return


def test_every_report_field_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "backtest-report.md").read_text()
    named = set(re.findall(r"`([a-z_0-9]+)", doc))
    report = build_report(small_run())
    keys = set(report) | set(report["summary"]) | set(report["costs"]) | set(report["period"])
    keys |= set(report["per_symbol"]["AAPL"]) | set(report["buy_and_hold"]["symbols"]["AAPL"])
    keys |= set(report["buy_and_hold"]) | set(report["buy_and_hold"]["equal_weight"])
    keys |= set(report["sources"][0])
    keys |= set(report["summary"]["best_trade"]) | set(report["summary"]["best_day"])
    missing = keys - named
    assert not missing, f"not in docs/backtest-report.md: {sorted(missing)}"
    for columns in (FILL_COLUMNS, TRADE_COLUMNS, EQUITY_COLUMNS, ORDER_COLUMNS):
        assert ",".join(columns) in doc
