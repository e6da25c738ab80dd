"""Pieces every `pyrt` command shares: the --config-dir option and loading the config
(exit 2 listing every problem)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from pyrt.config import AppConfig

CONFIG_DIR_OPTION = typer.Option(Path("config"), "--config-dir", envvar="PYRT_CONFIG_DIR",
                                 help="Configuration directory (env PYRT_CONFIG_DIR).")


def load_or_exit(config_dir: Path) -> AppConfig:
    """The config, or exit 2 listing every problem."""
    from pyrt.config import ConfigError, load_config

    try:
        return load_config(config_dir)
    except ConfigError as exc:
        typer.echo(f"configuration error in {config_dir}:\n{exc}", err=True)
        raise typer.Exit(2) from exc
