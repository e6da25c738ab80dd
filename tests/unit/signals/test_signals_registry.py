"""build_strategies: specs to strategies, with errors that name the strategy and field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pyrt.services.signals.strategies import (
    STRATEGY_KINDS,
    BenchmarkStrategy,
    EmaCrossover,
    RsiMeanReversion,
    build_strategies,
)
from pyrt.services.signals.strategy import StrategyConfigError


def spec(**over):
    base = {
        "name": "ema_aapl",
        "kind": "ema_crossover",
        "symbols": ["AAPL"],
        "params": {"fast": 5, "slow": 20},
        "enabled": True,
    }
    base.update(over)
    return base


def test_builds_each_kind_and_skips_disabled() -> None:
    built = build_strategies(
        [
            spec(),
            spec(
                name="rsi_msft",
                kind="rsi_mean_reversion",
                symbols=["MSFT"],
                params={"oversold": 25, "max_position_shares": 50},
            ),
            spec(name="bench", kind="benchmark_every_n", params={"every_n": 10}),
            spec(name="off", enabled=False),
        ]
    )
    assert [type(s) for s in built] == [EmaCrossover, RsiMeanReversion, BenchmarkStrategy]
    assert built[0].params.fast == 5 and built[0].params.order_qty == Decimal(10)
    assert built[1].params.oversold == 25.0 and built[1].params.max_position_shares == 50
    assert built[2].params.order_qty == 1
    assert set(STRATEGY_KINDS) >= {"ema_crossover", "rsi_mean_reversion", "benchmark_every_n"}


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (spec(kind="macd"), ["'ema_aapl'", "kind", "macd", "ema_crossover"]),
        (spec(params={"fast": "x"}), ["'ema_aapl'", "params.fast"]),
        (spec(params={"fast": 30, "slow": 20}), ["'ema_aapl'", "slow"]),
        (spec(params={"fats": 3}), ["'ema_aapl'", "fats"]),
        (spec(params={"order_qty": 0}), ["'ema_aapl'", "order_qty"]),
        (spec(params={"order_type": "stop"}), ["'ema_aapl'", "params.order_type"]),
        (spec(kind="rsi_mean_reversion", params={"oversold": 80}), ["'ema_aapl'", "overbought"]),
        (spec(kind="benchmark_every_n", params={"every_n": 0}), ["every_n"]),
        (spec(symbols=[]), ["'ema_aapl'", "symbols"]),
        (spec(symbols="AAPL"), ["'ema_aapl'", "symbols"]),
        (spec(enabled="yes"), ["'ema_aapl'", "enabled"]),
        (spec(extra=1), ["'ema_aapl'", "extra"]),
        (spec(name="a-name-that-is-far-too-long"), ["name"]),
        (spec(params=[1]), ["'ema_aapl'", "params"]),
        ({"kind": "ema_crossover", "symbols": ["A"]}, ["strategies[0]", "name"]),
    ],
)
def test_errors_name_strategy_and_field(bad, words) -> None:
    with pytest.raises(StrategyConfigError) as info:
        build_strategies([bad])
    for w in words:
        assert w in str(info.value)


def test_duplicate_names_rejected() -> None:
    with pytest.raises(StrategyConfigError, match="duplicate"):
        build_strategies([spec(), spec(enabled=False)])


def test_disabled_specs_are_still_validated() -> None:
    with pytest.raises(StrategyConfigError, match="params.fast"):
        build_strategies([spec(enabled=False, params={"fast": "x"})])
