"""A trained model as a strategy (kind `onnx_model`): on each bar (or each interval of quote
mids) the features of `pyrt.services.signals.features` are computed, the model gives the
probability that the price is higher `horizon` bars on, and the probability becomes a
target: long at or above `buy_threshold`, flat (short when allowed) at or below
`sell_threshold`. Intents go through the same risk gate as every strategy's.

The model is attached by the signal bridge (`attach`), never loaded here: building a
strategy (config checks, the CLI) stays free of onnxruntime. Without a model the strategy
computes features and emits nothing.

Model health: a NaN or infinite output, a missing feature, an expired model (older than
`max_model_age_days`), PSI at or above `psi_act` for any feature or the predictions, or an
inference slower than `latency_budget_us` (`latency_strikes` times in a row) makes the strategy unhealthy: from that bar on
it emits no intent, and it queues a `ModelHealthEvent` the bridge turns into an alert, an
audit line and reduce-only at the risk manager. A newly attached model starts healthy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec

from pyrt.domain.market import Bar, Quote
from pyrt.services.signals.features import FEATURE_NAMES, FeatureStream
from pyrt.services.signals.model.drift import DriftWindow
from pyrt.services.signals.strategy import (
    NO_OUTPUT,
    OrderSettings,
    Output,
    Signal,
    SignalDirection,
    Strategy,
    StrategyContext,
    SymbolState,
)

NS_PER_DAY = 86_400 * 1_000_000_000


class OnnxModelParams(OrderSettings, kw_only=True, forbid_unknown_fields=True):
    """`model_path` (default: signals.model_path); thresholds on P(up); the price source
    ("bar", or "quote": OHLC of mids per `sample_interval_s`); health limits."""

    model_path: str | None = None
    buy_threshold: float = 0.55
    sell_threshold: float = 0.45
    source: Literal["bar", "quote"] = "bar"
    sample_interval_s: float = 60.0
    max_model_age_days: float | None = None
    latency_budget_us: float = 5_000.0
    latency_strikes: int = 3  # consecutive inferences over budget that stop the model (one is a hiccup)
    psi_warn: float = 0.1
    psi_act: float = 0.25
    drift_window: int = 200
    drift_min_samples: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.sell_threshold <= self.buy_threshold <= 1.0:
            raise ValueError("buy_threshold: need 0 <= sell_threshold <= buy_threshold <= 1")
        if self.sample_interval_s <= 0:
            raise ValueError("sample_interval_s: must be > 0")
        if self.max_model_age_days is not None and self.max_model_age_days <= 0:
            raise ValueError("max_model_age_days: must be > 0")
        if self.latency_budget_us <= 0:
            raise ValueError("latency_budget_us: must be > 0")
        if self.latency_strikes < 1:
            raise ValueError("latency_strikes: must be >= 1")
        if not 0.0 < self.psi_warn <= self.psi_act:
            raise ValueError("psi_act: need 0 < psi_warn <= psi_act")
        if self.drift_min_samples < 1 or self.drift_window < self.drift_min_samples:
            raise ValueError("drift_window: need drift_window >= drift_min_samples >= 1")


class ModelHealthEvent(msgspec.Struct, frozen=True, kw_only=True):
    """`level` "warn" (drift past psi_warn) or "act" (the strategy stopped trading)."""

    strategy: str
    level: Literal["warn", "act"]
    check: str  # nan_output, missing_feature, expired, drift, latency
    detail: str
    model: str
    version: int
    ts_ns: int


class OhlcSampler:
    """OHLC of quote mids per fixed interval: `update(ts_ns, px)` returns the previous
    interval's (high, low, close) when a sample starts a new interval."""

    __slots__ = ("_bucket", "_high", "_last", "_low", "interval_ns")

    def __init__(self, interval_ns: int) -> None:
        self.interval_ns = interval_ns
        self._bucket = -1
        self._high = self._low = self._last = math.nan

    def update(self, ts_ns: int, px: float) -> tuple[float, float, float] | None:
        bucket = ts_ns // self.interval_ns
        if bucket == self._bucket:
            self._high = max(self._high, px)
            self._low = min(self._low, px)
            self._last = px
            return None
        if bucket < self._bucket:
            return None
        closed = (self._high, self._low, self._last) if self._bucket >= 0 else None
        self._bucket = bucket
        self._high = self._low = self._last = px
        return closed


