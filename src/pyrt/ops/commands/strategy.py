"""`pyrt strategy new NAME`: a commented strategy template and its test in
`<config dir>/strategies/`, ready for the signal bridge and `pyrt backtest`."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from pyrt.ops.commands.common import CONFIG_DIR_OPTION, EXIT_REFUSED, EXIT_USAGE

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part)


def register(app: typer.Typer) -> None:
    strategy = typer.Typer(help="Strategies of your own.", no_args_is_help=True)

    @strategy.command("new")
    def new(
        name: str = typer.Argument(..., help="Module and strategy name: letters, digits, '_' (max 15)."),
        config_dir: Path = CONFIG_DIR_OPTION,
        force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
    ) -> None:
        """Write strategies/NAME.py (a commented breakout strategy) and strategies/test_NAME.py."""
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,14}", name):
            typer.echo("error: NAME: 1-15 lower-case letters, digits or '_', starting with a letter", err=True)
            raise typer.Exit(EXIT_USAGE)
        folder = config_dir / "strategies"
        files = {folder / f"{name}.py": "strategy.py.txt", folder / f"test_{name}.py": "strategy_test.py.txt"}
        existing = [p for p in files if p.exists()]
        if existing and not force:
            typer.echo(f"error: {', '.join(map(str, existing))} exists (use --force to overwrite)", err=True)
            raise typer.Exit(EXIT_REFUSED)
        folder.mkdir(parents=True, exist_ok=True)
        for path, template in files.items():
            text = (_TEMPLATES / template).read_text()
            text = text.replace("__CLASS__", class_name(name)).replace("__NAME__", name)
            path.write_text(text.replace("__TEST_PATH__", str(folder / f"test_{name}.py")))
        typer.echo(f"wrote {', '.join(map(str, files))}")
        typer.echo(
            f'add to {config_dir}/system.json signals.strategies: {{"name": "{name}", "kind": "{name}:{class_name(name)}", '
            '"symbols": ["AAPL"], "params": {"lookback": 20, "trade_size": 10}, "enabled": false}'
        )

    app.add_typer(strategy, name="strategy")
