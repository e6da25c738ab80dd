"""One strategy reduce-only (what a sick model asks for its own strategy): its orders that
do not reduce exposure are denied, the other strategies trade on, the mode survives a
restart (the saved state) and is lifted with a reason. The risk core keeps the recent
denials with their orders (the console reads them after its own restart)."""

from __future__ import annotations

import json

import msgspec

from pyrt.domain.enums import TradingState
from pyrt.services.risk.core import Reason

from .conftest import Env


def _check(env: Env, strategy: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return env.core.check(msgspec.structs.replace(env.intent(**kwargs), strategy=strategy))  # type: ignore[arg-type]


def test_only_the_named_strategy_is_held_to_reducing_orders(make_env: type[Env]) -> None:
    env = make_env()
    env.quote()
    env.hold("AAPL", 20)
    assert env.core.set_strategy_reduce_only("ml", True, "model health: nan_output").ok
    denied = _check(env, "ml", side="buy", qty=1)
    assert denied.reason_code == Reason.REDUCE_ONLY
    assert "strategy ml is reduce-only (model health: nan_output)" in denied.message
    assert _check(env, "ml", side="sell", qty=5).approved  # reduces the position: allowed
    assert _check(env, "ema", side="buy", qty=1).approved  # another strategy trades on
    assert env.core.gauges()["trading_state"] == "ACTIVE"


def test_a_reason_is_needed_and_lifting_lets_it_trade_again(make_env: type[Env]) -> None:
    env = make_env()
    env.quote()
    assert not env.core.set_strategy_reduce_only("ml", True, " ").ok
    assert not env.core.set_strategy_reduce_only("", True, "why").ok
    assert env.core.set_strategy_reduce_only("ml", True, "model health").ok
    result = env.core.set_strategy_reduce_only("ml", False, "model v2 served")
    assert result.ok and "trades normally again" in result.message
    assert _check(env, "ml", side="buy", qty=1).approved
    assert "was not reduce-only" in env.core.set_strategy_reduce_only("ml", False, "again").message


def test_the_mode_survives_a_restart(make_env: type[Env]) -> None:
    env = make_env()
    env.core.set_strategy_reduce_only("ml", True, "model health: expired")
    saved = json.loads(json.dumps(env.core.snapshot(), default=str))
    assert saved["reduce_only_strategies"] == {"ml": "model health: expired"}
    restarted = make_env()
    restarted.core.restore(saved)
    restarted.quote()
    assert _check(restarted, "ml", side="buy", qty=1).reason_code == Reason.REDUCE_ONLY
    restarted.core.set_strategy_reduce_only("ml", False, "served")
    assert "reduce_only_strategies" not in restarted.core.snapshot()  # the saved format is unchanged without one


def test_recent_denials_name_their_orders_oldest_first(make_env: type[Env]) -> None:
    env = make_env()
    env.quote()
    env.core.set_strategy_reduce_only("ml", True, "model health")
    _check(env, "ml", side="buy", qty=1)
    assert _check(env, "ema", side="buy", qty=2).approved
    _check(env, "ml", side="buy", qty=3)
    denials = env.core.recent_denials()
    assert [(d["strategy"], d["side"], d["qty"], d["reason_code"]) for d in denials] == [
        ("ml", "buy", "1", "REDUCE_ONLY"),
        ("ml", "buy", "3", "REDUCE_ONLY"),
    ]
    assert env.core.recent_denials(limit=1) == denials[-1:]


def test_recent_alerts_keep_the_breaker_trips(make_env: type[Env]) -> None:
    env = make_env()
    env.core.breaker.activate("drill", TradingState.HALTED)
    env.core.on_integrity_violation("overfill", "AAPL: filled 3 of 2")
    env.core.drain_events()  # the shell drains them; the core keeps the trips
    kinds = [(a["kind"], a["mode"]) for a in env.core.recent_alerts()]
    assert kinds[0] == ("circuit_breaker manual", "HALTED")
    assert all(k.startswith("circuit_breaker") for k, _ in kinds)
