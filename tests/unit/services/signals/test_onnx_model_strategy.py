"""The onnx_model strategy and the bridge's ModelHost with a real model in onnxruntime:
trading through the core, the four model faults (NaN output, features shifted by 2 sigma,
expired model, slow model) each stopping new intents with an alert, an audit line and
reduce-only at the risk manager, hot swap without losing a bar, refusal and rollback."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pyrt.bus import schema as wire
from pyrt.domain.clock import ManualClock
from pyrt.domain.enums import OrderSide
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar
from pyrt.domain.orders import OrderState
from pyrt.services.signals.core import SignalCore
from pyrt.services.signals.features import WARMUP_BARS, batch_features
from pyrt.services.signals.model_host import ModelHost
from pyrt.services.signals.strategies.onnx_model import OnnxModelStrategy
from tests.support.history import daily_series
from tests.support.models import nan_model, train_tiny

DAY_NS = 86_400 * 1_000_000_000


class Harness:
    """A core with one onnx_model strategy on AAPL, instant fills, and a ModelHost whose
    risk manager and audit log record what they are sent."""

    def __init__(self, model: Path | None, **params: Any) -> None:
        self.clock = ManualClock()
        self.strategy = OnnxModelStrategy("ml", ["AAPL"], {"model_path": str(model) if model else None, **params})
        self.core = SignalCore([self.strategy], self.clock, intent_epoch="t")
        self.risk_commands: list[wire.ControlCommand] = []
        self.audit: list[tuple[str, dict[str, Any]]] = []
        self.host = ModelHost([self.strategy], self._risk, lambda a, d: self.audit.append((a, d)))
        self.host.load_configured()
        self.strategy.timer = lambda: 0.0  # no wall clock in the health checks (tests set their own)
        self.intents: list[OrderIntent] = []
        self.position = Decimal(0)
        self.highs, self.lows, self.closes = daily_series("AAPL")
        self.i = 0

    def _risk(self, cmd: wire.ControlCommand) -> wire.ControlResult:
        self.risk_commands.append(cmd)
        return wire.ControlResult(True, "strategy ml reduce-only")

    def bar(self, shift: float = 0.0) -> list[OrderIntent]:
        """The next shared daily bar (its close scaled by 1 + shift); fills every intent."""
        i = self.i % len(self.closes)
        self.i += 1
        k = 1.0 + shift
        self.clock.advance(60)
        bar = Bar("AAPL", self.closes[i] * k, self.highs[i] * k, self.lows[i] * k, self.closes[i] * k, 1e6,
                  self.clock.now_ns())  # fmt: skip
        out = [o for o in self.core.on_bar(bar) if isinstance(o, OrderIntent)]
        for o in out:
            self.core.on_risk_decision(o.intent_id, True, "OK")
            self.position += o.qty if o.side is OrderSide.BUY else -o.qty
            self.core.on_execution_report("ml", "AAPL", OrderState.FILLED, self.position, o.intent_id)
        self.host.check_health()
        self.intents += out
        return out

    def reduce_only_asked(self) -> bool:
        """The last word to the risk manager made this strategy (and only it) reduce-only."""
        modes = [c for c in self.risk_commands if c.action == "strategy_reduce_only"]
        return bool(modes) and modes[-1].args == {"strategy": "ml", "on": "true"}


class Shifted:
    """A feature stream whose every row is moved by `shift` (the drift fault)."""

    def __init__(self, inner: Any, shift: Any) -> None:
        self.inner, self.shift = inner, shift

    def update(self, high: float, low: float, close: float) -> tuple[float, ...] | None:
        row = self.inner.update(high, low, close)
        return None if row is None else tuple((np.asarray(row) + self.shift).tolist())


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    logreg = train_tiny(d, name="lr")
    return {"logreg": logreg, "gbm": train_tiny(d, kind="gbm", name="gb"), "nan": nan_model(logreg, d / "nan.onnx")}


def test_without_a_model_the_strategy_computes_features_and_sends_nothing() -> None:
    h = Harness(None)
    for _ in range(WARMUP_BARS + 5):
        assert h.bar() == []
    assert h.strategy.model is None


def test_the_model_trades_through_the_core(models: dict[str, Path]) -> None:
    h = Harness(models["logreg"], buy_threshold=0.0, sell_threshold=0.0)
    assert h.strategy.model is not None and h.strategy.model.version == 1
    for _ in range(WARMUP_BARS - 1):
        assert h.bar() == []
    first = h.bar()
    assert [(o.side, o.qty, o.symbol) for o in first] == [(OrderSide.BUY, Decimal(10), "AAPL")]
    assert first[0].reason.startswith("model v1 long p=")
    for _ in range(10):  # long already: no more entries while the view stays long
        assert h.bar() == []


def _unhealthy_within_one_bar(h: Harness, check: str) -> None:
    assert h.bar() == [], "the faulty bar sent an intent"
    assert not h.strategy.healthy and h.strategy.unhealthy_reason.startswith(check)
    assert h.reduce_only_asked(), "risk manager not asked for reduce-only"
    assert any(a == "model.unhealthy" and d["check"] == check and d["reduce_only"] for a, d in h.audit)
    for _ in range(30):
        assert h.bar() == [], "an intent after the model was stopped"


def _warm(h: Harness) -> None:
    for _ in range(WARMUP_BARS + 3):
        h.bar()
    assert h.strategy.healthy


def test_fault_nan_output_stops_the_strategy(models: dict[str, Path]) -> None:
    h = Harness(models["logreg"], buy_threshold=0.99, sell_threshold=0.01)
    _warm(h)
    h.strategy.model.predict_proba = lambda row: float("nan")  # the fault, on the real session
    _unhealthy_within_one_bar(h, "nan_output")


def test_fault_slow_inference_stops_the_strategy(models: dict[str, Path]) -> None:
    h = Harness(models["logreg"], buy_threshold=0.99, sell_threshold=0.01, latency_budget_us=1000, latency_strikes=1)
    _warm(h)
    ticks = iter(float(i) for i in range(1000))  # each timer read 1 s after the last: 1 s inference
    h.strategy.timer = lambda: next(ticks)
    _unhealthy_within_one_bar(h, "latency")


def test_one_slow_inference_is_a_hiccup_three_in_a_row_stop_the_model(models: dict[str, Path]) -> None:
    h = Harness(models["logreg"], buy_threshold=0.99, sell_threshold=0.01, latency_budget_us=1000)
    _warm(h)
    slow = iter([0.0, 1.0])  # one inference of 1 s, then instant ones
    h.strategy.timer = lambda: next(slow, 0.0)
    for _ in range(5):
        h.bar()
    assert h.strategy.healthy
    ticks = iter(float(i) for i in range(1000))
    h.strategy.timer = lambda: next(ticks)
    h.bar()
    h.bar()
    assert h.strategy.healthy
    _unhealthy_within_one_bar(h, "latency")


def test_fault_expired_model_stops_the_strategy(models: dict[str, Path]) -> None:
    h = Harness(models["logreg"], buy_threshold=0.99, sell_threshold=0.01, max_model_age_days=2)
    created = datetime.fromisoformat(h.strategy.model.manifest.created_at)
    h.clock.set(int(created.timestamp() * 1e9))
    _warm(h)
    h.clock.set(int(created.timestamp() * 1e9) + 2 * DAY_NS)
    _unhealthy_within_one_bar(h, "expired")


def test_fault_features_shifted_by_two_sigma_is_drift(models: dict[str, Path]) -> None:
    h = Harness(models["logreg"], buy_threshold=0.99, sell_threshold=0.01, drift_window=200, drift_min_samples=200)
    sigma = np.nanstd(batch_features(h.highs, h.lows, h.closes), axis=0)
    for _ in range(WARMUP_BARS + 200):  # the training period's bars: no drift
        h.bar()
    assert h.strategy.healthy and max(h.strategy.last_psi.values()) < 0.25
    state = h.core._runtimes["ml"].states["AAPL"]  # noqa: SLF001  (inject the shift into the stream)
    state.features = Shifted(state.features, 2.0 * sigma)
    bars = 0
    while h.strategy.healthy:
        assert h.bar() == [] or h.strategy.healthy
        bars += 1
        assert bars <= 200, "drift not detected within one window"
    assert h.strategy.unhealthy_reason.startswith("drift: PSI of")
    _unhealthy_within_one_bar(h, "drift")


def test_serving_a_healthy_model_lifts_the_strategys_reduce_only(models: dict[str, Path]) -> None:
    """A sick model makes only its own strategy reduce-only; deploying another model (or a
    rollback) serves it and asks the risk manager to let the strategy trade again."""
    h = Harness(models["logreg"], buy_threshold=0.99, sell_threshold=0.01)
    _warm(h)
    h.strategy.model.predict_proba = lambda row: float("nan")
    _unhealthy_within_one_bar(h, "nan_output")
    ok, _ = h.host.load("ml", models["gbm"], why="deploy")
    assert ok and h.strategy.healthy
    last = [c for c in h.risk_commands if c.action == "strategy_reduce_only"][-1]
    assert last.args == {"strategy": "ml", "on": "false"} and "served (deploy)" in last.reason


def test_hot_swap_keeps_every_bar_and_rollback_restores_the_previous_model(models: dict[str, Path]) -> None:
    h = Harness(models["logreg"])
    seen: list[float] = []
    for _ in range(WARMUP_BARS + 5):
        h.bar()
    lr_sha = h.strategy.model.sha256
    observe = h.strategy.observer
    h.strategy.observer = lambda s, p: (seen.append(p), observe and observe(s, p))
    ok, detail = h.host.load("ml", models["gbm"], why="test")
    assert ok and detail.startswith(f"Model loaded: {models['gbm']}")
    for _ in range(50):
        h.bar()
    assert len(seen) == 50  # every bar after the swap was predicted, with no new warm-up
    assert h.strategy.model.manifest.model_kind.startswith("gbm")
    ok, _ = h.host.rollback("ml")
    assert ok and h.strategy.model.sha256 == lr_sha


def test_a_refused_model_leaves_the_served_one_serving(models: dict[str, Path]) -> None:
    h = Harness(models["logreg"])
    served = h.strategy.model
    ok, detail = h.host.load("ml", models["nan"], why="test")
    assert not ok and "parity fixture" in detail
    assert h.strategy.model is served
    assert any(a == "model.refused" for a, _ in h.audit)
    status = h.host.control(wire.ControlCommand("model_status")).data["models"]["ml"]
    assert status["sha256"] == served.sha256 and status["healthy"]


def test_a_shadow_model_predicts_without_trading_and_reports_agreement(models: dict[str, Path]) -> None:
    h = Harness(models["logreg"], buy_threshold=0.0, sell_threshold=0.0)
    assert not h.host.shadow("ml", models["nan"])[0]  # the gates apply to a shadow too
    ok, _ = h.host.shadow("ml", models["gbm"])
    assert ok
    for _ in range(WARMUP_BARS + 20):
        h.bar()
    assert len(h.intents) == 1  # only the served model trades
    status = h.host.control(wire.ControlCommand("model_status")).data["models"]["ml"]["shadow"]
    assert status["bars"] == 21 and status["agree"] == 21  # thresholds 0: every view is long
    served = h.strategy.model.sha256
    result = h.host.control(wire.ControlCommand("model_promote", {"strategy": "ml"}))
    assert result.ok and "21/21 bars agreed" in result.detail
    assert h.strategy.model.manifest.model_kind.startswith("gbm") and h.strategy.shadow is None
    assert h.host.rollback("ml")[0] and h.strategy.model.sha256 == served


def test_a_model_strategy_idle_at_start_is_started_by_its_first_model(models: dict[str, Path]) -> None:
    """A model strategy with no model at start is not running; loading its first model (a
    deploy, or the config's model_path after SIGHUP) builds it, adds it to the core and
    serves the model. A refused model starts nothing."""
    other = OnnxModelStrategy("other", ["AAPL"], {"model_path": None})
    core = SignalCore([other], ManualClock())
    started: list[str] = []

    def start_idle(name: str, path: str) -> OnnxModelStrategy | None:
        if name != "ml":
            return None
        s = OnnxModelStrategy("ml", ["AAPL", "MSFT"], {"model_path": path})
        core.add_strategy(s)
        started.append(name)
        return s

    host = ModelHost([other], lambda cmd: wire.ControlResult(True, "ok"), lambda a, d: None, start_idle=start_idle)
    ok, detail = host.load("ml", models["nan"], why="deploy")
    assert not ok and "parity fixture" in detail and started == [] and "ml" not in core.strategy_names
    ok, detail = host.load("ml", models["logreg"], why="deploy")
    assert ok and started == ["ml"] and "ml" in core.strategy_names
    assert host.strategies["ml"].model is not None and host.status()["models"]["ml"]["healthy"]
    assert core.owners == {"MSFT": "ml"}  # AAPL is shared with "other" now
    assert not host.load("nobody", models["logreg"], why="deploy")[0]


def test_add_strategy_refuses_a_running_name() -> None:
    s = OnnxModelStrategy("ml", ["AAPL"], {"model_path": None})
    core = SignalCore([s], ManualClock())
    with pytest.raises(ValueError, match="duplicate strategy name"):
        core.add_strategy(OnnxModelStrategy("ml", ["AAPL"], {"model_path": None}))
