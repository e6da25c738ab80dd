"""risk_limits.toml: the shipped limits, and invalid files (each problem names file,
field and reason)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pyrt.config import ConfigError, load_config, load_risk_limits, validate_files
from pyrt.domain.enums import BreakerTrigger, TradingState

RISK = "config/risk_limits.toml"


def test_shipped_limits_are_the_originals(cfg: Any) -> None:
    risk = load_config(cfg.path, env={}).risk
    assert risk.position_limits.max_shares == 1000
    assert risk.position_limits.max_notional_per_position == Decimal(10000)
    assert risk.position_limits.max_total_exposure == Decimal(50000)
    assert risk.position_limits.max_open_positions == 5
    ov = risk.order_validation
    assert (ov.max_order_size, ov.max_order_value, ov.min_price, ov.max_price) == (1000, 10000, Decimal("0.01"), 10000)
    assert (ov.price_collar_percent, ov.max_quote_age_seconds) == (5, 5.0)
    assert risk.throttle.max_orders_per_minute == 60
    assert risk.loss_limits.max_daily_loss == risk.circuit_breaker.daily_loss_threshold == 5000
    cb = risk.circuit_breaker
    assert (cb.max_consecutive_losses, cb.max_trades_per_day, cb.cooldown_minutes, cb.auto_resume) == (5, 50, 60, False)
    assert {t: cb.modes.for_trigger(t) for t in BreakerTrigger}[BreakerTrigger.MANUAL] is TradingState.HALTED


def test_money_is_exact_decimal(cfg: Any) -> None:
    assert load_config(cfg.path, env={}).risk.order_validation.min_price == Decimal("0.01")
    assert str(load_risk_limits(cfg.path / "risk_limits.toml").order_validation.min_price) == "0.01"


def test_absent_daily_loss_threshold_takes_max_daily_loss(cfg: Any) -> None:
    cfg.edit_risk({"daily_loss_threshold = 5000.0": ""})
    assert load_config(cfg.path, env={}).risk.circuit_breaker.daily_loss_threshold == Decimal("5000.0")


INVALID_RISK = [
    (
        "zero limit",
        {"max_shares = 1000 ": "max_shares = 0 "},
        "position_limits.max_shares: Input should be greater than 0 (got 0)",
    ),
    (
        "negative limit",
        {"max_total_exposure = 50000.0": "max_total_exposure = -1.0"},
        "position_limits.max_total_exposure: Input should be greater than 0 (got -1.0)",
    ),
    ("missing limit", {"max_daily_loss = 5000.0 ": "# "}, "loss_limits.max_daily_loss: required"),
    ("missing section", {"[throttle]": "[throttle_x]"}, "throttle: required"),
    (
        "unknown key",
        {"max_open_positions = 5": "max_open_positions = 5\nmax_concentration_percent = 25.0"},
        "position_limits.max_concentration_percent: unknown key",
    ),
    ("unknown section", {"[metadata]": "[volatility]\nmax_atr_percent = 5.0\n[metadata]"}, "volatility: unknown key"),
    (
        "float count",
        {"max_open_positions = 5": "max_open_positions = 2.5"},
        "position_limits.max_open_positions: Input should be a valid integer",
    ),
    (
        "string limit",
        {"max_order_value = 10000.0": 'max_order_value = "lots"'},
        "order_validation.max_order_value: must be a number, not the string 'lots'",
    ),
    (
        "min > max size",
        {"min_order_size = 1 ": "min_order_size = 2000 "},
        "order_validation.min_order_size: must be <= max_order_size (1000)",
    ),
    (
        "min > max price",
        {"min_price = 0.01": "min_price = 20000.0"},
        "order_validation.min_price: must be <= max_price (10000.0)",
    ),
    (
        "collar over 100%",
        {"price_collar_percent = 5.0": "price_collar_percent = 150.0"},
        "order_validation.price_collar_percent: Input should be less than or equal to 100",
    ),
    (
        "zero quote age",
        {"max_quote_age_seconds = 5.0": "max_quote_age_seconds = 0.0"},
        "order_validation.max_quote_age_seconds: Input should be greater than 0",
    ),
    (
        "symbol rate > rate",
        {"max_orders_per_symbol_per_minute = 10": "max_orders_per_symbol_per_minute = 100"},
        "throttle.max_orders_per_symbol_per_minute: must be <= max_orders_per_minute (60)",
    ),
    (
        "per trade > daily",
        {"max_loss_per_trade = 500.0": "max_loss_per_trade = 6000.0"},
        "loss_limits.max_loss_per_trade: must be <= max_daily_loss (5000.0)",
    ),
    (
        "notional > exposure",
        {"max_notional_per_position = 10000.0": "max_notional_per_position = 60000.0"},
        "position_limits.max_notional_per_position: must be <= max_total_exposure (50000.0)",
    ),
    (
        "daily loss mismatch",
        {"daily_loss_threshold = 5000.0": "daily_loss_threshold = 4000.0"},
        "circuit_breaker.daily_loss_threshold: must equal loss_limits.max_daily_loss (5000.0) or be absent",
    ),
    ("auto resume", {"auto_resume = false": "auto_resume = true"}, "circuit_breaker.auto_resume: not supported"),
    (
        "zero cooldown",
        {"cooldown_minutes = 60": "cooldown_minutes = 0"},
        "circuit_breaker.cooldown_minutes: Input should be greater than 0",
    ),
    (
        "bad mode",
        {'manual = "HALTED"': 'manual = "PAUSED"'},
        "circuit_breaker.modes.manual: Input should be 'HALTED' or 'REDUCING'",
    ),
    (
        "unknown trigger",
        {'manual = "HALTED"': 'manual = "HALTED"\nsunspots = "HALTED"'},
        "circuit_breaker.modes.sunspots: unknown key",
    ),
    ("syntax", {"[throttle]": "[throttle"}, "(file): syntax error"),
]


@pytest.mark.parametrize(("edits", "expected"), [c[1:] for c in INVALID_RISK], ids=[c[0] for c in INVALID_RISK])
def test_invalid_risk_limits_name_file_field_and_reason(cfg: Any, edits: dict[str, str], expected: str) -> None:
    cfg.edit_risk(edits)
    with pytest.raises(ConfigError) as info:
        load_config(cfg.path, env={})
    assert any(line.startswith(f"{RISK}: {expected}") for line in info.value.problems), str(info.value)


def test_load_risk_limits_alone_raises_config_error(cfg: Any) -> None:
    cfg.edit_risk({"max_shares = 1000 ": "max_shares = -3 "})
    with pytest.raises(ConfigError, match="position_limits.max_shares"):
        load_risk_limits(cfg.path / "risk_limits.toml")


def test_every_problem_of_the_file_is_listed(cfg: Any) -> None:
    cfg.edit_risk(
        {
            "max_shares = 1000 ": "max_shares = 0 ",
            "cooldown_minutes = 60": "cooldown_minutes = -1",
            "min_price = 0.01": "min_price = 0",
        }
    )
    fields = [p.split(": ")[1] for p in validate_files(cfg.path, env={})]
    assert sorted(fields) == [
        "circuit_breaker.cooldown_minutes",
        "order_validation.min_price",
        "position_limits.max_shares",
    ]
