"""Build strategies from config specs such as
``{"name": "ema_aapl", "kind": "ema_crossover", "symbols": ["AAPL"], "params": {...},
"enabled": true}``. Errors name the strategy and the field.

A kind is a built-in name, or a user's class given as ``"module:Class"``: the module is a
file ``<config dir>/strategies/module.py`` when there is one, else an importable module
(``"my_strategies.breakout:Breakout"``). The same spec builds the same class in the signal
bridge and in the backtester."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from pyrt.services.signals.strategies.benchmark import BenchmarkStrategy
from pyrt.services.signals.strategies.ema_cross_reference import EmaCrossLongOnly, EmaCrossReversal
from pyrt.services.signals.strategies.ema_crossover import EmaCrossover
from pyrt.services.signals.strategies.onnx_model import OnnxModelStrategy
from pyrt.services.signals.strategies.rsi_mean_reversion import RsiMeanReversion
from pyrt.services.signals.strategy import Strategy, StrategyConfigError

STRATEGY_KINDS: dict[str, type[Strategy]] = {
    cls.kind: cls
    for cls in (
        EmaCrossover,
        RsiMeanReversion,
        BenchmarkStrategy,
        EmaCrossLongOnly,
        EmaCrossReversal,
        OnnxModelStrategy,
    )
}
USER_MODULE_PREFIX = "pyrt_user_strategies"
_SPEC_KEYS = frozenset({"name", "kind", "symbols", "params", "enabled"})


def register_strategy_kind(cls: type[Strategy]) -> type[Strategy]:
    """Make a Strategy subclass buildable by its `kind` (usable as a class decorator)."""
    if cls.kind in STRATEGY_KINDS and STRATEGY_KINDS[cls.kind] is not cls:
        raise ValueError(f"kind {cls.kind!r} is already registered")
    STRATEGY_KINDS[cls.kind] = cls
    return cls


def resolve_kind(kind: object, strategies_dir: Path | None = None) -> type[Strategy]:
    """The Strategy class a spec's `kind` names (see the module docstring); raises
    StrategyConfigError (without the strategy's name: the caller adds it)."""
    if not isinstance(kind, str) or not kind:
        raise StrategyConfigError(f"kind: expected a strategy kind, got {kind!r}")
    cls = STRATEGY_KINDS.get(kind)
    if cls is not None:
        return cls
    if ":" not in kind:
        known = ", ".join(sorted(STRATEGY_KINDS))
        raise StrategyConfigError(f"kind: unknown strategy kind {kind!r} (known: {known}, or 'module:Class')")
    module_name, _, class_name = kind.partition(":")
    module = _load_user_module(module_name, strategies_dir)
    found = getattr(module, class_name, None)
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        raise StrategyConfigError(f"kind: {kind!r}: {module_name} has no Strategy subclass named {class_name!r}")
    return found


def _load_user_module(module_name: str, strategies_dir: Path | None) -> Any:
    file = strategies_dir / f"{module_name}.py" if strategies_dir is not None else None
    try:
        if file is not None and file.is_file():
            key = f"{USER_MODULE_PREFIX}.{module_name}"
            spec = importlib.util.spec_from_file_location(key, file)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[key] = module
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(module_name)
    except Exception as exc:  # the user's code: any error is a config error naming it
        where = str(file) if file is not None and file.is_file() else module_name
        raise StrategyConfigError(f"kind: cannot load {where}: {type(exc).__name__}: {exc}") from None


def takes_sizing(cls: type[Strategy]) -> bool:
    """True when the strategy's params take `order_qty` and `max_position_shares` (so the
    `signals.sizing` section is their default)."""
    fields = {f.name for f in msgspec.structs.fields(cls.params_type)}
    return {"order_qty", "max_position_shares"} <= fields


def with_sizing(cls: type[Strategy], params: Mapping[str, Any], sizing: Any) -> dict[str, Any]:
    """A spec's params with the `signals.sizing` defaults added when the kind takes them."""
    if takes_sizing(cls):
        return {"order_qty": sizing.order_qty, "max_position_shares": sizing.max_position_shares, **params}
    return dict(params)


def build_strategies(specs: Iterable[Mapping[str, Any]], strategies_dir: Path | None = None) -> list[Strategy]:
    """Strategies for the enabled specs, in order. Raises StrategyConfigError on an
    unknown kind or field, bad params or a duplicate name. `strategies_dir` is where
    user strategy files live (`<config dir>/strategies`)."""
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
        try:
            cls = resolve_kind(spec.get("kind"), strategies_dir)
        except StrategyConfigError as exc:
            raise StrategyConfigError(f"{where}: {exc}") from None
        if "symbols" not in spec:
            raise StrategyConfigError(f"{where}: symbols: missing")
        strategy = cls(spec["name"], spec["symbols"], spec.get("params"))
        if strategy.name in names:
            raise StrategyConfigError(f"{where}: name: duplicate strategy name")
        names.add(strategy.name)
        if enabled:
            built.append(strategy)
    return built


def strategy_specs(cfg: Any) -> list[dict[str, Any]]:
    """Strategy specs from system.json with the `sizing` section as default params (for
    the kinds whose params take sizing)."""
    sizing = cfg.system.signals.sizing
    specs = []
    for s in cfg.system.signals.strategies:
        params = with_sizing(resolve_kind(s.kind, strategies_dir(cfg)), s.params, sizing)
        enabled = s.enabled
        if s.kind == OnnxModelStrategy.kind:  # signals.model_path is the default model; none: idle
            model_path = params.get("model_path") or cfg.system.signals.model_path
            if model_path is not None and not Path(model_path).is_absolute():
                model_path = Path(cfg.root) / model_path
            params = {**params, "model_path": str(model_path) if model_path else None}
            enabled = enabled and model_path is not None
        specs.append({"name": s.name, "kind": s.kind, "symbols": list(s.symbols), "params": params, "enabled": enabled})
    return specs


def strategies_dir(cfg: Any) -> Path:
    """Where a config's own strategy files live: `strategies/` beside system.json."""
    return Path(cfg.config_dir) / "strategies"
