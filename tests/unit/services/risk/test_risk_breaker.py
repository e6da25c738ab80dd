"""The circuit breaker through RiskCore: each trigger, modes, manual commands and
cooldown, persistence across a restart, day rollover."""

from __future__ import annotations

import json
from datetime import UTC
from decimal import Decimal

from pyrt.domain.clock import datetime_to_ns
from pyrt.domain.enums import BreakerTrigger, TradingState
from pyrt.services.risk.core import Reason, RiskCore
from pyrt.services.risk.events import BreakerDeactivated, BreakerEscalated, BreakerTripped, TradingDayStarted

D = Decimal


def _tripped(env):
    return [e for e in env.events(BreakerTripped) if not e.manual]


def _round_trip(env, pnl_per_share):
    """Buy 1 at 100 and sell it at 100 + pnl_per_share (fills only)."""
    env.core.on_fill("AAPL", "buy", D(1), D(100), "rt-b")
    env.core.on_fill("AAPL", "sell", D(1), D(100) + D(pnl_per_share), "rt-s")


def test_daily_loss_trips_on_the_first_report_beyond_the_limit(make_env):
    env = make_env(max_daily_loss=D(1000))
    env.quote()
    env.hold("AAPL", 10)
    env.core.on_pnl(D(200), D(0), D(100_000))  # day start: total 200
    env.core.on_pnl(D(-300), D(-500), D(99_000))  # -1000: at the limit
    assert not env.core.breaker.active
    env.core.on_pnl(D(-300), D("-500.01"), D(99_000))
    assert env.core.breaker.active
    [event] = _tripped(env)
    assert event.trigger is BreakerTrigger.DAILY_LOSS and "1000.01" in event.reason
    assert env.core.breaker.mode is TradingState.REDUCING
    assert env.check(qty=1).reason_code == Reason.CIRCUIT_BREAKER_ACTIVE
    assert env.check(side="sell", qty=10).approved  # closing still allowed


def test_drawdown_from_peak_equity(make_env):
    env = make_env(drawdown_threshold_percent=D(10))
    env.core.on_pnl(0, 0, D(100_000))
    env.core.on_pnl(0, 0, D(120_000))  # new peak
    env.core.on_pnl(0, 0, D(108_000))  # exactly 10 %
    assert not env.core.breaker.active
    env.core.on_pnl(0, 0, D("107999.99"))
    assert env.core.breaker.trigger.value == "drawdown"


def test_consecutive_losing_trades(make_env):
    env = make_env(max_consecutive_losses=3)
    _round_trip(env, -1)
    _round_trip(env, -1)
    _round_trip(env, 2)  # a win resets the streak
    _round_trip(env, -1)
    _round_trip(env, -1)
    assert not env.core.breaker.active
    _round_trip(env, "-0.01")
    assert env.core.breaker.trigger.value == "consecutive_losses"


def test_a_trade_closes_only_when_the_position_is_flat(make_env):
    env = make_env(max_consecutive_losses=1)
    env.core.on_fill("AAPL", "buy", D(10), D(100), "b")
    env.core.on_fill("AAPL", "sell", D(5), D(90), "s1")  # partial exit at a loss: trade still open
    assert not env.core.breaker.active
    env.core.on_fill("AAPL", "sell", D(5), D(120), "s2")  # -50 + 100: a winner
    assert not env.core.breaker.active
    env.core.on_fill("AAPL", "sell", D(3), D(100), "s3")  # opens a short
    env.core.on_fill("AAPL", "buy", D(3), D(101), "b2")  # covers at a loss
    assert env.core.breaker.trigger.value == "consecutive_losses"


def test_max_trades_per_day_stops_opening_trades(make_env):
    env = make_env(max_trades_per_day=3)
    env.quote()
    for _ in range(3):
        assert env.check(qty=1).approved
    assert env.core.breaker.trigger.value == "max_trades_per_day"
    assert env.check(qty=1).reason_code == Reason.CIRCUIT_BREAKER_ACTIVE
    env.hold("AAPL", 3)
    assert env.check(side="sell", qty=3).reason_code == Reason.OK  # closing is not blocked


def test_consecutive_broker_rejections(make_env):
    env = make_env(max_consecutive_rejections=3)
    env.core.on_broker_rejection()
    env.core.on_broker_rejection()
    env.core.on_broker_ok()
    env.core.on_broker_rejection()
    env.core.on_error("timeout")
    assert not env.core.breaker.active
    env.core.on_broker_rejection()
    assert env.core.breaker.trigger.value == "consecutive_rejections"
    assert env.core.breaker.mode is TradingState.HALTED


