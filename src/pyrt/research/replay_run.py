"""The replay of a recorded day with a deployment's config: the backtest run the way the
live system trades (`replay_backtest`) and its diff against the journal (`run_replay`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pyrt.backtest.data import BarData
from pyrt.backtest.engine import Backtest
from pyrt.backtest.results import RunResult
from pyrt.backtest.run import chosen_specs
from pyrt.backtest.settings import BacktestSettings
from pyrt.research.recording import has_quotes, recorded_bars, recorded_quotes
from pyrt.research.replay import ReplayDiff, Thresholds, backtest_intents, diff, live_intents, quote_gaps
from pyrt.services.signals.strategies.registry import build_strategies, strategies_dir
from pyrt.services.signals.strategy import Strategy


def replay_settings(cfg: Any) -> BacktestSettings:
    """Live, a decision on a bar is sent at once and fills at the quote of that moment (the
    bar's close); nothing is closed at the end of the day; the sim broker's starting cash."""
    cash = cfg.system.sim_broker.initial_cash if cfg.system.venue.kind == "sim" else None
    extra = {"cash": cash} if cash else {}
    return BacktestSettings(fill_at="close", fees="none", close_at_end=False, **extra)


def replay_backtest(cfg: Any, day: date, names: list[str]) -> tuple[RunResult, list[Strategy], BarData]:
    strategies = build_strategies(chosen_specs(cfg, names), strategies_dir(cfg))
    symbols = sorted({s for st in strategies for s in st.symbols})
    data = recorded_bars(Path(cfg.system.market_data.record.path), day, symbols)
    engine = Backtest(strategies, cfg.risk, data, replay_settings(cfg), cfg.system.execution)
    return engine.run(), strategies, data


def run_replay(cfg: Any, day: date, names: list[str], thresholds: Thresholds) -> tuple[ReplayDiff, dict[str, Any]]:
    from pyrt.persistence.journal import Journal

    journal_path = Path(cfg.system.execution.journal_path)
    if not journal_path.is_file():
        raise ValueError(f"no journal at {journal_path} (execution.journal_path)")
    run, strategies, data = replay_backtest(cfg, day, names)
    with Journal(journal_path, read_only=True) as journal:
        live = live_intents(journal.iter_records(), day)
    ours = {s.name for s in strategies}
    result = diff(day, [i for i in live if i.strategy in ours], backtest_intents(run), thresholds)
    quote_gaps(result, recorded_quotes(Path(cfg.system.market_data.record.path), day, sorted({i.symbol for i in live})))
    quote_readers = [s.name for s in strategies if s.wants_quotes]
    if quote_readers:
        recorded = "recorded " if has_quotes(Path(cfg.system.market_data.record.path), day) else ""
        result.notes.append(
            f"{', '.join(quote_readers)} read quotes: the backtester gives them quotes made from the recorded bars "
            f"(at each bar's close), not the {recorded}quotes the live system saw, so their decisions can differ"
        )
    return result, {"strategies": [s.name for s in strategies], "bars": len(data), **result.to_dict()}
