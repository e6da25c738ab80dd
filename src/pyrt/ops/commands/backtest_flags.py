"""The flags every `pyrt backtest` command shares (the run's dates, fill rule and costs) and
their conversion into `BacktestSettings`, so `backtest`, `sweep`, `walk-forward` and the
checks read them one way. A module of flags, no command of its own."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import typer

FROM_OPTION = typer.Option(None, "--from", help="First trading date (YYYY-MM-DD, New York).")
TO_OPTION = typer.Option(None, "--to", help="Last trading date (YYYY-MM-DD, New York).")
FILL_AT_OPTION = typer.Option("next_open", "--fill-at", help="next_open (default) or close.")
CASH_OPTION = typer.Option("100000", "--cash", help="Starting cash (USD).")
FEES_OPTION = typer.Option("alpaca", "--fees", help="alpaca (SEC and FINRA fees on sells) or none.")
SPREAD_OPTION = typer.Option(0.0, "--spread-bps", help="Full bid-ask spread around bar prices.")
SLIPPAGE_OPTION = typer.Option("0", "--slippage-bps", help="Slippage against each fill.")


def parse_date(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}", param_hint=flag) from None


def parse_decimal(value: str, flag: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"expected a number, got {value!r}", param_hint=flag) from None


def run_settings(cash: str, fill_at: str, fees: str, spread_bps: float, slippage_bps: str, **more: Any) -> Any:
    """The `BacktestSettings` of the shared flags plus any others a command has (`more`:
    BacktestSettings fields); a bad value raises SettingsError or typer.BadParameter naming it."""
    from pyrt.backtest.settings import BacktestSettings

    return BacktestSettings(
        fill_at=fill_at,  # type: ignore[arg-type]
        cash=parse_decimal(cash, "--cash"),
        fees=fees,  # type: ignore[arg-type]
        spread_bps=spread_bps,
        slippage_bps=parse_decimal(slippage_bps, "--slippage-bps"),
        **more,
    )
