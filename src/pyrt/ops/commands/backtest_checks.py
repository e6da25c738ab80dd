"""`pyrt backtest check-lookahead` and `pyrt backtest check-warmup`: the configured strategies
rerun on cut or late-started bars (`pyrt.research.lookahead` / `warmup` hold the rules).
Exit 0: the check passed (warm-up: always, it reports); 1: a decision changed when the data
was cut (the first one is printed); 2: bad usage, config or data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from pyrt.ops.commands.backtest_flags import FILL_AT_OPTION, FROM_OPTION, TO_OPTION, parse_date
from pyrt.ops.commands.common import CONFIG_DIR_OPTION, EXIT_REFUSED, EXIT_USAGE

DATA_OPTION = typer.Option([], "--data", help="CSV/Parquet bar files or folders.")
STRATEGY_OPTION = typer.Option([], "--strategy", help="Strategy name in system.json (repeatable; default: enabled).")
JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON.")


class _Setup:
    """What both checks need: the config's chosen specs, the bars, and a runner that
    builds fresh strategies for every run (strategies keep state)."""

    def __init__(self, config_dir: Path, data: list[str], strategies: list[str], start: str | None,
                 end: str | None, fill_at: str) -> None:  # fmt: skip
        from pyrt.backtest.data import load_bars
        from pyrt.backtest.run import chosen_specs
        from pyrt.backtest.settings import BacktestSettings, SettingsError
        from pyrt.ops.commands.common import load_or_exit
        from pyrt.services.signals.strategies.registry import build_strategies, strategies_dir

        self.cfg = load_or_exit(config_dir)
        if not data:
            raise SettingsError("data: give --data PATH (CSV or Parquet files or folders)")
        self.specs = chosen_specs(self.cfg, strategies)
        self._build, self._dir = build_strategies, strategies_dir(self.cfg)
        symbols = sorted({s for spec in self.specs for s in spec["symbols"]})
        self.data = load_bars(data, start=parse_date(start, "--from"), end=parse_date(end, "--to"), symbols=symbols)
        # decisions only: positions left at the end are not closed (those intents are the engine's)
        self.settings = BacktestSettings(fill_at=fill_at, close_at_end=False)  # type: ignore[arg-type]
        self.execution = self.cfg.system.execution

    def run(self, data: Any, specs: list[dict[str, Any]] | None = None) -> Any:
        from pyrt.backtest.engine import Backtest

        strategies = self._build(specs if specs is not None else self.specs, self._dir)
        return Backtest(strategies, self.cfg.risk, data, self.settings, self.execution).run()

    def run_one(self, name: str, data: Any) -> Any:
        return self.run(data, [s for s in self.specs if s["name"] == name])


def _setup_or_exit(*args: Any) -> _Setup:
    from pyrt.domain.errors import BadInput

    try:
        return _Setup(*args)
    except (BadInput, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def register(app: typer.Typer) -> None:
    from pyrt.ops.commands.backtest import BACKTEST

    @BACKTEST.command("check-lookahead")
    def check_lookahead(
        config_dir: Path = CONFIG_DIR_OPTION,
        data: list[str] = DATA_OPTION,
        strategy: list[str] = STRATEGY_OPTION,
        start: str | None = FROM_OPTION,
        end: str | None = TO_OPTION,
        fill_at: str = FILL_AT_OPTION,
        cuts: int = typer.Option(20, "--cuts", min=1, help="How many cut points, spread over the data."),
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Rerun the strategies on the data cut at many points; fail when a decision made up to
        a cut differs from the full run's (the strategy used bars it could not have seen)."""
        from pyrt.domain.clock import iso_utc
        from pyrt.research.lookahead import check_lookahead as check

        setup = _setup_or_exit(config_dir, data, strategy, start, end, fill_at)
        try:
            report = check(setup.run, setup.data, cuts)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        names = ", ".join(s["name"] for s in setup.specs)
        if as_json:
            typer.echo(json.dumps({"strategies": [s["name"] for s in setup.specs], **report.to_dict()}, indent=2))
        elif report.passed:
            typer.echo(
                f"look-ahead check passed: {names}: {report.reference_decisions} decisions, "
                f"the same up to each of {len(report.cuts)} cuts"
            )
        else:
            first = report.first
            assert first is not None
            typer.echo(
                f"LOOK-AHEAD: {len(report.differences)} of {len(report.cuts)} cuts changed a decision made before them\n"
                f"first: strategy {first.strategy}, symbol {first.symbol}, bar {iso_utc(first.bar_ns)} "
                f"(data cut after {iso_utc(first.cut_ns)}): {first.what}"
            )
        if not report.passed:
            raise typer.Exit(EXIT_REFUSED)

    @BACKTEST.command("check-warmup")
    def check_warmup(
        config_dir: Path = CONFIG_DIR_OPTION,
        data: list[str] = DATA_OPTION,
        strategy: list[str] = STRATEGY_OPTION,
        start: str | None = FROM_OPTION,
        end: str | None = TO_OPTION,
        fill_at: str = FILL_AT_OPTION,
        starts: int = typer.Option(10, "--starts", min=1, help="How many late starts, over the data's first half."),
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Report how many bars each strategy needs before its decisions stop depending on
        where the data starts (each strategy alone, started at later bars)."""
        from pyrt.research.warmup import check_warmup as check

        setup = _setup_or_exit(config_dir, data, strategy, start, end, fill_at)
        try:
            results = check(setup.run_one, [s["name"] for s in setup.specs], setup.data, starts)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        if as_json:
            typer.echo(json.dumps({"timeframe": setup.data.timeframe, "strategies": [r.to_dict() for r in results]},
                                  indent=2))  # fmt: skip
            return
        typer.echo(f"{'STRATEGY':<16} {'WARM-UP BARS':>12} {'FIRST DECISION AFTER':>21}  STARTS")
        for r in results:
            warm = f"{r.warmup_bars}" if r.reached else f">= {r.warmup_bars}"
            silent = "-" if r.silent_bars is None else f"{r.silent_bars} bars"
            typer.echo(f"{r.strategy:<16} {warm:>12} {silent:>21}  {len(r.per_offset)}")
        typer.echo(
            f"({setup.data.timeframe} bars; warm-up: bars from a late start until its decisions are the full run's)"
        )
