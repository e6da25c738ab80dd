"""Built-in strategies and the registry that builds strategies from config specs."""

from pyrt.services.signals.strategies.benchmark import BenchmarkStrategy
from pyrt.services.signals.strategies.ema_crossover import EmaCrossover
from pyrt.services.signals.strategies.registry import (
    STRATEGY_KINDS,
    build_strategies,
    register_strategy_kind,
)
from pyrt.services.signals.strategies.rsi_mean_reversion import RsiMeanReversion

__all__ = [
    "STRATEGY_KINDS",
    "BenchmarkStrategy",
    "EmaCrossover",
    "RsiMeanReversion",
    "build_strategies",
    "register_strategy_kind",
]
