"""`report.html`: one self-contained page (inline CSS and SVG, no script, no external file, no
link) with the summary, the costs (spread, slippage and fees on separate lines), the equity
curve, the drawdown, each symbol's price with its buys and sells, the per-symbol and
per-strategy tables, buy-and-hold, the trades and the denied orders.

Long lists are cut for the page (the CSV files have them all) and say so; curves are thinned
by `svg_charts.minmax_downsample`."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from pyrt.backtest.headline import cost_rows, headline_rows
from pyrt.backtest.metrics import drawdown_series
from pyrt.backtest.results import RunResult
from pyrt.backtest.stamps import iso_z
from pyrt.backtest.svg_charts import Marker, line_chart
from pyrt.backtest.trades import Trade

MAX_TABLE_ROWS = 500
MAX_MARKERS = 1500

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{padding:2px 10px;border-bottom:1px solid #eee;
text-align:right;white-space:nowrap}th{background:#f4f4f4}td.l,th.l{text-align:left}
.note{color:#666;font-size:12px}svg{display:block;margin:8px 0;max-width:100%;height:auto}
svg text{font-size:11px;fill:#444}svg .t{font-size:13px;font-weight:600}
svg .yl{text-anchor:end}.frame{fill:none;stroke:#ccc}.buy{fill:#2ca02c}.sell{fill:#d62728}
.neg{color:#b00}
"""

_PCT_KEYS = {
    "total_return", "annual_return", "annual_volatility", "max_drawdown", "max_drawdown_daily",
    "win_rate", "exposure", "return", "strategy_excess",
}  # fmt: skip


