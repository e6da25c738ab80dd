"""`pyrt cache clear`: empty the market-data cache (cache/market_data/), as the guide's
"Clear Market Data Cache" task does by hand."""

from __future__ import annotations

from pathlib import Path

import typer

from pyrt.ops.commands.common import CONFIG_DIR_OPTION, load_or_exit


def register(app: typer.Typer) -> None:
    cache = typer.Typer(help="The market-data cache (recent bars per symbol).", no_args_is_help=True)

    @cache.command("clear")
    def clear(
        config_dir: Path = CONFIG_DIR_OPTION,
        force: bool = typer.Option(False, "--force", help="Clear even while market-data runs."),
    ) -> None:
        """Delete every file in cache/market_data/ (stop market-data first, as the guide says)."""
        from pyrt.ops.status import live_pid

        cfg = load_or_exit(config_dir)
        if live_pid(cfg, "market_data") is not None and not force:
            typer.echo("market-data is running: stop it first (it rewrites the cache), or use --force", err=True)
            raise typer.Exit(1)
        directory = Path(cfg.system.market_data.cache_dir)
        removed = 0
        if directory.is_dir():
            for path in directory.iterdir():
                if path.is_file():
                    path.unlink()
                    removed += 1
        typer.echo(f"cleared {removed} cached files from {directory}")

    app.add_typer(cache, name="cache")
