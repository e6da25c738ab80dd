"""The risk core runs on the config's own `RiskLimits` (there is no second limits model):
the shipped risk_limits.toml drives it as loaded, the breaker modes come from the file with
the domain's defaults, and a reload swaps the limits without touching the breaker."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from pyrt.config import load_risk_limits
from pyrt.config.risk import BreakerModes, RiskLimits
from pyrt.domain.enums import BreakerTrigger, TradingState
from pyrt.services.risk.core import Reason, RiskCore

from .conftest import START_NS, Env

REPO = Path(__file__).resolve().parents[4]
D = Decimal


@pytest.fixture
def limits_file(tmp_path: Path) -> Path:
    path = tmp_path / "risk_limits.toml"
    shutil.copy(REPO / "config" / "risk_limits.toml", path)
    return path


def test_the_core_takes_the_loaded_config_model(limits_file: Path) -> None:
    limits = load_risk_limits(limits_file)
    assert isinstance(limits, RiskLimits)
    env = Env()
    env.core = RiskCore(limits, env.clock)
    env.quote(bid=10.0, ask=10.0)
    assert env.check(qty=limits.position_limits.max_shares).approved  # 1000 x $10 = max_order_value
    env.quote("MSFT", bid=10.0, ask=10.0)
    denied = env.check(symbol="MSFT", qty=1001)
    assert (denied.approved, denied.reason_code) == (False, Reason.MAX_ORDER_SIZE)


def test_every_trigger_has_a_mode_field_defaulting_to_the_domain_default() -> None:
    modes = BreakerModes()
    assert set(BreakerModes.model_fields) == {t.value for t in BreakerTrigger}
    for trigger in BreakerTrigger:
        assert modes.for_trigger(trigger) is trigger.default_mode
    assert BreakerTrigger.DAILY_LOSS.default_mode is TradingState.REDUCING
    assert BreakerTrigger.INTEGRITY.default_mode is TradingState.HALTED


def test_modes_set_in_the_file_reach_the_breaker(limits_file: Path) -> None:
    text = limits_file.read_text()
    assert 'daily_loss = "REDUCING"' in text
    limits_file.write_text(text.replace('daily_loss = "REDUCING"', 'daily_loss = "HALTED"'))
    limits = load_risk_limits(limits_file)
    assert limits.mode_for(BreakerTrigger.DAILY_LOSS) is TradingState.HALTED
    assert limits.mode_for(BreakerTrigger.DRAWDOWN) is TradingState.REDUCING
    env = Env()
    env.core = RiskCore(limits, env.clock)
    env.core.on_pnl(D(0), D(0), D(100_000))
    env.core.on_pnl(D(0), D("-5000.01"), D(95_000))
    assert env.core.breaker.mode is TradingState.HALTED


def test_cooldown_in_nanoseconds() -> None:
    assert Env(cooldown_minutes=1.5).limits.cooldown_ns == 90 * 1_000_000_000


def test_a_reload_swaps_the_limits_and_keeps_the_breaker(make_env: type[Env]) -> None:
    env = make_env(max_shares=D(10))
    env.quote()
    env.core.breaker.activate("drill", TradingState.REDUCING)
    env.core.set_limits(Env(max_shares=D(20)).limits)
    assert env.core.limits.position_limits.max_shares == 20
    assert env.core.breaker.active and env.core.breaker.mode is TradingState.REDUCING
    env.core.breaker.deactivate("drill over", force=True)
    assert env.check(qty=20).approved


def test_the_harness_refuses_unknown_limit_names() -> None:
    with pytest.raises(TypeError, match="max_sharez"):
        Env(max_sharez=1)
    assert Env().clock.now_ns() == START_NS
