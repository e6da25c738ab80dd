"""RiskLimits: defaults, the nested TOML shape, validation."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest

from pyrt.services.risk.limits import DEFAULT_TRIGGER_MODES, RiskLimits
from pyrt.services.risk.state import TradingState, Trigger

TOML = """
[position_limits]
max_shares = 500
max_notional_per_position = 5000.0
max_total_exposure = 50000.0
max_open_positions = 5
max_concentration_percent = 25.0

[loss_limits]
max_loss_per_trade = 500
max_daily_loss = 5000
max_weekly_loss = 15000
drawdown_threshold_percent = 10.0

[circuit_breaker]
enabled = true
daily_loss_threshold = 5000
max_consecutive_losses = 5
max_trades_per_day = 50
max_consecutive_rejections = 3
max_error_rate_per_minute = 20
market_data_stale_seconds = 15
cooldown_minutes = 60
auto_resume = false

[circuit_breaker.modes]
daily_loss = "HALTED"
consecutive_losses = "reducing"

[order_validation]
min_order_size = 1
max_order_size = 1000
max_order_value = 10000
min_price = 0.01
max_price = 10000
max_slippage_percent = 0.5
price_collar_percent = 3
max_quote_age_seconds = 2.5

[throttle]
max_orders_per_minute = 100
max_orders_per_symbol_per_minute = 7

[leverage]
allow_leverage = false
"""


def test_from_mapping_reads_the_nested_toml_shape():
    limits = RiskLimits.from_mapping(tomllib.loads(TOML))
    assert limits.max_shares == Decimal(500)
    assert limits.max_notional_per_position == Decimal("5000.0")
    assert limits.min_price == Decimal("0.01")  # float from TOML, exact in Decimal
    assert limits.max_loss_per_trade == Decimal(500)
    assert limits.max_daily_loss == Decimal(5000)
    assert limits.max_consecutive_rejections == 3
    assert limits.market_data_stale_seconds == 15.0
    assert limits.price_collar_percent == Decimal(3)
    assert limits.max_quote_age_seconds == 2.5
    assert (limits.max_orders_per_minute, limits.max_orders_per_symbol_per_minute) == (100, 7)
    assert limits.breaker_enabled is True
    assert limits.mode_for(Trigger.DAILY_LOSS) is TradingState.HALTED
    assert limits.mode_for(Trigger.CONSECUTIVE_LOSSES) is TradingState.REDUCING
    assert limits.mode_for(Trigger.INTEGRITY) is DEFAULT_TRIGGER_MODES["integrity"]


def test_missing_sections_keep_defaults():
    assert RiskLimits.from_mapping({}) == RiskLimits()


@pytest.mark.parametrize(
    "data",
    [
        {"loss_limits": {"max_daily_loss": 5000}, "circuit_breaker": {"daily_loss_threshold": 4000}},
        {"circuit_breaker": {"auto_resume": True}},
        {"circuit_breaker": {"modes": {"daily_loss": "ACTIVE"}}},
        {"circuit_breaker": {"modes": {"volcano": "HALTED"}}},
        {"position_limits": {"max_shares": 0}},
        {"position_limits": {"max_open_positions": 2.5}},
        {"order_validation": {"min_order_size": 10, "max_order_size": 5}},
        {"order_validation": {"min_price": "abc"}},
        {"circuit_breaker": {"enabled": "yes"}},
    ],
)
def test_bad_config_is_refused(data):
    with pytest.raises(ValueError):
        RiskLimits.from_mapping(data)


def test_limits_are_frozen_and_hashable():
    limits = RiskLimits()
    with pytest.raises(AttributeError):
        limits.max_shares = Decimal(1)  # type: ignore[misc]
    assert hash(limits) == hash(RiskLimits())
