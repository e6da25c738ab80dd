"""`pyrt model train|deploy|rollback|list|show`: the ML path (see README "Train, backtest
and deploy a model"). Training imports scikit-learn and skl2onnx inside the command only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import typer

from pyrt.ops.commands.common import CONFIG_DIR_OPTION, EXIT_REFUSED, EXIT_USAGE, load_or_exit


def _day_ns(text: str, flag: str) -> int:
    try:
        day = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected YYYY-MM-DD", param_hint=flag) from None
    if day.tzinfo is None:
        day = day.replace(tzinfo=UTC)
    return int(day.timestamp() * 1e9)


def register(app: typer.Typer) -> None:
    model = typer.Typer(help="Train, deploy, roll back and list ONNX models.", no_args_is_help=True)

    @model.command("train")
    def train_cmd(
        data: list[Path] = typer.Option([], "--data", help="CSV or Parquet bar files (repeatable)."),
        symbols: str = typer.Option("", "--symbols", help="Comma-separated symbols: daily bars from the venue."),
        start: str = typer.Option("", "--from", help="First day (YYYY-MM-DD) with --symbols."),
        end: str = typer.Option("", "--to", help="Last day (YYYY-MM-DD) with --symbols."),
        kind: str = typer.Option("logreg", "--model", help="logreg or gbm."),
        horizon: int = typer.Option(1, "--horizon", min=1, help="Label: close this many bars on is higher."),
        name: str = typer.Option("model", "--name", help="Artefact name: models/<name>-v<k>.onnx."),
        trees: int = typer.Option(100, "--trees", min=1, help="Trees of the gbm model."),
        test_fraction: float = typer.Option(0.2, "--test-fraction", help="Held-out share of the time axis."),
        out_dir: Path | None = typer.Option(None, "--out-dir", help="Where to write (default: paths.models_dir)."),
        config_dir: Path = CONFIG_DIR_OPTION,
    ) -> None:
        """Train on historical bars, evaluate on the later part, export ONNX + manifest."""
        from pyrt.ops.model_train import TrainingError, bars_digest, build_dataset, read_bar_files, train

        if kind not in ("logreg", "gbm"):
            raise typer.BadParameter(f"{kind!r}: expected logreg or gbm", param_hint="--model")
        if bool(data) == bool(symbols):
            raise typer.BadParameter("give either --data FILE... or --symbols with --from/--to", param_hint="--data")
        cfg = load_or_exit(config_dir) if (symbols or out_dir is None) else None
        try:
            if data:
                series, digest = read_bar_files(list(data))
                sources = [str(p) for p in data]
            else:
                from pyrt.ops.model_train import venue_daily_bars

                if not (start and end):
                    raise typer.BadParameter("--symbols needs --from and --to", param_hint="--from")
                wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()]
                series = venue_daily_bars(cfg, wanted, _day_ns(start, "--from"), _day_ns(end, "--to"))
                digest = bars_digest(series)
                sources = [f"venue:{cfg.system.venue.kind}:{','.join(wanted)}:{start}..{end}"]  # type: ignore[union-attr]
            dataset = build_dataset(series, horizon, digest, sources)
            target = out_dir or Path(cfg.system.paths.models_dir)  # type: ignore[union-attr]
            result = train(
                dataset,
                target,
                name=name,
                kind=cast(Any, kind),
                horizon=horizon,
                test_fraction=test_fraction,
                trees=trees,
            )
        except (TrainingError, ValueError, OSError) as exc:
            typer.echo(f"training failed: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        m = result.manifest
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in m.metrics.items())
        typer.echo(f"trained {result.path} version={m.version} sha256={m.sha256[:12]} features={len(m.features)}")
        typer.echo(f"  window {m.training['from'][:10]}..{m.training['to'][:10]} rows={m.training['rows']} ({metrics})")

    @model.command("deploy")
    def deploy_cmd(
        file: Path = typer.Argument(..., help="The .onnx file (with its manifest)."),
        reason: str = typer.Option("", "--reason", help="Why (audited)."),
        shadow_bars: int = typer.Option(0, "--shadow-bars", min=0, help="Bars in shadow before promotion."),
        min_agreement: float = typer.Option(0.0, "--min-agreement", min=0.0, max=1.0, help="Shadow agreement needed."),
        config_dir: Path = CONFIG_DIR_OPTION,
    ) -> None:
        """Gate a model (ONNX, schema, parity, finite), copy it into models/ and serve it;
        with --shadow-bars N it first predicts beside the served model for N bars, without
        trading, and the agreement is reported before promotion."""
        from pyrt.ops.commands.common import cli_caller, guarded, open_facade

        facade = open_facade(config_dir)
        try:
            out = guarded(lambda: facade.deploy_model(cli_caller(), str(file), reason, shadow_bars, min_agreement))
        except typer.Exit:
            typer.echo("model refused, the served model is unchanged", err=True)
            raise
        typer.echo(out["detail"])
        typer.echo(f"signals.model_path = {out['model_path']}")
        typer.echo(f"signal bridge: {out['signal_bridge'] or 'not running (it loads the model when it starts)'}")

    @model.command("rollback")
    def rollback_cmd(
        reason: str = typer.Option("", "--reason", help="Why (audited)."),
        config_dir: Path = CONFIG_DIR_OPTION,
    ) -> None:
        """Serve the previously deployed model again (no restart)."""
        from pyrt.ops.commands.common import cli_caller, guarded, open_facade

        facade = open_facade(config_dir)
        out = guarded(lambda: facade.rollback_model(cli_caller(), reason))
        typer.echo(out["detail"])
        typer.echo(f"signal bridge: {out['signal_bridge'] or 'not running'}")

    @model.command("list")
    def list_cmd(
        as_json: bool = typer.Option(False, "--json", help="JSON output."), config_dir: Path = CONFIG_DIR_OPTION
    ) -> None:
        """The models in models/ and which one is served."""
        from pyrt.ops.model_registry import list_models, read_registry

        cfg = load_or_exit(config_dir)
        rows = list_models(cfg)
        if as_json:
            typer.echo(json.dumps({"models": rows, "history": read_registry(cfg)["history"]}, indent=2))
            return
        if not rows:
            typer.echo(f"no models in {cfg.system.paths.models_dir}")
        for r in rows:
            mark = "*" if r["served"] else " "
            auc = r.get("auc")
            typer.echo(
                f"{mark} {r['file']:<32} v{r.get('version', '?')!s:<4} {r.get('kind', '?'):<10} "
                f"sha256={r.get('sha256', '?')} auc={'-' if auc is None else f'{auc:.3f}'} "
                f"{r.get('created_at', '')[:19]} {r.get('error', '')}"
            )

    @model.command("show")
    def show_cmd(
        ref: str = typer.Argument(..., help="A path or a file name in models/."), config_dir: Path = CONFIG_DIR_OPTION
    ) -> None:
        """A model's manifest (training window, data hash, metrics, schema)."""
        from pyrt.ops.model_registry import show_model
        from pyrt.services.signals.model.loader import ModelRefused

        try:
            typer.echo(json.dumps(show_model(load_or_exit(config_dir), ref), indent=2))
        except (ModelRefused, ValueError) as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(EXIT_REFUSED) from None

    app.add_typer(model, name="model")