class ModelState(SymbolState):
    def __init__(self, symbol: str, interval_ns: int | None) -> None:
        super().__init__(symbol)
        self.features = FeatureStream()
        self.sampler = OhlcSampler(interval_ns) if interval_ns else None
        self.direction: SignalDirection | None = None  # the last signalled view
        self.target: SignalDirection | None = None  # still to be reached (None: reached)


class OnnxModelStrategy(Strategy):
    kind = "onnx_model"
    params_type = OnnxModelParams

    def __init__(self, name: str, symbols: Sequence[str], params: Mapping[str, Any] | None = None) -> None:
        super().__init__(name, symbols, params)
        p: OnnxModelParams = self.params
        self.wants_quotes = p.source == "quote"
        self.wants_bars = p.source == "bar"
        self.model: Any = None  # a LoadedModel (pyrt.services.signals.model.loader)
        self.healthy = True
        self.unhealthy_reason = ""
        self.health_events: list[ModelHealthEvent] = []
        self.drift: DriftWindow | None = None
        self.last_psi: dict[str, float] = {}
        self._warned: set[str] = set()
        self._expires_ns: int | None = None
        self._slow = 0  # consecutive inferences over the latency budget
        self.timer: Callable[[], float] = time.perf_counter
        self.observer: Callable[[float, float], None] | None = None  # (seconds, probability)
        self.last_features: dict[str, tuple[float, ...]] = {}
        self.shadow: Any = None  # a candidate model: predicts on every bar, never trades
        self.shadow_bars = 0
        self.shadow_agree = 0

    # --- the model ------------------------------------------------------------------

    def attach(self, model: Any) -> None:
        """Serve `model` from the next bar on (feature state is kept, so no warm-up)."""
        p: OnnxModelParams = self.params
        refs = model.manifest.reference
        self.model = model
        self.drift = DriftWindow(refs, [*FEATURE_NAMES, "prediction"], p.drift_window, p.drift_min_samples)
        self.healthy, self.unhealthy_reason = True, ""
        self._warned.clear()
        self._slow = 0
        self.last_psi = {}
        self._expires_ns = None
        if p.max_model_age_days is not None:
            created = datetime.fromisoformat(model.manifest.created_at)
            self._expires_ns = int(created.timestamp() * 1e9) + int(p.max_model_age_days * NS_PER_DAY)

    def start_shadow(self, model: Any) -> None:
        """Run `model` beside the served one from the next bar on, counting agreement."""
        self.shadow, self.shadow_bars, self.shadow_agree = model, 0, 0

    def view(self, prob: float) -> SignalDirection | None:
        """The view a probability gives under this strategy's thresholds (None: no view)."""
        p: OnnxModelParams = self.params
        if prob >= p.buy_threshold:
            return SignalDirection.LONG
        if prob <= p.sell_threshold:
            return SignalDirection.SHORT if p.allow_short else SignalDirection.FLAT
        return None

    def create_state(self, symbol: str) -> ModelState:
        p: OnnxModelParams = self.params
        return ModelState(symbol, int(p.sample_interval_s * 1e9) if p.source == "quote" else None)

    # --- data -------------------------------------------------------------------------

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Sequence[Output]:
        state: Any = ctx.state(bar.symbol)  # the ModelState create_state made
        return self._on_close(ctx, state, bar.symbol, bar.high, bar.low, bar.close, bar.ts_ns)

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> Sequence[Output]:
        if not (0.0 < quote.bid_price <= quote.ask_price):
            return NO_OUTPUT
        state: Any = ctx.state(quote.symbol)
        closed = state.sampler.update(quote.ts_ns, quote.mid)
        if closed is None:
            return NO_OUTPUT
        high, low, close = closed
        return self._on_close(ctx, state, quote.symbol, high, low, close, quote.ts_ns)

    def _on_close(
        self, ctx: StrategyContext, state: ModelState, symbol: str, high: float, low: float, close: float, ts_ns: int
    ) -> Sequence[Output]:
        row = state.features.update(high, low, close)
        if row is None or self.model is None or not self.healthy:
            return NO_OUTPUT
        self.last_features[symbol] = row
        if not self._check_inputs(ctx, row):
            return NO_OUTPUT
        t0 = self.timer()
        prob = self.model.predict_proba(row)
        elapsed = self.timer() - t0
        if self.observer is not None:
            self.observer(elapsed, prob)
        if not self._check_output(ctx, prob, elapsed, row):
            return NO_OUTPUT
        if self.shadow is not None:
            shadow_prob = self.shadow.predict_proba(row)
            self.shadow_bars += 1
            self.shadow_agree += self.view(shadow_prob) is self.view(prob)
        return self._decide(ctx, state, symbol, prob, close, ts_ns, row)

    # --- health -----------------------------------------------------------------------

    def _check_inputs(self, ctx: StrategyContext, row: tuple[float, ...]) -> bool:
        if len(row) != self.model.n_features or not all(math.isfinite(x) for x in row):
            bad = [n for n, x in zip(FEATURE_NAMES, row, strict=False) if not math.isfinite(x)]
            return self._act(ctx, "missing_feature", f"feature row incomplete or not finite: {bad or len(row)}")
        if self._expires_ns is not None and ctx.now_ns() >= self._expires_ns:
            days = self.params.max_model_age_days
            return self._act(ctx, "expired", f"model older than max_model_age_days={days}")
        return True

    def _check_output(self, ctx: StrategyContext, prob: float, elapsed_s: float, row: tuple[float, ...]) -> bool:
        p: OnnxModelParams = self.params
        if not math.isfinite(prob):
            return self._act(ctx, "nan_output", f"model output is {prob!r}")
        if elapsed_s * 1e6 > p.latency_budget_us:
            self._slow += 1
            if self._slow >= p.latency_strikes:
                return self._act(
                    ctx,
                    "latency",
                    f"{self._slow} inferences in a row over budget, last {elapsed_s * 1e6:.0f} us "
                    f"(budget {p.latency_budget_us:.0f} us)",
                )
        else:
            self._slow = 0
        assert self.drift is not None
        self.drift.add({**dict(zip(FEATURE_NAMES, row, strict=True)), "prediction": prob})
        self.last_psi = self.drift.scores()
        if self.last_psi:
            worst = max(self.last_psi, key=lambda k: self.last_psi[k])
            score = self.last_psi[worst]
            if score >= p.psi_act:
                return self._act(ctx, "drift", f"PSI of {worst} is {score:.3f} (act at {p.psi_act})")
            if score >= p.psi_warn and worst not in self._warned:
                self._warned.add(worst)
                self._event(ctx, "warn", "drift", f"PSI of {worst} is {score:.3f} (warn at {p.psi_warn})")
        return True

    def _event(self, ctx: StrategyContext, level: Literal["warn", "act"], check: str, detail: str) -> None:
        m = self.model
        self.health_events.append(
            ModelHealthEvent(
                strategy=self.name,
                level=level,
                check=check,
                detail=detail,
                model=m.manifest.name,
                version=m.version,
                ts_ns=ctx.now_ns(),
            )
        )

    def _act(self, ctx: StrategyContext, check: str, detail: str) -> bool:
        self.healthy = False
        self.unhealthy_reason = f"{check}: {detail}"
        self._event(ctx, "act", check, detail)
        return False

    def drain_health_events(self) -> list[ModelHealthEvent]:
        events, self.health_events = self.health_events, []
        return events

    # --- trading ----------------------------------------------------------------------

    def _decide(
        self,
        ctx: StrategyContext,
        state: ModelState,
        symbol: str,
        prob: float,
        close: float,
        ts_ns: int,
        row: tuple[float, ...],
    ) -> Sequence[Output]:
        out: list[Output] = []
        want = self.view(prob)
        if want is not None and want is not state.direction:
            state.direction = state.target = want
            strength = abs(prob - 0.5) * 2.0
            features = {**dict(zip(FEATURE_NAMES, row, strict=True)), "p_up": prob}
            out.append(
                Signal(
                    strategy=self.name,
                    symbol=symbol,
                    direction=want,
                    strength=min(1.0, strength),
                    ts_ns=ts_ns,
                    features=features,
                )
            )
        if state.target is not None:
            reason = f"model v{self.model.version} {state.target.value} p={prob:.3f}"
            intent, done = self.step_toward(ctx, symbol, state.target, add=False, reason=reason, ref_price=close)
            if done:
                state.target = None
            if intent is not None:
                out.append(intent)
        return out or NO_OUTPUT
