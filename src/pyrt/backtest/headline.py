"""The headline figures as label and text, in the order traders read them: one list for the
terminal table (`terminal.py`) and the HTML page's summary (`html_report.py`). Reads the
report dict, so both show exactly what `report.json` holds."""

from __future__ import annotations

from typing import Any

HEADLINE_ROWS: tuple[tuple[str, str, str], ...] = (
    # (label, summary key, format: "pct" | "money" | "ratio" | "int" | "dur")
    ("Initial cash", "initial_cash", "money"),
    ("Final equity", "final_equity", "money"),
    ("Net profit", "net_profit", "money"),
    ("Total return", "total_return", "pct"),
    ("Annual return (CAGR)", "annual_return", "pct"),
    ("Annual volatility", "annual_volatility", "pct"),
    ("Sharpe", "sharpe", "ratio"),
    ("Sortino", "sortino", "ratio"),
    ("Calmar", "calmar", "ratio"),
    ("Max drawdown", "max_drawdown", "pct"),
    ("Max drawdown duration", "max_drawdown_duration_s", "dur"),
    ("Trades (closed)", "trades", "int"),
    ("Open at end", "open_trades", "int"),
    ("Win rate", "win_rate", "pct"),
    ("Profit factor", "profit_factor", "ratio"),
    ("Expectancy / trade", "expectancy", "money"),
    ("Average win", "avg_win", "money"),
    ("Average loss", "avg_loss", "money"),
    ("Exposure", "exposure", "pct"),
    ("Turnover", "turnover", "ratio"),
    ("Orders", "orders", "int"),
    ("Denied orders", "denials", "int"),
    ("Fills", "fills", "int"),
    ("Trading days", "trading_days", "int"),
)


def fmt(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "pct":
        return f"{value * 100:,.2f} %"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "ratio":
        return f"{value:,.3f}"
    if kind == "dur":
        d, rem = divmod(int(value), 86_400)
        h, rem = divmod(rem, 3600)
        return f"{d}d {h}h {rem // 60}m"
    return f"{value:,}"


COST_ROWS = (("Spread", "spread"), ("Slippage", "slippage"), ("Fees", "fees"), ("Total", "total"))


def headline_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    s = report["summary"]
    rows = [(label, fmt(s.get(key), kind)) for label, key, kind in HEADLINE_ROWS]
    for label, key in (("Best trade", "best_trade"), ("Worst trade", "worst_trade")):
        t = s.get(key)
        text = "—" if t is None else f"{t['net_pnl']:,.2f} ({t['symbol']}, exit {t['exit']})"
        rows.append((label, text))
    for label, key in (("Best day", "best_day"), ("Worst day", "worst_day")):
        d = s.get(key)
        rows.append((label, "—" if d is None else f"{d['return'] * 100:,.2f} % ({d['date']})"))
    ew = report["buy_and_hold"]["equal_weight"]
    rows.append(("Buy and hold (equal weight)", fmt(ew["return"], "pct")))
    return rows


def cost_rows(costs: dict[str, Any]) -> list[tuple[str, str]]:
    """Spread, slippage and fees on lines of their own, then their total."""
    return [(label, fmt(costs[key], "money")) for label, key in COST_ROWS]
