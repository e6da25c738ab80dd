"""Writes a run's report into a directory: `report.json` (schema in docs/backtest-report.md,
version `REPORT_SCHEMA_VERSION`), `fills.csv`, `trades.csv`, `equity.csv`, `orders.csv` and
a self-contained `report.html`.

Deterministic: the same `RunResult` gives the same bytes in every file. JSON keys are sorted,
floats are rounded to `FLOAT_DIGITS` decimals (NaN and inf never appear: they are None),
nothing reads the clock, and paths are only those the run's config and sources hold."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from pyrt.backtest.html_report import render_html
from pyrt.backtest.metrics import drawdown_series
from pyrt.backtest.results import REPORT_SCHEMA_VERSION, RunResult
from pyrt.backtest.stamps import iso_z, iso_z_many
from pyrt.backtest.summary import build_summary
from pyrt.backtest.trades import Trade, round_trips
from pyrt.research.diagnostics import diagnose_run

FLOAT_DIGITS = 8
FILES = ("report.json", "fills.csv", "trades.csv", "equity.csv", "orders.csv", "report.html")
FILL_COLUMNS = (
    "timestamp", "symbol", "side", "qty", "price", "fee", "spread_cost", "slippage_cost",
    "strategy", "reason", "position_after", "intent_id", "client_order_id",
)  # fmt: skip
TRADE_COLUMNS = (
    "strategy", "symbol", "side", "qty", "entry_time", "exit_time", "entry_price", "exit_price",
    "gross_pnl", "fees", "net_pnl", "return_pct", "duration_s", "entry_reason", "exit_reason",
    "open",
)  # fmt: skip
EQUITY_COLUMNS = ("timestamp", "equity", "drawdown", "gross_exposure")
ORDER_COLUMNS = (
    "decided_at", "intent_id", "strategy", "symbol", "side", "qty", "order_type",
    "time_in_force", "limit_price", "stop_price", "reason", "status", "reason_code", "message",
    "filled_qty", "avg_price",
)  # fmt: skip


def trades_of(run: RunResult) -> list[Trade]:
    """The run's round trips, what is open at the end marked at each symbol's last close."""
    marks = {s: (p.last_ts_ns, p.last_close) for s, p in run.prices.items()}
    return round_trips(run.fills, marks)


def build_report(run: RunResult, trades: list[Trade] | None = None) -> dict[str, Any]:
    """The content of `report.json`, already rounded."""
    if trades is None:
        trades = trades_of(run)
    body = build_summary(run, trades)
    body.update(
        schema_version=REPORT_SCHEMA_VERSION,
        pyrt_version=run.version,
        config=run.config,
        sources=[
            {
                "path": s.path,
                "sha256": s.sha256,
                "rows": s.rows,
                "skipped_rows": s.skipped_rows,
                "symbols": list(s.symbols),
                "timeframe": s.timeframe,
            }
            for s in run.sources
        ],
        period={
            "start": iso_z(run.start_ns),
            "end": iso_z(run.end_ns),
            "timeframe": run.timeframe,
            "bars": run.bars_processed,
        },
        warnings=list(run.warnings),
        diagnostics=diagnose_run(run, trades),
        files=list(FILES),
    )
    cleaned: dict[str, Any] = clean(body)
    return cleaned


def clean(obj: Any) -> Any:
    """JSON-ready: floats rounded (None when not finite, -0.0 as 0.0), Decimals as exact
    strings, tuples as lists, dict keys as strings."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return round(obj, FLOAT_DIGITS) + 0.0
    if isinstance(obj, Decimal):
        return _dec(obj)
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if hasattr(obj, "item"):  # a numpy scalar
        return clean(obj.item())
    return str(obj)


def report_json_text(report: dict[str, Any]) -> str:
    return json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_report(run: RunResult, out_dir: str | Path) -> dict[str, Any]:
    """Writes every file into `out_dir` (created if missing) and returns the report dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trades = trades_of(run)
    report = build_report(run, trades)
    _write(out / "report.json", report_json_text(report))
    _write(out / "fills.csv", _csv(FILL_COLUMNS, _fill_rows(run)))
    _write(out / "trades.csv", _csv(TRADE_COLUMNS, _trade_rows(trades)))
    _write(out / "equity.csv", _equity_csv(run))
    _write(out / "orders.csv", _csv(ORDER_COLUMNS, _order_rows(run)))
    _write(out / "report.html", render_html(run, report, trades))
    return report


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _dec(d: Decimal | None, places: int | None = None) -> str:
    """A Decimal as plain digits (never an exponent); `places` rounds it first."""
    if d is None:
        return ""
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places))
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _fill_rows(run: RunResult) -> Iterable[Sequence[object]]:
    for f in run.fills:
        yield (
            iso_z(f.ts_ns), f.symbol, f.side, _dec(f.qty), _dec(f.price), _dec(f.fee),
            _dec(f.spread_cost), _dec(f.slippage_cost), f.strategy, f.reason,
            _dec(f.position_after), f.intent_id, f.client_order_id,
        )  # fmt: skip


def _trade_rows(trades: list[Trade]) -> Iterable[Sequence[object]]:
    for t in trades:
        yield (
            t.strategy, t.symbol, t.side, _dec(t.qty), iso_z(t.entry_ns), iso_z(t.exit_ns),
            _dec(t.entry_price, 6), _dec(t.exit_price, 6), _dec(t.gross_pnl, 6),
            _dec(t.fees, 6), _dec(t.net_pnl, 6), _num(t.return_pct, 6),
            t.duration_ns // 1_000_000_000, t.entry_reason, t.exit_reason,
            "true" if t.is_open else "false",
        )  # fmt: skip


def _equity_csv(run: RunResult) -> str:
    """Equity and exposure in cents, drawdown (a fraction) to `FLOAT_DIGITS` decimals; written
    line by line without the csv module: no field here can hold a comma or a quote."""
    eq = np.asarray(run.equity, dtype=np.float64)
    curve = np.concatenate(([float(run.initial_cash)], eq))
    dd = (np.round(drawdown_series(curve)[1:], FLOAT_DIGITS) + 0.0).tolist()
    eq_c = (np.round(eq, 2) + 0.0).tolist()
    gx_c = (np.round(np.asarray(run.gross_exposure, dtype=np.float64), 2) + 0.0).tolist()
    lines = [",".join(EQUITY_COLUMNS)]
    lines += [
        f"{ts},{e:.2f},{d:.{FLOAT_DIGITS}f},{g:.2f}"
        for ts, e, d, g in zip(iso_z_many(run.equity_ts), eq_c, dd, gx_c, strict=True)
    ]
    return "\n".join(lines) + "\n"


def _order_rows(run: RunResult) -> Iterable[Sequence[object]]:
    for o in run.orders:
        yield (
            iso_z(o.decided_ns), o.intent_id, o.strategy, o.symbol, o.side, _dec(o.qty),
            o.order_type, o.time_in_force, _dec(o.limit_price), _dec(o.stop_price), o.reason,
            o.status, o.reason_code, o.message, _dec(o.filled_qty), _dec(o.avg_price, 6),
        )  # fmt: skip


def _num(x: float, places: int) -> str:
    """A float with at most `places` decimals, without trailing zeros."""
    if not math.isfinite(x):
        return ""
    text = f"{x:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
