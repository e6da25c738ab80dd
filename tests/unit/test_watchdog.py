"""The execution engine's dead-man watchdog."""

from pyrt.services.execution.watchdog import Watchdog

S = 1_000_000_000


def test_risk_silence_blocks_orders_until_heard_again():
    w = Watchdog(0, risk_silence_s=3, cancel_after_s=30)
    assert not w.check(2 * S).block_orders
    v = w.check(4 * S)
    assert v.block_orders and "risk manager silent" in v.reason and not v.cancel_now
    w.heard("risk_manager", 5 * S)
    assert not w.check(6 * S).block_orders


def test_cancel_once_when_risk_and_market_data_are_both_silent():
    w = Watchdog(0, risk_silence_s=3, cancel_after_s=30)
    w.heard("market_data", 20 * S)
    assert not w.check(31 * S).cancel_now  # market data still recent
    v = w.check(51 * S)
    assert v.cancel_now and v.block_orders
    assert not w.check(52 * S).cancel_now  # once per episode
    w.heard("risk_manager", 53 * S)
    w.heard("market_data", 53 * S)
    w.check(54 * S)
    assert w.check(90 * S).cancel_now  # a new episode cancels again
