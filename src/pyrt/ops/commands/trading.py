"""Manual trading and positions: `pyrt trade`, `pyrt order`, `pyrt cancel`, `pyrt liquidate`
and `pyrt reconcile` (the implementations behind scripts/manual_trade.py, check_order.py,
liquidate_positions.py and reconcile_positions.py). Thin over the control facade, in
process; every action is audited as cli:<user> from cli@<host>."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import typer

from pyrt.ops.commands.common import CONFIG_DIR_OPTION

T = TypeVar("T")


def _decimal(text: str | None, hint: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise typer.BadParameter(f"{text!r} is not a number", param_hint=hint) from None
    if not value.is_finite() or value <= 0:
        raise typer.BadParameter("must be > 0", param_hint=hint)
    return value


def trade(
    symbol: str = typer.Option(..., "--symbol", help="e.g. AAPL"),
    action: str = typer.Option(..., "--action", help="buy or sell"),
    quantity: str = typer.Option(..., "--quantity", help="Shares."),
    order_type: str = typer.Option("market", "--order-type", help="market or limit"),
    limit_price: str | None = typer.Option(None, "--limit-price", help="Required for limit orders."),
    tif: str = typer.Option("day", "--tif", help="Time in force: day, gtc, ioc or fok."),
    reason: str = typer.Option("", "--reason", help="Why (audited)."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Send a manual order through the risk checks, like any strategy order.

    Prints the decision and the client_order_id; exit 1 when risk denies it."""
    from pyrt.ops.commands.common import cli_caller, guarded, open_facade

    action, order_type, tif = action.lower(), order_type.lower(), tif.lower()
    if action not in ("buy", "sell"):
        raise typer.BadParameter("buy or sell", param_hint="--action")
    if order_type not in ("market", "limit"):
        raise typer.BadParameter("market or limit", param_hint="--order-type")
    if tif not in ("day", "gtc", "ioc", "fok"):
        raise typer.BadParameter("day, gtc, ioc or fok", param_hint="--tif")
    qty = _decimal(quantity, "--quantity")
    price = _decimal(limit_price, "--limit-price")
    if order_type == "limit" and price is None:
        raise typer.BadParameter("a limit order needs --limit-price", param_hint="--limit-price")
    facade = open_facade(config_dir)
    assert qty is not None
    res = guarded(lambda: facade.submit_order(cli_caller(), symbol, action, qty, order_type, price, tif, reason))
    what = f"{action} {qty} {symbol.upper()} {order_type}" + (f" @ {price}" if price is not None else "")
    if res.get("outcome") == "unknown":  # review D5: may have been sent; never resend blindly
        typer.echo(f"OUTCOME UNKNOWN: {what}: {res['message']}")
    elif res["approved"]:
        typer.echo(f"APPROVED by risk: {what}")
    if res["approved"]:
        typer.echo(f"client_order_id: {res['client_order_id']}")
        typer.echo(f"check it with: pyrt order --order-id {res['client_order_id']}")
        return
    typer.echo(f"DENIED by risk: {what}: {res['reason_code']}: {res['message']}")
    typer.echo(f"client_order_id: {res['client_order_id']} (not sent)")
    raise typer.Exit(1)


