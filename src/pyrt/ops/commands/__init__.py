"""`pyrt` subcommands grouped by topic, one module each. Every module defines
`register(app: typer.Typer) -> None`; the CLI registers all modules found here, so adding a
topic never means editing cli.py. Keep imports inside the command functions (start-up of
the CLI must stay fast)."""

from __future__ import annotations

import importlib
import pkgutil

import typer


def register_all(app: typer.Typer) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)