def test_error_rate_per_minute(make_env):
    env = make_env(max_error_rate_per_minute=3)
    for _ in range(3):
        env.core.on_error("http 503")
        env.core.on_broker_ok()
        env.clock.advance(20)
    env.core.on_error("http 503")  # the first one is now 60 s old: out of the window
    assert not env.core.breaker.active
    env.clock.advance(1)
    env.core.on_error("http 503")  # 4 in the last 60 s
    assert env.core.breaker.trigger.value == "error_rate"


def test_stale_market_data_is_evaluated_on_tick(make_env):
    env = make_env(market_data_stale_seconds=30)
    env.quote()
    env.core.on_tick()
    env.clock.advance(30)
    env.core.on_tick()
    assert not env.core.breaker.active
    env.quote()  # fresh data restarts the wait
    env.clock.advance(30.001)
    env.core.on_tick(session_open=False)  # closed session: no data expected
    env.core.on_tick()  # the session opens: data gets market_data_stale_seconds to arrive
    assert not env.core.breaker.active
    env.clock.advance(30.001)
    env.core.on_tick()
    assert env.core.breaker.trigger.value == "market_data_stale"


def test_no_data_at_all_also_trips(make_env):
    env = make_env(market_data_stale_seconds=10)
    env.core.on_tick()
    env.clock.advance(11)
    env.core.on_tick()
    assert env.core.breaker.active


def test_integrity_violation_halts_everything(make_env):
    env = make_env()
    env.quote()
    env.hold("AAPL", 10)
    env.core.on_integrity_violation("position_mismatch", "AAPL broker 12 vs ours 10")
    assert env.core.breaker.mode is TradingState.HALTED
    assert env.check(side="sell", qty=10).reason_code == Reason.CIRCUIT_BREAKER_ACTIVE


def test_a_halting_trigger_escalates_a_reducing_breaker(make_env):
    env = make_env(max_daily_loss=D(1))
    env.quote()
    env.hold("AAPL", 10)
    env.core.on_pnl(0, 0, 1000)
    env.core.on_pnl(0, -2, 998)
    assert env.core.breaker.mode is TradingState.REDUCING
    env.core.on_integrity_violation("overfill", "x")
    assert env.core.breaker.mode is TradingState.HALTED
    assert env.core.breaker.trigger.value == "daily_loss"  # the first cause stays
    assert env.events(BreakerEscalated)
    assert env.core.counters()["breaker_activations_by_trigger"]["daily_loss"] == 1
    assert env.core.counters()["breaker_activations_by_trigger"]["integrity"] == 0


def test_disabled_breaker_does_not_trip_automatically_but_the_kill_switch_works(make_env):
    env = make_env(enabled=False, max_consecutive_rejections=1)
    env.quote()
    env.core.on_broker_rejection()
    assert not env.core.breaker.active
    assert env.core.breaker.activate().ok
    assert env.core.breaker.trigger.value == "manual"
    assert env.check(qty=1).reason_code == Reason.CIRCUIT_BREAKER_ACTIVE


def test_manual_deactivation_needs_a_reason_and_respects_the_cooldown(make_env):
    env = make_env(cooldown_minutes=60, max_consecutive_rejections=1)
    env.quote()
    env.core.on_broker_rejection()  # an automatic trip
    assert env.core.breaker.trigger is BreakerTrigger.CONSECUTIVE_REJECTIONS
    assert not env.core.breaker.deactivate("").ok
    env.clock.advance(59 * 60)
    refused = env.core.breaker.deactivate("resolved")
    assert not refused.ok and "cooldown" in refused.message
    assert env.core.breaker.active
    env.clock.advance(60)
    assert env.core.breaker.deactivate("resolved").ok
    assert not env.core.breaker.active
    env.quote()
    assert env.check(qty=1).approved
    [event] = env.events(BreakerDeactivated)
    assert (
        event.reason == "resolved" and event.forced is False and event.trigger is BreakerTrigger.CONSECUTIVE_REJECTIONS
    )


def test_a_manual_activation_has_no_cooldown(make_env):
    env = make_env(cooldown_minutes=60)
    env.quote()
    assert env.core.breaker.activate("operator test").ok
    [event] = env.events(BreakerTripped)
    assert event.manual and event.trigger is BreakerTrigger.MANUAL
    refused = env.core.breaker.deactivate("  ")
    assert not refused.ok and "reason is required" in refused.message
    assert env.core.breaker.deactivate("maintenance done").ok  # at once: the cooldown guards automatic trips
    [event] = env.events(BreakerDeactivated)
    assert event.forced is False and event.trigger is BreakerTrigger.MANUAL
    env.quote()
    assert env.check(qty=1).approved