def order(
    order_id: str = typer.Option(..., "--order-id", help="Our client_order_id or the broker's order id."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Status of one order at the broker: fills and average price."""
    from pyrt.ops.commands.common import echo_json, guarded, open_facade

    facade = open_facade(config_dir)
    o = guarded(lambda: facade.order(order_id))
    if as_json:
        echo_json(o)
        return
    price = f" @ {o['limit_price']}" if o["limit_price"] else ""
    typer.echo(f"order {o['client_order_id']} (broker id {o['id']})")
    typer.echo(
        f"  {o['side']} {o['qty']} {o['symbol']} {o['type']}{price} {o['time_in_force']}, submitted {o['submitted_at']}"
    )
    typer.echo(f"  status: {o['status']}")
    typer.echo(f"  filled: {o['filled_qty']} of {o['qty']}, average price: {o['filled_avg_price'] or '-'}")
    for f in o["fills"]:
        typer.echo(f"    fill {f['qty']} @ {f['price']} (execution {f['execution_id']})")


def cancel(
    order_id: str = typer.Option(..., "--order-id", help="Our client_order_id or the broker's order id."),
    reason: str = typer.Option("", "--reason", help="Why (audited)."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Cancel one open order (through the execution engine; at the broker when it is down)."""
    from pyrt.ops.commands.common import cli_caller, guarded, open_facade

    facade = open_facade(config_dir)
    res = guarded(lambda: facade.cancel_order(cli_caller(), order_id, reason))
    typer.echo(f"{res['detail']} (via {res['via']})")


def liquidate(
    confirm: bool = typer.Option(False, "--confirm", help="Really do it (without: show what it would do)."),
    reason: str = typer.Option("", "--reason", help="Why (audited)."),
    wait: float = typer.Option(15.0, "--wait", help="Seconds to wait for the fills."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Close every position with market orders (dry run without --confirm).

    Retrieves the positions, submits closing market orders, waits for the fills and
    reports the final P&L. Without --confirm only shows what it would do."""
    from pyrt.ops.commands.common import cli_caller, guarded, open_facade

    facade = open_facade(config_dir)
    res = guarded(lambda: facade.liquidate(cli_caller(), confirm, reason, wait))
    if res.get("dry_run"):
        plan = res["would_close"]
        typer.echo(f"DRY RUN: {len(plan)} positions would be closed with market orders:")
        for p in plan:
            typer.echo(f"  {p['side']} {p['qty']} {p['symbol']} (market value {p['market_value']})")
        open_orders = guarded(lambda: facade.orders("open", 500))
        if open_orders:
            typer.echo(f"(after cancelling the {len(open_orders)} open orders)")
        typer.echo("nothing done; run with --confirm to liquidate")
        return
    typer.echo(f"1. retrieved positions; 2. submitted {len(res['orders'])} closing market orders:")
    for o in res["orders"]:
        typer.echo(f"     {o['side']} {o['qty']} {o['symbol']} ({o['client_order_id']})")
    left = res["positions_left"]
    typer.echo(
        f"3. waited {res['elapsed_s']}s for the fills: {len(left)} positions left"
        + (": " + ", ".join(f"{p['symbol']} {p['qty']}" for p in left) if left else "")
    )
    final = res["final"]
    typer.echo(
        f"4. final: cash {final['cash']}, equity {final['equity']}"
        + (f", P&L {final['pnl_vs_start']}" if final.get("pnl_vs_start") is not None else "")
    )
    if not res["ok"]:
        raise typer.Exit(1)


def _with(ctx: AbstractContextManager[Any], fn: Callable[[], T]) -> T:
    with ctx:
        return fn()


def reconcile_lines(res: dict[str, Any]) -> tuple[list[str], int]:
    """The report of a reconciliation in the operations guide's format (with a diff line
    per discrepancy) and the number of discrepancies."""
    diffs: list[str] = []
    for symbol, d in res.get("position_diffs", {}).items():
        diffs += [f"- {symbol} local {d['local']}", f"+ {symbol} broker {d['broker']}"]
    for coid in res.get("orders_only_local", []):
        diffs.append(f"- order {coid} open locally, not at the broker")
    for coid in res.get("orders_only_broker", []):
        diffs.append(f"+ order {coid} open at the broker, not locally")
    count = (
        len(res.get("position_diffs", {}))
        + len(res.get("orders_only_local", []))
        + len(res.get("orders_only_broker", []))
    )
    lines = [
        "Reconciling positions with Alpaca...",
        f"Local positions: {len(res.get('local_positions', {}))}",
        f"Exchange positions: {len(res.get('broker_positions', {}))}",
        f"Discrepancies: {count}",
        *diffs,
        f"Status: {'OK' if count == 0 and res.get('ok', True) else 'MISMATCH'}",
    ]
    return lines, count


def reconcile(
    apply: bool = typer.Option(False, "--apply", help="Adopt the broker's positions (asks to confirm)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask (needed with --apply off a terminal)."),
    reason: str = typer.Option("", "--reason", help="Why (audited, with --apply)."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Compare our positions and open orders with the broker's; exit 1 on a mismatch.

    With --apply, adopt the broker's positions (asks to confirm, audited; needs the
    execution engine running). With the engine stopped the journal is compared directly."""
    from pyrt.ops.commands.common import cli_caller, guarded, open_facade
    from pyrt.ops.health import ADOPT_COMMAND
    from pyrt.ops.venue_up import reachable_venue

    facade = open_facade(config_dir)
    caller = cli_caller()
    venue = reachable_venue(facade.cfg, say=lambda m: typer.echo(m, err=True))
    res = guarded(lambda: _with(venue, lambda: facade.reconcile(caller)))
    lines, count = reconcile_lines(res)
    for line in lines:
        typer.echo(line)
    if res.get("via"):
        typer.echo(f"(compared {res['via']})", err=True)
    if count == 0 and res.get("ok", True):
        return
    if not apply:
        if res.get("position_diffs"):
            start = "start the system (./scripts/start_trading_system.sh --safe-mode), then " if res.get("via") else ""
            typer.echo(f"Next: to adopt the broker's positions as ours, {start}run: {ADOPT_COMMAND}")
        raise typer.Exit(1)
    if not yes:
        if not sys.stdin.isatty():
            typer.echo("--apply off a terminal needs --yes", err=True)
            raise typer.Exit(2)
        if not typer.confirm("Adopt the broker's positions as ours?", default=False):
            typer.echo("nothing changed")
            raise typer.Exit(1)
    applied = guarded(lambda: facade.reconcile(caller, apply=True, reason=reason))
    typer.echo(f"Adopted the broker's positions ({applied.get('detail')}); reconciling again:")
    lines, count = reconcile_lines(guarded(lambda: facade.reconcile(caller)))
    for line in lines:
        typer.echo(line)
    if count:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the manual-trading and positions commands to `app`."""
    app.command("trade")(trade)
    app.command("order")(order)
    app.command("cancel")(cancel)
    app.command("liquidate")(liquidate)
    app.command("reconcile")(reconcile)
