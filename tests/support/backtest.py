"""Helpers for backtest tests: bars built in memory, permissive risk limits, a strategy that
trades a script."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import numpy as np

from pyrt.backtest.data import BarData
from pyrt.backtest.results import DataSource
from pyrt.config.risk import RiskLimits
from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar
from pyrt.services.signals.strategy import NO_OUTPUT, Output, Strategy, StrategyContext

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
MINUTE = 60_000_000_000
OPEN_2024_01_02 = 1_704_205_800_000_000_000  # 2024-01-02 14:30 UTC = 09:30 New York


def bars(rows: Sequence[tuple[str, int, float, float, float, float, float]], timeframe_ns: int = MINUTE) -> BarData:
    """BarData from (symbol, open_ns, open, high, low, close, volume) rows (intraday bars)."""
    symbols = tuple(sorted({r[0] for r in rows}))
    idx = {s: i for i, s in enumerate(symbols)}
    order = sorted(range(len(rows)), key=lambda k: (rows[k][1] + timeframe_ns, idx[rows[k][0]]))
    col = lambda j, dt: np.array([rows[k][j] for k in order], dtype=dt)  # noqa: E731
    open_ns = col(1, np.int64)
    return BarData(
        symbols=symbols,
        timeframe="1Min" if timeframe_ns == MINUTE else "custom",
        timeframe_ns=timeframe_ns,
        open_ns=open_ns,
        close_ns=open_ns + timeframe_ns,
        sym=np.array([idx[rows[k][0]] for k in order], dtype=np.int32),
        open=col(2, np.float64),
        high=col(3, np.float64),
        low=col(4, np.float64),
        close=col(5, np.float64),
        volume=col(6, np.float64),
        sources=[DataSource("memory", "0" * 64, len(rows), symbols, "1Min")],
    )


def minute_bars(
    symbol: str, ohlcv: Sequence[tuple[float, float, float, float, float]], start_ns: int = OPEN_2024_01_02
) -> BarData:
    return bars([(symbol, start_ns + i * MINUTE, *r) for i, r in enumerate(ohlcv)])


def permissive_limits(**changes: Any) -> RiskLimits:
    """The shipped limits with room for test-sized positions and order rates."""
    raw = tomllib.loads((ROOT / "config" / "risk_limits.toml").read_text())
    raw["position_limits"].update(max_notional_per_position=1e9, max_total_exposure=1e9, allow_shorting=True)
    raw["order_validation"].update(max_order_value=1e9, max_order_size=1e6)
    raw["position_limits"].update(max_shares=1e6)
    raw["circuit_breaker"].update(max_trades_per_day=100000, max_consecutive_losses=100000)
    raw["throttle"].update(max_orders_per_minute=1000, max_orders_per_symbol_per_minute=1000)
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        raw[section][key] = value
    return RiskLimits.model_validate(raw)


class Step(msgspec.Struct, frozen=True):
    """One scripted order: on bar number `bar` (0-based, per symbol)."""

    bar: int
    side: str
    qty: float
    type: str = "market"
    limit: float | None = None
    stop: float | None = None
    tif: str = "day"


class ScriptParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    steps: list[Step] = []


class Scripted(Strategy):
    """Sends the orders of its script on the bars it names; records what it saw."""

    kind: ClassVar[str] = "test_scripted"
    params_type = ScriptParams
    allow_concurrent_intents = True

    def __init__(self, name: str, symbols: Sequence[str], params: dict[str, Any] | None = None) -> None:
        super().__init__(name, symbols, params)
        self.seen: list[Bar] = []
        self.closed: list[tuple[str, str]] = []

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Sequence[Output]:
        n = sum(1 for b in self.seen if b.symbol == bar.symbol)
        self.seen.append(bar)
        out: list[Output] = []
        for st in self.params.steps:
            if st.bar == n:
                out.append(
                    OrderIntent(
                        intent_id=ctx.next_intent_id(bar.symbol),
                        strategy=self.name,
                        symbol=bar.symbol,
                        side=OrderSide(st.side),
                        qty=Decimal(str(st.qty)),
                        order_type=OrderType(st.type),
                        time_in_force=TimeInForce(st.tif),
                        limit_price=Decimal(str(st.limit)) if st.limit is not None else None,
                        stop_price=Decimal(str(st.stop)) if st.stop is not None else None,
                        ts_ns=ctx.now_ns(),
                        reason=f"step {st.bar}",
                    )
                )
        return out or NO_OUTPUT

    def on_intent_closed(self, ctx: StrategyContext, intent: OrderIntent, outcome: str) -> None:
        self.closed.append((intent.intent_id, outcome))


def scripted(*steps: Step, symbols: Sequence[str] = ("AAPL",), name: str = "script") -> Scripted:
    return Scripted(name, list(symbols), {"steps": [msgspec.structs.asdict(s) for s in steps]})


def run_pyrt(cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`pyrt ARGS` as a user runs it, from `cwd` (tests.support importable: a test's own
    strategies may live there)."""
    return subprocess.run(
        [sys.executable, "-m", "pyrt", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
