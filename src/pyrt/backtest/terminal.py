"""The backtest's summary in the terminal: a rich table of the figures traders look at first
and a compact costs table (spread, slippage, fees on separate lines). Reads the report dict
(`report.build_report`), so the terminal and `report.json` never disagree."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pyrt.backtest.headline import cost_rows, headline_rows


def summary_table(report: dict[str, Any]) -> Table:
    period = report["period"]
    table = Table(title=f"Backtest {period['start']} → {period['end']} ({period['timeframe']})")
    table.add_column("Figure")
    table.add_column("Value", justify="right")
    for label, value in headline_rows(report):
        table.add_row(label, value)
    return table


def costs_table(report: dict[str, Any]) -> Table:
    table = Table(title="Costs")
    table.add_column("Cost")
    table.add_column("Amount", justify="right")
    for label, value in cost_rows(report["costs"]):
        table.add_row(label, value, style="bold" if label == "Total" else None)
    return table


def print_summary(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_table(report))
    console.print(costs_table(report))
    for check in report.get("diagnostics", {}).get("warnings", []):
        console.print(Text.assemble(("check: ", "magenta"), check))
    for warning in report.get("warnings", []):
        console.print(Text.assemble(("warning: ", "yellow"), warning))
