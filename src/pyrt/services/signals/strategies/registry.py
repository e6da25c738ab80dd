"""Build strategies from config specs such as
``{"name": "ema_aapl", "kind": "ema_crossover", "symbols": ["AAPL"], "params": {...},
"enabled": true}``. Errors name the strategy and the field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pyrt.services.signals.strategies.benchmark import BenchmarkStrategy
from pyrt.services.signals.strategies.ema_crossover import EmaCrossover
from pyrt.services.signals.strategies.rsi_mean_reversion import RsiMeanReversion
from pyrt.services.signals.strategy import Strategy, StrategyConfigError

STRATEGY_KINDS: dict[str, type[Strategy]] = {
    cls.kind: cls for cls in (EmaCrossover, RsiMeanReversion, BenchmarkStrategy)
}
_SPEC_KEYS = frozenset({"name", "kind", "symbols", "params", "enabled"})


def register_strategy_kind(cls: type[Strategy]) -> type[Strategy]:
    """Make a Strategy subclass buildable by its `kind` (usable as a class decorator)."""
    if cls.kind in STRATEGY_KINDS and STRATEGY_KINDS[cls.kind] is not cls:
        raise ValueError(f"kind {cls.kind!r} is already registered")
    STRATEGY_KINDS[cls.kind] = cls
    return cls


def build_strategies(specs: Iterable[Mapping[str, Any]]) -> list[Strategy]:
    """Strategies for the enabled specs, in order. Raises StrategyConfigError on an
    unknown kind or field, bad params or a duplicate name."""
    built: list[Strategy] = []
    names: set[str] = set()
    for i, spec in enumerate(specs):
        if not isinstance(spec, Mapping):
            raise StrategyConfigError(f"strategies[{i}]: expected a mapping")
        name = spec.get("name")
        where = f"strategy {name!r}" if isinstance(name, str) else f"strategies[{i}]"
        unknown = sorted(set(spec) - _SPEC_KEYS)
        if unknown:
            raise StrategyConfigError(f"{where}: unknown field {unknown[0]!r}")
        if "name" not in spec:
            raise StrategyConfigError(f"{where}: name: missing")
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise StrategyConfigError(f"{where}: enabled: expected true or false")
        kind = spec.get("kind")
        cls = STRATEGY_KINDS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            known = ", ".join(sorted(STRATEGY_KINDS))
            raise StrategyConfigError(f"{where}: kind: unknown kind {kind!r} (known: {known})")
        if "symbols" not in spec:
            raise StrategyConfigError(f"{where}: symbols: missing")
        strategy = cls(spec["name"], spec["symbols"], spec.get("params"))
        if strategy.name in names:
            raise StrategyConfigError(f"{where}: name: duplicate strategy name")
        names.add(strategy.name)
        if enabled:
            built.append(strategy)
    return built
