"""Momentum: fast/slow EMA crossover on closes. Long when the fast EMA crosses above the
slow one, flat (or short, when allowed) when it crosses below."""

from __future__ import annotations

from collections.abc import Sequence

from pyrt.services.signals.indicators import Ema
from pyrt.services.signals.strategies.base import CloseParams, CloseState, CloseStrategy
from pyrt.services.signals.strategy import (
    NO_OUTPUT,
    Output,
    Signal,
    SignalDirection,
    StrategyContext,
)


class EmaCrossoverParams(CloseParams, kw_only=True, forbid_unknown_fields=True):
    """`fast` and `slow` EMA periods (in closes); fast < slow."""

    fast: int = 12
    slow: int = 26

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.fast < 1:
            raise ValueError("fast: must be >= 1")
        if self.slow <= self.fast:
            raise ValueError("slow: must be greater than fast")


class EmaState(CloseState):
    """The two EMAs, which side fast was on at the last close, and the target still to
    be reached (kept while an earlier intent is pending)."""

    def __init__(self, symbol: str, p: EmaCrossoverParams, interval_s: int | None) -> None:
        super().__init__(symbol, interval_s)
        self.fast = Ema(p.fast)
        self.slow = Ema(p.slow)
        self.above: bool | None = None
        self.target: SignalDirection | None = None


class EmaCrossover(CloseStrategy):
    """EMA crossover. A cross emits a Signal and arms a target; the target is pursued
    (one intent at a time, position-aware) until reached. Signal strength is the EMA
    spread relative to the slow EMA, saturating at 1 % (100 bps)."""

    kind = "ema_crossover"
    params_type = EmaCrossoverParams

    def create_state(self, symbol: str) -> EmaState:
        return EmaState(symbol, self.params, self.sample_interval())

    def on_close(
        self, ctx: StrategyContext, state: EmaState, symbol: str, close: float, ts_ns: int
    ) -> Sequence[Output]:
        fast = state.fast.update(close)
        slow = state.slow.update(close)
        if not state.slow.ready:
            return NO_OUTPUT
        above = fast > slow
        out: list[Output] | None = None
        if state.above is not None and above != state.above:
            direction = SignalDirection.LONG if above else SignalDirection.SHORT
            if direction is SignalDirection.SHORT and not self.params.allow_short:
                direction = SignalDirection.FLAT
            state.target = direction
            spread = (fast - slow) / slow
            out = [
                Signal(
                    strategy=self.name,
                    symbol=symbol,
                    direction=direction,
                    strength=min(1.0, abs(spread) * 100.0),
                    ts_ns=ts_ns,
                    features={"close": close, "ema_fast": fast, "ema_slow": slow},
                )
            ]
        state.above = above
        if state.target is not None:
            reason = f"ema_cross {state.target.value} f={fast:.2f} s={slow:.2f}"
            intent, done = self.step_toward(ctx, symbol, state.target, add=False, reason=reason, ref_price=close)
            if done:
                state.target = None
            if intent is not None:
                out = out or []
                out.append(intent)
        return out or NO_OUTPUT
