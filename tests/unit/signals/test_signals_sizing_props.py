"""Property: whatever the prices and whatever risk and execution do (deny, fill, fill
partly, cancel, delay), intents never take a position beyond max_position_shares, never
go short when shorting is off, and exits sell exactly the position."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar
from pyrt.domain.orders import OrderState
from pyrt.services.signals.core import SignalCore
from pyrt.services.signals.strategies import EmaCrossover, RsiMeanReversion

OUTCOMES = ["fill", "deny", "partial_then_cancel", "cancel", "later"]


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.floats(-0.06, 0.06), min_size=30, max_size=120),
    outcomes=st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=40),
    order_qty=st.integers(1, 40),
    max_pos=st.integers(1, 100),
    allow_short=st.booleans(),
)
def test_intents_respect_position_limits(steps, outcomes, order_qty, max_pos, allow_short):
    params = {"order_qty": order_qty, "max_position_shares": max_pos, "allow_short": allow_short}
    strategies = [
        RsiMeanReversion("rsi", ["X"], {**params, "period": 3}),
        EmaCrossover("ema", ["X"], {**params, "fast": 2, "slow": 5}),
    ]
    core = SignalCore(strategies, ManualClock(), intent_epoch="p")
    position = {"rsi": Decimal(0), "ema": Decimal(0)}
    waiting: list[OrderIntent] = []
    lo = -max_pos if allow_short else 0
    price, k = 100.0, 0

    def settle(intent: OrderIntent, outcome: str) -> None:
        sign = 1 if intent.side is OrderSide.BUY else -1
        if outcome == "deny":
            core.on_risk_decision(intent.intent_id, False, "DENIED")
            return
        core.on_risk_decision(intent.intent_id, True, "OK")
        if outcome == "fill":
            position[intent.strategy] += sign * intent.qty
            event = OrderState.FILLED
        elif outcome == "partial_then_cancel":
            position[intent.strategy] += sign * (intent.qty // 2)
            event = OrderState.CANCELED
        else:
            event = OrderState.CANCELED
        core.on_execution_report(intent.strategy, "X", event, position[intent.strategy], intent.intent_id)

    for i, step in enumerate(steps):
        price = max(1.0, price * (1 + step))
        for intent in core.on_bar(Bar("X", price, price, price, price, 1, i)):
            if not isinstance(intent, OrderIntent):
                continue
            pos = position[intent.strategy]
            sign = 1 if intent.side is OrderSide.BUY else -1
            assert intent.qty > 0
            after = pos + sign * intent.qty
            assert lo <= after <= max_pos or abs(after) < abs(pos)
            if sign * pos < 0:  # reducing: exactly the position, never through zero
                assert intent.qty == abs(pos)
            outcome = outcomes[k % len(outcomes)]
            k += 1
            if outcome == "later":
                waiting.append(intent)
            else:
                settle(intent, outcome)
        if waiting and i % 3 == 0:
            settle(waiting.pop(0), "fill")
        for name, pos in position.items():
            assert lo <= pos <= max_pos, (name, pos)
            assert core.position(name, "X") == pos
