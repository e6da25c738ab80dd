"""Mean reversion on Wilder's RSI: buy while RSI is below `oversold`, sell to flat (or
short, when allowed) while it is above `overbought`."""

from __future__ import annotations

from collections.abc import Sequence

from pyrt.services.signals.indicators import Rsi
from pyrt.services.signals.strategies.base import CloseParams, CloseState, CloseStrategy
from pyrt.services.signals.strategy import (
    NO_OUTPUT,
    Output,
    Signal,
    SignalDirection,
    StrategyContext,
)


class RsiParams(CloseParams, kw_only=True, forbid_unknown_fields=True):
    """RSI `period` and the levels; 0 < oversold < overbought < 100."""

    period: int = 14
    oversold: float = 30.0
    overbought: float = 70.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.period < 2:
            raise ValueError("period: must be >= 2")
        if not 0.0 < self.oversold < 100.0:
            raise ValueError("oversold: must be between 0 and 100")
        if not self.oversold < self.overbought < 100.0:
            raise ValueError("overbought: must be between oversold and 100")


class RsiState(CloseState):
    """The RSI of one symbol."""

    def __init__(self, symbol: str, p: RsiParams, interval_s: int | None) -> None:
        super().__init__(symbol, interval_s)
        self.rsi = Rsi(p.period)


class RsiMeanReversion(CloseStrategy):
    """Level-triggered: every close with RSI < oversold emits a long Signal and, when no
    intent is pending, buys `order_qty` (scaling in up to `max_position_shares`); every
    close with RSI > overbought emits a flat Signal and sells exactly the position.
    Strength is how far RSI is into the zone, 0..1."""

    kind = "rsi_mean_reversion"
    params_type = RsiParams

    def create_state(self, symbol: str) -> RsiState:
        return RsiState(symbol, self.params, self.sample_interval())

    def on_close(
        self, ctx: StrategyContext, state: RsiState, symbol: str, close: float, ts_ns: int
    ) -> Sequence[Output]:
        rsi = state.rsi.update(close)
        if not state.rsi.ready:
            return NO_OUTPUT
        p: RsiParams = self.params
        if rsi < p.oversold:
            direction = SignalDirection.LONG
            strength = (p.oversold - rsi) / p.oversold
        elif rsi > p.overbought:
            direction = SignalDirection.SHORT if p.allow_short else SignalDirection.FLAT
            strength = (rsi - p.overbought) / (100.0 - p.overbought)
        else:
            return NO_OUTPUT
        out: list[Output] = [
            Signal(
                strategy=self.name,
                symbol=symbol,
                direction=direction,
                strength=min(1.0, strength),
                ts_ns=ts_ns,
                features={"close": close, "rsi": rsi},
            )
        ]
        reason = f"rsi {direction.value} rsi={rsi:.1f}"
        intent, _ = self.step_toward(ctx, symbol, direction, add=True, reason=reason, ref_price=close)
        if intent is not None:
            out.append(intent)
        return out
