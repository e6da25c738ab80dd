"""`pyrt backtest replay --date D`: the day recorded by market data (`market_data.record`)
run through the backtester with the live config, diffed against the journal
(`pyrt.research.replay` holds the rules). Prints a table, writes a JSON (default
`<data>/replay/<D>.json`) and `run/last_replay.json` (the control process's
`backtest_replay_mismatches{kind}` gauges). Exit 0 when the mismatches are at most
`--max-mismatches` (default 0), 1 when more, 2 on bad usage, config or a missing recording."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from pyrt.ops.commands.common import CONFIG_DIR_OPTION, EXIT_REFUSED, EXIT_USAGE


def register(app: typer.Typer) -> None:
    from pyrt.ops.commands.backtest import BACKTEST

    @BACKTEST.command("replay")
    def replay(
        day: str = typer.Option(..., "--date", help="The recorded trading day (YYYY-MM-DD, New York)."),
        config_dir: Path = CONFIG_DIR_OPTION,
        strategy: list[str] = typer.Option([], "--strategy", help="Strategy name (repeatable; default: enabled)."),
        out: Path | None = typer.Option(None, "--out", help="The JSON file to write (default <data>/replay/D.json)."),
        match_window_s: float = typer.Option(120.0, "--match-window-s", help="Live intent within this of the bar."),
        max_price_gap_bps: float = typer.Option(10.0, "--max-price-gap-bps", help="A larger fill price gap counts."),
        max_time_gap_s: float = typer.Option(120.0, "--max-time-gap-s", help="A larger fill time gap counts."),
        max_mismatches: int = typer.Option(0, "--max-mismatches", help="Exit 1 when there are more mismatches."),
        as_json: bool = typer.Option(False, "--json", help="Print the JSON instead of the table."),
    ) -> None:
        """Replay a recorded day through the backtester and diff it against the journal:
        missed or extra intents, fill price gaps (bps) and fill time gaps."""
        from pyrt.domain.errors import BadInput
        from pyrt.ops.commands.backtest_flags import parse_date
        from pyrt.ops.commands.common import load_or_exit

        cfg = load_or_exit(config_dir)
        when = parse_date(day, "--date")
        assert when is not None
        try:
            result, path = _replay(cfg, when, strategy, out, match_window_s, max_price_gap_bps, max_time_gap_s,
                                   max_mismatches)  # fmt: skip
        except (BadInput, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            _print_table(result, path)
        if not result["passed"]:
            raise typer.Exit(EXIT_REFUSED)


def _replay(cfg: Any, day: Any, names: list[str], out: Path | None, window: float, gap_bps: float, gap_s: float,
            max_mismatches: int) -> tuple[dict[str, Any], Path]:  # fmt: skip
    from pyrt.ops.replay_metrics import write_last_replay
    from pyrt.research.replay import Thresholds
    from pyrt.research.replay_run import run_replay

    result, payload = run_replay(cfg, day, names, Thresholds(window, gap_bps, gap_s, max_mismatches))
    path = out or Path(cfg.system.paths.data_dir) / "replay" / f"{day.isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    write_last_replay(cfg, day.isoformat(), result.mismatches(), result.passed)
    return payload, path


def _print_table(r: dict[str, Any], path: Path) -> None:
    typer.echo(f"replay of {r['date']}: {', '.join(r['strategies'])} on {r['bars']} recorded bars")
    typer.echo(f"{'KIND':<10} {'COUNT':>6}")
    for kind, n in r["mismatches"].items():
        typer.echo(f"{kind:<10} {n:>6}")
    typer.echo(f"{'matched':<10} {r['matched']:>6}")
    px, ts = r["price_gap_bps"], r["time_gap_s"]
    if px["median"] is not None:
        typer.echo(
            f"fill price gap (live vs backtest, adverse +): median {px['median']:.2f} bps, max |{px['max_abs']:.2f}| bps"
        )
    fq = r["fill_vs_quote_bps"]
    if fq["median"] is not None:
        typer.echo(f"live fills against the recorded quote (slippage, adverse +): median {fq['median']:.2f} bps "
                   f"over {fq['fills']} fills")  # fmt: skip
    if ts["median"] is not None:
        typer.echo(f"fill time gap: median {ts['median']:.1f} s, max |{ts['max_abs']:.1f}| s")
    for i in r["missed"][:10]:
        typer.echo(f"  missed: {i['strategy']} {i['side']} {i['qty']} {i['symbol']} at {i['time']} (backtest only)")
    for i in r["extra"][:10]:
        typer.echo(f"  extra:  {i['strategy']} {i['side']} {i['qty']} {i['symbol']} at {i['time']} (live only)")
    for note in r["notes"]:
        typer.echo(f"note: {note}")
    verdict = "PASS" if r["passed"] else "FAIL"
    typer.echo(
        f"{verdict}: {r['total_mismatches']} mismatch(es), at most {r['thresholds']['max_mismatches']} allowed; {path}"
    )