def test_forced_deactivation_before_the_cooldown(make_env):
    env = make_env(cooldown_minutes=60, max_consecutive_rejections=1)
    env.core.on_broker_rejection()
    assert env.core.breaker.deactivate("false alarm", force=True).ok
    assert env.events(BreakerDeactivated)[0].forced is True


def test_after_deactivation_a_daily_loss_still_beyond_the_limit_trips_again(make_env):
    env = make_env(max_daily_loss=D(100), max_consecutive_rejections=2)
    env.core.on_pnl(0, 0, 1000)
    env.core.on_pnl(-200, 0, 800)
    env.core.on_broker_rejection()
    env.core.on_broker_rejection()
    assert env.core.breaker.deactivate("ack", force=True).ok
    env.core.on_broker_rejection()  # the rejection streak was reset
    assert not env.core.breaker.active
    env.core.on_pnl(-200, 0, 800)
    assert env.core.breaker.trigger.value == "daily_loss"


def test_reloaded_limits_do_not_close_the_breaker(make_env):
    env = make_env()
    env.core.breaker.activate("x")
    env.core.set_limits(env.limits)
    assert env.core.breaker.active


# -- persistence and the trading day -----------------------------------------------------


def test_snapshot_restore_keeps_the_breaker_positions_and_open_orders(make_env):
    env = make_env(max_daily_loss=D(100), max_shares=D(100))
    env.quote()
    approved = env.check(qty=30)
    env.hold("AAPL", 50, 99)
    env.core.on_pnl(0, 0, 1000)
    env.core.on_pnl(-150, 0, 850)
    env.core.set_trading_state("REDUCING", "careful")
    saved = json.loads(json.dumps(env.core.snapshot()))

    env.clock.advance(120)
    restarted = RiskCore(env.limits, env.clock)
    restarted.restore(saved)
    assert restarted.breaker.active and restarted.breaker.trigger.value == "daily_loss"
    assert restarted.breaker.daily_pnl == D(-150)
    assert restarted.trading_state is TradingState.REDUCING
    assert restarted.book.position_qty("AAPL") == D(50)
    assert approved.intent_id in restarted.book.pending
    assert restarted.snapshot()["breaker"] == saved["breaker"]
    assert not restarted.breaker.deactivate("too early").ok  # cooldown counts from the trip


def test_an_unknown_snapshot_schema_is_refused(make_env):
    env = make_env()
    try:
        env.core.restore({"schema": 99})
    except ValueError:
        return
    raise AssertionError("restore accepted an unknown schema")


def _next_new_york_midnight_ns():
    from datetime import datetime

    return datetime_to_ns(datetime(2024, 3, 6, 5, 0, tzinfo=UTC))  # 00:00 EST


def test_day_rollover_resets_daily_counters_but_not_an_active_breaker(make_env):
    env = make_env(max_trades_per_day=2, max_daily_loss=D(100))
    env.quote()
    env.core.on_pnl(0, 0, 1000)
    env.core.on_pnl(-60, 0, 940)
    assert env.check(qty=1).approved and env.check(qty=1).approved
    assert env.core.breaker.trigger.value == "max_trades_per_day"

    env.clock.set(_next_new_york_midnight_ns() - 1)
    env.core.on_tick(session_open=False)
    assert env.core.breaker.trades_today == 2
    env.clock.set(_next_new_york_midnight_ns())
    env.core.on_tick(session_open=False)
    assert env.events(TradingDayStarted)[0].day == "2024-03-06"
    assert env.core.breaker.trades_today == 0
    assert env.core.breaker.daily_pnl == 0
    assert env.core.breaker.active  # still active: only an operator closes it
    env.core.on_pnl(-120, 0, 880)  # -60 today: within the limit
    assert env.core.breaker.trigger.value == "max_trades_per_day"


def test_restore_after_the_day_changed_resets_daily_counters(make_env):
    env = make_env(max_trades_per_day=100)
    env.quote()
    env.check(qty=1)
    env.core.on_pnl(0, 0, 1000)
    env.core.on_pnl(-50, 0, 950)
    env.core.breaker.activate("overnight")
    saved = env.core.snapshot()
    env.clock.set(_next_new_york_midnight_ns() + 3600 * 10**9)
    restarted = RiskCore(env.limits, env.clock)
    restarted.restore(saved)
    assert restarted.breaker.trades_today == 0
    assert restarted.breaker.daily_pnl == 0
    assert restarted.breaker.active
