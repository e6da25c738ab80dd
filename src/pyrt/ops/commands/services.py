"""Per-service control of a running system: `pyrt start|stop|restart SERVICE` (the guide's
per-service steps: restart the signal bridge, stop market data to clear its cache). Each is
a request to the `pyrt up` supervisor through the control facade (the same implementation
as POST /services/{name}/{action}); a stopped service stays down, even across crashes of
the others, until `pyrt start`. Exit codes: 0 done; 1 refused; 2 unknown service; 3 the
system is not running."""

from __future__ import annotations

from pathlib import Path

import typer

from pyrt.ops.commands.common import CONFIG_DIR_OPTION

SERVICE_ARG = typer.Argument(
    ..., help="market-data, risk-manager, execution-engine, signal-bridge, control or sim-broker."
)


def _control(action: str, service: str, reason: str, config_dir: Path) -> None:
    from pyrt.ops.commands.common import cli_caller, guarded, open_facade
    from pyrt.ops.service_control import UnknownService, valid_service

    facade = open_facade(config_dir)
    try:
        name = valid_service(facade.cfg, service)
    except UnknownService as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    res = guarded(lambda: facade.service_control(cli_caller(), action, name, reason))
    typer.echo(res["detail"])


def register(app: typer.Typer) -> None:
    @app.command("start")
    def start_cmd(
        service: str = SERVICE_ARG,
        reason: str = typer.Option("", "--reason", help="Why (audited)."),
        config_dir: Path = CONFIG_DIR_OPTION,
    ) -> None:
        """Start a service of the running system that was stopped (`pyrt stop`, emergency
        stop); returns once it is ready."""
        _control("start", service, reason, config_dir)

    @app.command("stop")
    def stop_cmd(
        service: str = SERVICE_ARG,
        reason: str = typer.Option("", "--reason", help="Why (audited)."),
        config_dir: Path = CONFIG_DIR_OPTION,
    ) -> None:
        """Stop one service (SIGTERM, SIGKILL after the grace); the supervisor leaves it down
        until `pyrt start SERVICE`."""
        _control("stop", service, reason, config_dir)

    @app.command("restart")
    def restart_cmd(
        service: str = SERVICE_ARG,
        reason: str = typer.Option("", "--reason", help="Why (audited)."),
        config_dir: Path = CONFIG_DIR_OPTION,
    ) -> None:
        """Stop one service and start it again; returns once it is ready (not counted as a
        crash)."""
        _control("restart", service, reason, config_dir)
