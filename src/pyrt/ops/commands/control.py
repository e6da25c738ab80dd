"""Trading controls: `pyrt breaker activate|deactivate`, `pyrt trading enable|disable`,
`pyrt emergency-stop`, `pyrt cancel-all` and `pyrt audit`. Thin over the control facade,
in process (the same implementation as the REST API); every action is audited as
cli:<user> from cli@<host>."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from pyrt.ops.commands.common import CONFIG_DIR_OPTION

breaker_app = typer.Typer(no_args_is_help=True, help="Activate or deactivate the circuit breaker.")
trading_app = typer.Typer(no_args_is_help=True, help="Enable or disable automatic trading (safe mode).")


@breaker_app.command("activate")
def breaker_activate(
    reason: str = typer.Option("", "--reason", help="Why (audited)."),
    mode: str = typer.Option("HALTED", "--mode", help="HALTED (no order passes) or REDUCING (only reducing orders)."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Activate the circuit breaker: new orders are refused."""
    from pyrt.ops.commands.common import cli_caller, guarded, open_facade

    if mode.upper() not in ("HALTED", "REDUCING"):
        raise typer.BadParameter("HALTED or REDUCING", param_hint="--mode")
    facade = open_facade(config_dir)
    res = guarded(lambda: facade.breaker_activate(cli_caller(), reason, mode.upper()))
    typer.echo(res["detail"])


