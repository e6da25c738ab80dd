"""The backtest's summary in the terminal: a rich table of the figures traders look at first
and a compact costs table (spread, slippage, fees on separate lines). Reads the report dict
(`report.build_report`), so the terminal and `report.json` never disagree."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

_ROWS: tuple[tuple[str, str, str], ...] = (
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


def summary_table(report: dict[str, Any]) -> Table:
    s = report["summary"]
    period = report["period"]
    table = Table(title=f"Backtest {period['start']} → {period['end']} ({period['timeframe']})")
    table.add_column("Figure")
    table.add_column("Value", justify="right")
    for label, key, kind in _ROWS:
        table.add_row(label, fmt(s.get(key), kind))
    for label, key in (("Best trade", "best_trade"), ("Worst trade", "worst_trade")):
        t = s.get(key)
        text = "—" if t is None else f"{t['net_pnl']:,.2f} ({t['symbol']}, exit {t['exit']})"
        table.add_row(label, text)
    for label, key in (("Best day", "best_day"), ("Worst day", "worst_day")):
        d = s.get(key)
        table.add_row(label, "—" if d is None else f"{d['return'] * 100:,.2f} % ({d['date']})")
    ew = report["buy_and_hold"]["equal_weight"]
    table.add_row("Buy and hold (equal weight)", fmt(ew["return"], "pct"))
    return table


def costs_table(report: dict[str, Any]) -> Table:
    c = report["costs"]
    table = Table(title="Costs")
    table.add_column("Cost")
    table.add_column("Amount", justify="right")
    for label, key in (("Spread", "spread"), ("Slippage", "slippage"), ("Fees", "fees")):
        table.add_row(label, fmt(c[key], "money"))
    table.add_row("Total", fmt(c["total"], "money"), style="bold")
    return table


def print_summary(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_table(report))
    console.print(costs_table(report))
    for warning in report.get("warnings", []):
        console.print(Text.assemble(("warning: ", "yellow"), warning))
