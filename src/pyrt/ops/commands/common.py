"""What every `pyrt` command shares: the --config-dir option and loading the config (exit 2
listing every problem); for the operator commands (control.py, trading.py) also the
in-process control facade of a config, the audited CLI caller, and the one mapping of
errors to exit codes.

Exit codes: 0 done; 1 refused, denied or a mismatch; 2 bad usage or configuration; 3 a
service or the broker did not answer."""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from pyrt.config import AppConfig
    from pyrt.ops.audit import Caller
    from pyrt.ops.facade import ControlFacade

T = TypeVar("T")

CONFIG_DIR_OPTION = typer.Option(Path("config"), "--config-dir", envvar="PYRT_CONFIG_DIR",
                                 help="Configuration directory (env PYRT_CONFIG_DIR).")

EXIT_REFUSED = 1
EXIT_UNAVAILABLE = 3


def load_or_exit(config_dir: Path) -> AppConfig:
    """The config, or exit 2 listing every problem."""
    from pyrt.config import ConfigError, load_config

    try:
        return load_config(config_dir)
    except ConfigError as exc:
        typer.echo(f"configuration error in {config_dir}:\n{exc}", err=True)
        raise typer.Exit(2) from exc


def cli_caller() -> Caller:
    """Who runs this CLI: cli:<user> from cli@<host>."""
    from pyrt.ops.audit import Caller

    return Caller(name=f"cli:{getpass.getuser()}", source=f"cli@{socket.gethostname()}")


def _log_to_file(cfg: AppConfig) -> None:
    """Log (the audit lines among others) to logs/cli.log only: the terminal gets the
    command's own output."""
    import logging

    from pyrt.observability.logging import setup_logging

    setup_logging("cli", cfg.system.paths.logs_dir, "INFO")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if not isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)


def open_facade(config_dir: Path, notify: bool = False) -> ControlFacade:
    """The control facade of the config in `config_dir` (exit 2 if it does not load); with
    `notify`, wired to the configured notification channels."""
    from pyrt.ops.facade import ControlFacade

    cfg = load_or_exit(config_dir)
    _log_to_file(cfg)
    notifier = None
    if notify:
        from pyrt.ops.notify import notifier_from_config

        notifier = notifier_from_config(cfg)
    return ControlFacade(cfg, notifier=notifier)


def guarded(fn: Callable[[], T]) -> T:
    """Run a facade call; a refusal exits 1 (3 when a service or the broker is not
    answering) with the reason on stderr."""
    from pyrt.bus.zmq import RequestTimeout
    from pyrt.ops.facade import ActionError
    from pyrt.venues.port import VenueError

    try:
        return fn()
    except ActionError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(EXIT_UNAVAILABLE if exc.status == 503 else EXIT_REFUSED) from None
    except RequestTimeout:
        typer.echo("a service did not answer (is the system running? see `pyrt status`)", err=True)
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    except VenueError as exc:
        typer.echo(f"broker error: {exc}", err=True)
        raise typer.Exit(EXIT_UNAVAILABLE) from None


def echo_json(data: Any) -> None:
    """Pretty JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, default=str))
