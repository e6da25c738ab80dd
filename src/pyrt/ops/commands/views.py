"""What a trader looks at, in the terminal: `pyrt positions`, `pyrt pnl [--days N]`,
`pyrt orders [--open] [--since]` and `pyrt fills`. Each reads the control facade (the same
reads as the REST API and the web console), prints a table (rich) or, with --json, the rows
as JSON. The rows come from pyrt.ops.console.views, shared with the web page."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer

from pyrt.ops.commands.common import CONFIG_DIR_OPTION

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")

_RIGHT = frozenset(
    {"qty", "avg_entry_price", "current_price", "market_value", "unrealized_pl", "filled_qty", "limit_price"}
    | {"price", "realized", "unrealized", "fills", "notional"}
)


def render_table(
    title: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]], footer: Mapping[str, str] | None = None
) -> str:
    """A rich table as plain text (no colour codes), `footer` a last row under a rule."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_footer=footer is not None)
    for c in columns:
        table.add_column(
            c, footer=(footer or {}).get(c, ""), justify="right" if c in _RIGHT else "left", overflow="fold"
        )
    for r in rows:
        table.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in columns))
    if not rows:
        table.caption = "(none)"
    out = io.StringIO()
    Console(file=out, width=160, color_system=None, force_terminal=False).print(table)
    return out.getvalue().rstrip("\n")


def positions_text(view: Mapping[str, Any]) -> str:
    from pyrt.ops.console.views import POSITION_COLUMNS

    footer = {"symbol": "total", **view["totals"]}
    return render_table("Positions", POSITION_COLUMNS, view["rows"], footer)


def positions(as_json: bool = JSON_OPTION, config_dir: Path = CONFIG_DIR_OPTION) -> None:
    """Positions with average and last price, market value and unrealised P&L."""
    from pyrt.ops.commands.common import echo_json, guarded, open_facade
    from pyrt.ops.console.views import positions_view

    facade = open_facade(config_dir)
    view = positions_view(guarded(facade.positions))
    if as_json:
        echo_json(view)
    else:
        typer.echo(positions_text(view))


def pnl(
    days: int = typer.Option(1, "--days", min=1, max=366, help="How many UTC days, ending today."),
    as_json: bool = JSON_OPTION,
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Realised P&L per day (from the journal's fills, average cost), today with unrealised."""
    from pyrt.ops.commands.common import echo_json, guarded, open_facade

    facade = open_facade(config_dir)
    rows = guarded(lambda: facade.pnl(days))
    if as_json:
        echo_json(rows)
    else:
        typer.echo(render_table("P&L by day (UTC)", ("day", "realized", "unrealized", "fills", "notional"), rows))


def orders(
    open_only: bool = typer.Option(False, "--open", help="Only open orders."),
    since: str | None = typer.Option(None, "--since", help="Only orders submitted at or after this ISO date/time."),
    limit: int = typer.Option(100, "--limit", min=1, max=500, help="At most this many orders."),
    as_json: bool = JSON_OPTION,
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Orders at the broker (open ones from the execution engine when it is up)."""
    from pyrt.ops.commands.common import echo_json, guarded, open_facade
    from pyrt.ops.console.views import ORDER_COLUMNS, orders_view, parse_time

    if since is not None:
        try:
            parse_time(since)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--since") from None
    facade = open_facade(config_dir)
    rows = orders_view(guarded(lambda: facade.orders("open" if open_only else "all", limit)), since)
    if as_json:
        echo_json(rows)
    else:
        typer.echo(render_table("Open orders" if open_only else "Orders", ORDER_COLUMNS, rows))


def fills(
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="The newest this many fills."),
    as_json: bool = JSON_OPTION,
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """The newest fills from the order journal, oldest first."""
    from pyrt.ops.commands.common import echo_json, guarded, open_facade
    from pyrt.ops.console.views import FILL_COLUMNS

    facade = open_facade(config_dir)
    rows = guarded(lambda: facade.fills(limit))
    if as_json:
        echo_json(rows)
    else:
        typer.echo(render_table("Fills", FILL_COLUMNS, rows))


def register(app: typer.Typer) -> None:
    """Add the trader's views to `app`."""
    app.command("positions")(positions)
    app.command("pnl")(pnl)
    app.command("orders")(orders)
    app.command("fills")(fills)