@breaker_app.command("deactivate")
def breaker_deactivate(
    reason: str = typer.Option("", "--reason", help="Why (required, audited)."),
    force: bool = typer.Option(False, "--force", help="Even though the trigger still holds (cooldown)."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Deactivate the circuit breaker (a --reason is required)."""
    from pyrt.ops.commands.common import cli_caller, guarded, open_facade

    facade = open_facade(config_dir)
    res = guarded(lambda: facade.breaker_deactivate(cli_caller(), reason, force))
    typer.echo(res["detail"])


def _set_trading(enabled: bool, reason: str, config_dir: Path) -> None:
    from pyrt.ops.commands.common import cli_caller, guarded, open_facade

    facade = open_facade(config_dir)
    res = guarded(lambda: facade.set_trading(cli_caller(), enabled, reason))
    typer.echo(res["detail"])


@trading_app.command("enable")
def trading_enable(
    reason: str = typer.Option("", "--reason", help="Why (audited)."), config_dir: Path = CONFIG_DIR_OPTION
) -> None:
    """Resume automatic trading (leave safe mode)."""
    _set_trading(True, reason, config_dir)


@trading_app.command("disable")
def trading_disable(
    reason: str = typer.Option("", "--reason", help="Why (audited)."), config_dir: Path = CONFIG_DIR_OPTION
) -> None:
    """Stop automatic trading: strategies compute signals but send no orders."""
    _set_trading(False, reason, config_dir)


def _step_summary(step: dict[str, Any]) -> str:
    name = step["step"]
    if "error" in step:
        return step["error"]
    if name == "halt_trading":
        return (
            f"execution halted: {_yes(step.get('execution_halted'))}, breaker active: "
            f"{_yes(step.get('breaker_active'))}, automatic trading off: {_yes(step.get('safe_mode'))}"
        )
    if name == "cancel_orders":
        return f"{step.get('open_orders_after')} open orders left at the broker (via {step.get('via', '?')})"
    if name == "stop_services":
        return "".join(f"\n       {line}" for line in step.get("stopped", []))
    if name == "notify":
        channels = step.get("channels")
        if channels is None:
            return step.get("detail", "")
        return (
            ", ".join(f"{c['channel']} {'sent' if c['ok'] else 'FAILED: ' + str(c['error'])}" for c in channels)
            or "no channel configured"
        )
    return ""


def _yes(flag: Any) -> str:
    return "yes" if flag else "NO"


def emergency_stop(
    reason: str = typer.Option("", "--reason", help="Why (audited, in the alert)."),
    keep_services: bool = typer.Option(False, "--keep-services", help="Do not stop the trading services."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """The kill switch: halt, cancel all orders, stop the trading services, alert.

    1) halt trading (breaker HALTED, execution halted, automatic trading off); 2) cancel
    every open order and wait for the broker to confirm zero; 3) stop the four trading
    services (control and the venue stay up); 4) send the alerts. Each step is timed.
    Exit 0 only if the broker confirmed zero open orders."""
    from pyrt.ops.commands.common import cli_caller, guarded, open_facade

    facade = open_facade(config_dir, notify=True)
    typer.echo(f"EMERGENCY STOP: {reason or 'emergency stop'}")
    res = guarded(lambda: facade.emergency_stop(cli_caller(), reason, stop_services=not keep_services))
    for i, step in enumerate(res["steps"], 1):
        typer.echo(
            f"  {i}. {step['step']:<14} {step['duration_ms']:>9.1f} ms  {'ok  ' if step.get('ok') else 'FAIL'}  "
            f"{_step_summary(step)}"
        )
    total = sum(s["duration_ms"] for s in res["steps"])
    cancel: dict[str, Any] = next((s for s in res["steps"] if s["step"] == "cancel_orders"), {})
    if cancel.get("ok") and cancel.get("open_orders_after") == 0:
        typer.echo(f"done in {total:.1f} ms: the broker confirms zero open orders")
        for line in RESUME_ADVICE:
            typer.echo(line)
        return
    typer.echo(
        f"!!! after {total:.1f} ms the broker does NOT confirm zero open orders: check "
        "`pyrt orders --open` and retry `pyrt cancel-all` (or ./scripts/emergency_stop.sh again)",
        err=True,
    )
    raise typer.Exit(1)


RESUME_ADVICE = (
    "To resume, once the cause is fixed:",
    "  1. ./scripts/restart_trading_system.sh --safe-mode      the trading services start, automatic trading off",
    '  2. pyrt breaker deactivate --reason "<why it is safe>"  the breaker stays active across restarts',
    "  3. ./scripts/health_check.sh                            exit 0 when nothing blocks trading any more",
    '  4. pyrt trading enable --reason "<why>"                 or POST /api/v1/trading/enable with the token',
)
"""What `pyrt emergency-stop` prints after a confirmed stop: the commands that resume."""


def cancel_all(
    reason: str = typer.Option("", "--reason", help="Why (audited)."),
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds to wait for the broker's zero."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Cancel every open order and wait for the broker to confirm none is left.

    Exit 1 if open orders remain after --timeout."""
    from pyrt.ops.commands.common import cli_caller, guarded, open_facade

    facade = open_facade(config_dir)
    res = guarded(lambda: facade.cancel_all(cli_caller(), reason, timeout))
    left = res.get("open_orders_after")
    typer.echo(f"{left} open orders left at the broker after {res.get('elapsed_ms')} ms (via {res.get('via')})")
    if not res.get("ok"):
        raise typer.Exit(1)


def audit(
    lines: int = typer.Option(50, "-n", "--lines", min=1, help="How many of the newest entries."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """List the audit log: who did what, from where, when, why, and the result."""
    import time

    from pyrt.ops.audit import AuditLog
    from pyrt.ops.commands.common import echo_json, load_or_exit

    entries = AuditLog(load_or_exit(config_dir).system.execution.journal_path).entries(lines)
    if as_json:
        echo_json(entries)
        return
    if not entries:
        typer.echo("no audit entries")
    for e in entries:
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.get("at", 0)))
        result = e.get("result") or {}
        if "approved" in result:
            outcome = "approved" if result["approved"] else f"denied {result.get('reason_code', '')}"
        else:
            outcome = "ok" if result.get("ok") else "FAILED"
        typer.echo(
            f"{e['seq']:>6}  {at}  {e['who']:<16} {e['from']:<22} {e['action']:<26} {outcome:<22} {e.get('reason', '')}"
        )


def register(app: typer.Typer) -> None:
    """Add the trading-control commands to `app`."""
    app.add_typer(breaker_app, name="breaker")
    app.add_typer(trading_app, name="trading")
    app.command("emergency-stop")(emergency_stop)
    app.command("cancel-all")(cancel_all)
    app.command("audit")(audit)
