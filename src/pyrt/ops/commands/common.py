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

CONFIG_DIR_OPTION = typer.Option(
    Path("config"), "--config-dir", envvar="PYRT_CONFIG_DIR", help="Configuration directory (env PYRT_CONFIG_DIR)."
)

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


def load_or_exit(config_dir: Path) -> AppConfig:
    """The config, checked as a whole application (``bootstrap.load_app``: the strategy
    specs too), or exit 2 listing every problem."""
    from pyrt.bootstrap import load_app
    from pyrt.config import ConfigError

    try:
        return load_app(config_dir)
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


def cli_answer(exc: Exception) -> tuple[int, str]:
    """The one mapping of errors to exit codes and messages, by the group of
    ``pyrt.domain.errors``: refused 1 (an ActionError the service did not answer: 3), bad
    input and needs-an-operator 2, retryable 3."""
    from pyrt.bus.zmq import RequestTimeout
    from pyrt.domain.errors import BadInput, NeedsOperator, Refused, Retryable
    from pyrt.ops.facade import ActionError
    from pyrt.venues.port import VenueError

    if isinstance(exc, ActionError):
        return (EXIT_UNAVAILABLE if exc.status == 503 else EXIT_REFUSED), f"refused: {exc}"
    if isinstance(exc, RequestTimeout):
        return EXIT_UNAVAILABLE, "a service did not answer (is the system running? see `pyrt status`)"
    what = "broker error" if isinstance(exc, VenueError) else "error"
    if isinstance(exc, Refused):
        return EXIT_REFUSED, f"refused: {what}: {exc}"
    if isinstance(exc, (BadInput, NeedsOperator)):
        return EXIT_USAGE, f"{what}: {exc}"
    if isinstance(exc, Retryable):
        return EXIT_UNAVAILABLE, f"{what}: {exc} (try again later)"
    return EXIT_UNAVAILABLE, f"{what}: {exc}"


def guarded(fn: Callable[[], T]) -> T:
    """Run a facade call; an error of py_rt exits as `cli_answer` says, with the reason on
    stderr."""
    from pyrt.domain.errors import PyrtError

    try:
        return fn()
    except PyrtError as exc:
        code, message = cli_answer(exc)
        typer.echo(message, err=True)
        raise typer.Exit(code) from None


def echo_json(data: Any) -> None:
    """Pretty JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, default=str))
