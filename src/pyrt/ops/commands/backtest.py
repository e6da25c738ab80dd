"""`pyrt backtest`: run the configured strategies on history with the live cores, and write
the report files (report.json, fills.csv, trades.csv, equity.csv, orders.csv, report.html)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from pyrt.ops.commands.backtest_flags import (
    CASH_OPTION,
    FEES_OPTION,
    FILL_AT_OPTION,
    FROM_OPTION,
    SLIPPAGE_OPTION,
    SPREAD_OPTION,
    TO_OPTION,
    parse_date,
    parse_decimal,
    run_settings,
)
from pyrt.ops.commands.common import CONFIG_DIR_OPTION, EXIT_USAGE

BACKTEST = typer.Typer(
    help="Backtest the configured strategies on history, with the live strategy, risk and execution cores.",
    invoke_without_command=True,
)
"""`pyrt backtest`; research subcommands (sweep, walk-forward, checks, replay) add themselves
to it from their own modules (`backtest_*.py` here)."""


def register(app: typer.Typer) -> None:
    bt = BACKTEST

    @bt.callback()
    def backtest(
        ctx: typer.Context,
        config_dir: Path = CONFIG_DIR_OPTION,
        data: list[str] = typer.Option(
            [], "--data", help="CSV/Parquet bar files or folders; or alpaca:SYM,SYM (downloaded once, cached)."
        ),
        start: str | None = FROM_OPTION,
        end: str | None = TO_OPTION,
        fill_at: str = FILL_AT_OPTION,
        cash: str = CASH_OPTION,
        fees: str = FEES_OPTION,
        fee_per_share: str = typer.Option("0", "--fee-per-share", help="Commission per share (USD)."),
        fee_per_order: str = typer.Option("0", "--fee-per-order", help="Commission per order (USD)."),
        spread_bps: float = SPREAD_OPTION,
        slippage_bps: str = SLIPPAGE_OPTION,
        volume_share: float | None = typer.Option(None, "--volume-share", help="Max share of a bar's volume filled."),
        session: str = typer.Option("auto", "--session", help="auto, regular (Alpaca's hours) or 24h."),
        strategy: list[str] = typer.Option([], "--strategy", help="Strategy name in system.json (repeatable)."),
        not_shortable: str = typer.Option("", "--not-shortable", help="Symbols that cannot be sold short (A,B)."),
        no_shorting: bool = typer.Option(False, "--no-shorting", help="No symbol can be sold short."),
        keep_open: bool = typer.Option(False, "--keep-open", help="Do not close positions at the end of the data."),
        skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help="Drop bad data rows (listed in the report)."),
        timeframe: str = typer.Option("1Day", "--timeframe", help="Bar size for alpaca: downloads (1Min...1Day)."),
        out: Path | None = typer.Option(None, "--out", help="Folder for the report files."),
        as_json: bool = typer.Option(False, "--json", help="Print the report's summary as JSON."),
    ) -> None:
        if ctx.invoked_subcommand is not None:
            return
        if out is None:
            raise typer.BadParameter("the folder for the report files is required", param_hint="--out")
        from pyrt.backtest.run import RunRequest
        from pyrt.domain.errors import BadInput
        from pyrt.ops.commands.common import load_or_exit

        cfg = load_or_exit(config_dir)
        try:
            settings = run_settings(
                cash,
                fill_at,
                fees,
                spread_bps,
                slippage_bps,
                fee_per_share=parse_decimal(fee_per_share, "--fee-per-share"),
                fee_per_order=parse_decimal(fee_per_order, "--fee-per-order"),
                volume_share=volume_share,
                session=session,
                allow_shorting=not no_shorting,
                not_shortable=frozenset(s.strip() for s in not_shortable.split(",") if s.strip()),
                close_at_end=not keep_open,
            )
            req = RunRequest(
                config_dir=config_dir,
                data=tuple(data),
                settings=settings,
                strategies=tuple(strategy),
                start=parse_date(start, "--from"),
                end=parse_date(end, "--to"),
                skip_bad_rows=skip_bad_rows,
                timeframe=timeframe,
            )
            result = _run_with_progress(req, cfg, quiet=as_json)
        except (BadInput, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        _write_and_show(result, out, as_json)

    app.add_typer(bt, name="backtest")


def _run_with_progress(req: Any, cfg: Any, *, quiet: bool) -> Any:
    """Run, with a progress bar on a terminal for long runs."""
    import sys

    from pyrt.backtest.run import build_backtest

    engine = build_backtest(req, cfg)
    total = len(engine.data)
    if quiet or total < 200_000 or not sys.stderr.isatty():
        return engine.run()
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("backtest"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} bars"), TimeRemainingColumn()
    ) as bar:
        task = bar.add_task("bars", total=total)
        return engine.run(lambda n: bar.update(task, completed=n))


def _write_and_show(result: Any, out: Path, as_json: bool) -> None:
    import json

    from pyrt.backtest.report import write_report

    report = write_report(result, out)
    if as_json:
        typer.echo(json.dumps(report.get("summary", report), indent=2, sort_keys=True))
        return
    from pyrt.backtest.terminal import print_summary

    print_summary(report)
    typer.echo(f"report: {out / 'report.html'} (and report.json, fills.csv, trades.csv, equity.csv, orders.csv)")