def render_html(run: RunResult, report: dict[str, Any], trades: Sequence[Trade]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Backtest {escape(report['period']['start'])} to {escape(report['period']['end'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Backtest report</h1>",
        _header_note(report),
        "<h2>Summary</h2>",
        _pairs_table(headline_rows(report)),
        "<h2>Costs</h2>",
        _pairs_table(cost_rows(report["costs"])),
        "<h2>Equity</h2>",
        _equity_charts(run),
    ]
    parts += _price_charts(run)
    parts += [
        "<h2>Per symbol</h2>",
        _group_table(report["per_symbol"], "symbol"),
        "<h2>Per strategy</h2>",
        _group_table(report["per_strategy"], "strategy"),
        "<h2>Buy and hold</h2>",
        _buy_hold_table(report["buy_and_hold"]),
        "<h2>Trades</h2>",
        _trades_table(trades),
        "<h2>Orders</h2>",
        _kv_table(report["orders_by_status"]),
        "<h2>Denials</h2>",
        _denials_table(run),
    ]
    checks = report.get("diagnostics", {}).get("warnings", [])
    if checks:
        parts.append("<h2>Overfitting and data checks</h2><ul>")
        parts += [f"<li>{escape(w)}</li>" for w in checks]
        parts.append("</ul>")
    if report["warnings"]:
        parts.append("<h2>Warnings</h2><ul>")
        parts += [f"<li>{escape(w)}</li>" for w in report["warnings"]]
        parts.append("</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _header_note(report: dict[str, Any]) -> str:
    p = report["period"]
    return (
        f'<p class="note">pyrt {escape(str(report["pyrt_version"]))} · report schema '
        f"{report['schema_version']} · {escape(p['start'])} to {escape(p['end'])} · "
        f"{escape(p['timeframe'])} bars · {p['bars']} bars processed</p>"
    )


def _cell(key: str, v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, dict):
        return escape(", ".join(f"{k}: {_cell(k, x)}" for k, x in v.items()))
    if isinstance(v, float):
        if key in _PCT_KEYS:
            return f"{v * 100:.2f}%"
        return f"{v:,.4f}" if abs(v) < 100 else f"{v:,.2f}"
    return escape(str(v))


def _kv_table(d: dict[str, Any]) -> str:
    if not d:
        return '<p class="note">none</p>'
    rows = "".join(f'<tr><th class="l">{escape(k)}</th><td>{_cell(k, v)}</td></tr>' for k, v in d.items())
    return f"<table>{rows}</table>"


def _pairs_table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f'<tr><th class="l">{escape(k)}</th><td>{escape(v)}</td></tr>' for k, v in rows)
    return f"<table>{body}</table>"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    head = "".join(
        f'<th class="l">{escape(h)}</th>' if i < left else f"<th>{escape(h)}</th>" for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>" + "".join(f'<td class="l">{c}</td>' if i < left else f"<td>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _group_table(groups: dict[str, dict[str, Any]], label: str) -> str:
    if not groups:
        return '<p class="note">no fills</p>'
    cols = ("fills", "trades", "open_trades", "win_rate", "profit_factor", "expectancy",
            "gross_pnl", "net_pnl", "open_pnl", "traded_value")  # fmt: skip
    cost_cols = ("spread", "slippage", "fees")
    rows = [
        [escape(name)] + [_cell(c, g[c]) for c in cols] + [_cell(c, g["costs"][c]) for c in cost_cols]
        for name, g in groups.items()
    ]
    return _table([label, *cols, *cost_cols], rows)


def _buy_hold_table(bh: dict[str, Any]) -> str:
    rows = [
        [escape(sym), _cell("", b["first_open"]), _cell("", b["last_close"]),
         _cell("return", b["return"]), _cell("strategy_excess", b["strategy_excess"])]
        for sym, b in bh["symbols"].items()
    ]  # fmt: skip
    ew = bh["equal_weight"]
    rows.append(
        ["equal-weight basket", "", "", _cell("return", ew["return"]),
         _cell("strategy_excess", ew["strategy_excess"])]
    )  # fmt: skip
    return _table(["symbol", "first open", "last close", "return", "strategy minus it"], rows)


def _trades_table(trades: Sequence[Trade]) -> str:
    if not trades:
        return '<p class="note">no trades</p>'
    rows = [
        [escape(t.strategy), escape(t.symbol), t.side, f"{t.qty:f}", iso_z(t.entry_ns),
         iso_z(t.exit_ns), f"{t.entry_price:.4f}", f"{t.exit_price:.4f}", f"{t.net_pnl:,.2f}",
         f"{t.return_pct:.2f}%", _duration(t.duration_ns), escape(t.exit_reason),
         "open" if t.is_open else ""]
        for t in trades[:MAX_TABLE_ROWS]
    ]  # fmt: skip
    note = _cut_note(len(trades), "trades.csv")
    header = ["strategy", "symbol", "side", "qty", "entry", "exit", "entry price", "exit price",
              "net P&L", "return", "duration", "exit reason", ""]  # fmt: skip
    return note + _table(header, rows, left=3)


def _denials_table(run: RunResult) -> str:
    denied = [o for o in run.orders if o.status == "denied"]
    if not denied:
        return '<p class="note">no denied orders</p>'
    rows = [
        [iso_z(o.decided_ns), escape(o.strategy), escape(o.symbol), o.side, f"{o.qty:f}",
         escape(o.reason_code), escape(o.message)]
        for o in denied[:MAX_TABLE_ROWS]
    ]  # fmt: skip
    note = _cut_note(len(denied), "orders.csv")
    return note + _table(["time", "strategy", "symbol", "side", "qty", "code", "message"], rows, 3)


def _cut_note(n: int, file: str) -> str:
    if n <= MAX_TABLE_ROWS:
        return ""
    return f'<p class="note">first {MAX_TABLE_ROWS} of {n}; all are in {file}</p>'


def _duration(ns: int) -> str:
    s = ns // 1_000_000_000
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3600)
    m = s // 60
    return f"{d}d {h}h {m}m" if d else f"{h}h {m}m"


def _equity_charts(run: RunResult) -> str:
    import numpy as np

    ts = list(run.equity_ts)
    eq = list(run.equity)
    curve = np.concatenate(([float(run.initial_cash)], np.asarray(eq, dtype=np.float64)))
    dd = [float(x) for x in drawdown_series(curve)[1:]]
    return line_chart("Equity", ts, eq) + line_chart("Drawdown", ts, dd, percent=True, area=True, color="#d62728")


def _price_charts(run: RunResult) -> list[str]:
    out: list[str] = []
    for sym in sorted(run.price_series):
        ts, closes = run.price_series[sym]
        marks = [Marker(f.ts_ns, float(f.price), f.side) for f in run.fills if f.symbol == sym]
        note = ""
        if len(marks) > MAX_MARKERS:
            step = len(marks) / MAX_MARKERS
            marks = [marks[int(i * step)] for i in range(MAX_MARKERS)]
            note = f'<p class="note">{MAX_MARKERS} of the fills marked, evenly spread; all in fills.csv</p>'
        title = f"{sym}: close, buys ▲ and sells ▼"
        out.append(f"<h2>{escape(sym)}</h2>{note}" + line_chart(title, list(ts), list(closes), markers=marks))
    if not run.price_series:
        out.append('<p class="note">no price series in this run (no price charts)</p>')
    return out
