"""One `pyrt backtest` run from a config directory: the strategies and risk limits of
`system.json` / `risk_limits.toml` (the same entries the signal bridge and the risk manager
read), the execution engine's settings, the data, the run settings. Returns the run's
result; `report.py` writes the files."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pyrt.backtest.engine import Backtest, execution_record
from pyrt.backtest.models import attach_models
from pyrt.backtest.results import RunResult
from pyrt.backtest.settings import BacktestSettings, SettingsError
from pyrt.services.signals.strategies.registry import build_strategies, strategies_dir, strategy_specs
from pyrt.services.signals.strategy import Strategy

ALPACA_PREFIX = "alpaca:"


@dataclass(frozen=True)
class RunRequest:
    config_dir: Path
    data: tuple[str, ...]
    settings: BacktestSettings
    strategies: tuple[str, ...] = ()  # names in system.json; () = the enabled ones
    start: date | None = None
    end: date | None = None
    skip_bad_rows: bool = False
    timeframe: str = "1Day"  # for alpaca: downloads


def chosen_specs(cfg: Any, names: Sequence[str]) -> list[dict[str, Any]]:
    """The strategy specs to run: the named ones (enabled or not), else the enabled ones."""
    specs = strategy_specs(cfg)
    if not names:
        chosen = [s for s in specs if s["enabled"]]
        if not chosen:
            raise SettingsError("strategy: no strategy is enabled in system.json; name one with --strategy")
        return chosen
    by_name = {s["name"]: s for s in specs}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise SettingsError(
            f"strategy: {', '.join(missing)} not in {cfg.config_dir}/system.json (there: {', '.join(by_name) or 'none'})"
        )
    return [{**by_name[n], "enabled": True} for n in dict.fromkeys(names)]


def _data_paths(cfg: Any, req: RunRequest, symbols: Sequence[str]) -> list[Path]:
    paths: list[Path] = []
    for item in req.data:
        if not item.startswith(ALPACA_PREFIX):
            paths.append(Path(item))
            continue
        from pyrt.backtest.alpaca_history import fetch_alpaca_bars

        wanted = [s for s in item[len(ALPACA_PREFIX) :].split(",") if s] or list(symbols)
        if req.start is None or req.end is None:
            raise SettingsError("data: alpaca: downloads need --from and --to")
        paths += fetch_alpaca_bars(
            wanted,
            req.start,
            req.end,
            req.timeframe,
            data_url=cfg.venue.data_rest_url,
            key_id=cfg.secrets.api_key_id.get_secret_value(),
            secret_key=cfg.secrets.api_secret_key.get_secret_value(),
            feed=cfg.system.venue.feed,
            cache_dir=Path(cfg.root) / "cache" / "backtest",
        )
    return paths


def build_backtest(req: RunRequest, cfg: Any | None = None) -> Backtest:
    """The engine for a request (config loaded, strategies built, data loaded)."""
    from pyrt.backtest.data import load_bars
    from pyrt.bootstrap import load_app

    cfg = cfg if cfg is not None else load_app(req.config_dir)
    specs = chosen_specs(cfg, req.strategies)
    strategies: list[Strategy] = build_strategies(specs, strategies_dir(cfg))
    symbols = sorted({s for st in strategies for s in st.symbols})
    if not req.data:
        raise SettingsError("data: give --data PATH (CSV or Parquet files or folders) or --data alpaca:SYMBOLS")
    data = load_bars(
        _data_paths(cfg, req, symbols), start=req.start, end=req.end, symbols=symbols, skip_bad=req.skip_bad_rows
    )
    missing = [s for s in symbols if s not in data.symbols]
    if missing:
        files = ", ".join(src.path for src in data.sources)
        raise SettingsError(f"data: no bars for {', '.join(missing)} (traded by the chosen strategies) in {files}")
    models, model_warnings = attach_models(strategies, int(data.open_ns[0]), int(data.close_ns[-1]))
    ex = cfg.system.execution
    config = {
        "strategies": specs,
        "models": models,
        "risk_limits": cfg.risk.model_dump(mode="json"),
        "execution": execution_record(ex),
        "settings": req.settings.to_dict(),
        "range": {"from": req.start.isoformat() if req.start else None, "to": req.end.isoformat() if req.end else None},
        "config_sha256": config_digest(Path(cfg.config_dir)),
    }
    engine = Backtest(strategies, cfg.risk, data, req.settings, ex, config)
    engine.warnings.extend(model_warnings)
    return engine


def run(req: RunRequest, progress: Callable[[int], None] | None = None) -> RunResult:
    return build_backtest(req).run(progress)


def config_digest(config_dir: Path) -> str:
    """sha256 over the config files a run reads (system.json, risk_limits.toml, strategies/*.py)."""
    h = hashlib.sha256()
    files = [config_dir / "system.json", config_dir / "risk_limits.toml"]
    files += sorted((config_dir / "strategies").glob("*.py")) if (config_dir / "strategies").is_dir() else []
    for f in files:
        if f.is_file():
            h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()
