"""The signal bridge's model handling: loads each `onnx_model` strategy's model through the
deploy gates (at start, on a config reload and on the control commands `model_load`,
`model_rollback`, `model_status`), swaps it in between two batches (no bar is dropped and
the feature state is kept), keeps the previous model for an instant rollback, exports the
model metrics, and turns a strategy's model-health events into an alert line, an audit
line and reduce-only for that strategy at the risk manager (the other strategies trade on);
serving a model (a deploy, a rollback, a promotion, a start) lifts its strategy's reduce-only.

A model that fails a gate is refused with the reason and the one serving keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyrt.bus import schema as wire
from pyrt.services.signals.model.gates import gate_model
from pyrt.services.signals.model.loader import LoadedModel, ModelRefused
from pyrt.services.signals.strategies.onnx_model import ModelHealthEvent, OnnxModelStrategy
from pyrt.services.signals.strategy import Strategy

log = logging.getLogger("pyrt.signal_bridge")

MODEL_ACTIONS = frozenset({"model_load", "model_rollback", "model_status", "model_shadow", "model_promote"})


class ModelHost:
    """`send_risk(cmd)` delivers a ControlCommand to the risk manager (None: no answer);
    `audit(action, detail)` writes an audit line; `metrics` is the bridge's
    SignalBridgeMetrics (or None); `start_idle(name, path)` builds and starts a configured
    model strategy that was idle at start (no model path then) with the model at `path`, or
    returns None when `name` is no such strategy."""

    def __init__(
        self,
        strategies: list[Strategy],
        send_risk: Callable[[wire.ControlCommand], Any],
        audit: Callable[[str, dict[str, Any]], None],
        metrics: Any = None,
        start_idle: Callable[[str, str], Strategy | None] | None = None,
    ) -> None:
        self.strategies = {s.name: s for s in strategies if isinstance(s, OnnxModelStrategy)}
        self.previous: dict[str, LoadedModel | None] = {}
        self._send_risk = send_risk
        self._audit = audit
        self.metrics = metrics
        self._start_idle = start_idle
        for s in self.strategies.values():
            s.observer = self._observer(s.name)

    # --- loading ------------------------------------------------------------------

    def load_configured(self) -> None:
        """Load each strategy's configured model (start-up)."""
        for s in self.strategies.values():
            if s.params.model_path:
                self.load(s.name, s.params.model_path, why="config")

    def load(self, strategy: str, path: str | Path, why: str) -> tuple[bool, str]:
        """Gate `path` and serve it in `strategy`; (ok, detail)."""
        s = self.strategies.get(strategy)
        current = s.model if s is not None else None
        try:
            model = gate_model(path, recent_rows=list(s.last_features.values()) if s is not None else None)
        except ModelRefused as exc:
            serving = current.describe().removeprefix("Model loaded: ") if current else "none"
            log.error("Model refused for strategy %s: %s; still serving: %s", strategy, exc, serving)
            self._audit("model.refused", {"strategy": strategy, "path": str(path), "reason": str(exc)})
            return False, f"refused: {exc}"
        if s is None:  # idle at start: its first model starts it
            started = self._start_idle(strategy, str(path)) if self._start_idle is not None else None
            if not isinstance(started, OnnxModelStrategy):
                return False, f"no onnx_model strategy {strategy!r} (have: {sorted(self.strategies)})"
            s = self.strategies[strategy] = started
            s.observer = self._observer(strategy)
            log.info("onnx_model strategy %s started (idle until now: it had no model)", strategy)
        self._serve(s, model, why)
        return True, model.describe()

    def _serve(self, s: OnnxModelStrategy, model: LoadedModel, why: str) -> None:
        old = s.model
        if old is not None and old.sha256 == model.sha256:
            return  # the same bytes: nothing to swap (a reload of an unchanged config)
        self.previous[s.name] = old
        s.attach(model)
        log.info("%s strategy=%s load_ms=%.1f (%s)", model.describe(), s.name, model.load_ms, why)
        self._audit(
            "model.load",
            {"strategy": s.name, "path": str(model.path), "version": model.version, "sha256": model.sha256, "why": why},
        )
        if self.metrics is not None:
            if old is not None:
                self.metrics.model_info.remove(s.name, old.manifest.name, str(old.version), old.sha256[:12])
            self.metrics.model_info.labels(s.name, model.manifest.name, str(model.version), model.sha256[:12]).set(1)
            self.metrics.model_healthy.labels(s.name).set(1)
        self._strategy_mode(s.name, False, f"model {model.manifest.name} v{model.version} served ({why})")

    def _strategy_mode(self, strategy: str, reduce_only: bool, reason: str) -> bool:
        """Ask the risk manager to make `strategy` reduce-only, or to lift that; True once done."""
        cmd = wire.ControlCommand(
            "strategy_reduce_only",
            {"strategy": strategy, "on": "true" if reduce_only else "false"},
            reason[:300],
            "signal_bridge",
        )
        result = self._send_risk(cmd)
        ok = bool(getattr(result, "ok", False))
        if not ok:
            what = "make it reduce-only" if reduce_only else "lift its reduce-only"
            log.error("risk manager did not confirm (%s) for strategy %s: %s", what, strategy, result)
        return ok

    def shadow(self, strategy: str, path: str | Path) -> tuple[bool, str]:
        """Gate `path` and run it in shadow: it predicts on every bar without trading and its
        agreement with the served model is counted (model_status) until promoted."""
        s = self.strategies.get(strategy)
        if s is None:
            return False, f"no onnx_model strategy {strategy!r} (have: {sorted(self.strategies)})"
        if not path:
            s.shadow = None
            return True, "shadow stopped"
        if s.model is None:
            return False, "no model is served: nothing to compare a shadow with"
        try:
            model = gate_model(path, recent_rows=list(s.last_features.values()))
        except ModelRefused as exc:
            log.error("Shadow model refused for strategy %s: %s", strategy, exc)
            return False, f"refused: {exc}"
        s.start_shadow(model)
        log.info("Shadow model started: %s strategy=%s (predicts, never trades)", model.path, strategy)
        return True, f"shadow: {model.describe().removeprefix('Model loaded: ')}"

    def promote(self, strategy: str) -> tuple[bool, str]:
        """Serve the shadow model (the agreement so far is in the answer)."""
        s = self.strategies.get(strategy)
        if s is None or s.shadow is None:
            return False, f"strategy {strategy!r} runs no shadow model"
        agreement = f"{s.shadow_agree}/{s.shadow_bars} bars agreed"
        model, s.shadow = s.shadow, None
        self._serve(s, model, f"promoted from shadow ({agreement})")
        return True, f"{model.describe()} ({agreement})"

    def rollback(self, strategy: str | None = None) -> tuple[bool, str]:
        """Serve the model each strategy served before its current one (kept in memory)."""
        names = [strategy] if strategy else list(self.strategies)
        done = []
        for name in names:
            prev = self.previous.get(name)
            s = self.strategies.get(name)
            if s is None or prev is None:
                continue
            self._serve(s, prev, "rollback")
            self.previous[name] = None
            done.append(f"{name}: {prev.describe()}")
        if not done:
            return False, "no previous model to roll back to"
        return True, "; ".join(done)

    def on_config(self, cfg: Any) -> None:
        """After a config reload: load a model whose configured path changed."""
        from pyrt.services.signals.strategies.registry import strategy_specs

        for spec in strategy_specs(cfg):
            s = self.strategies.get(spec["name"])
            path = spec["params"].get("model_path") if spec["kind"] == OnnxModelStrategy.kind else None
            if not path or (s is None and not spec["enabled"]):
                continue
            if s is None or s.model is None or Path(path).resolve() != Path(s.model.path).resolve():
                self.load(spec["name"], path, why="config reload")

    # --- control ------------------------------------------------------------------

    def control(self, cmd: wire.ControlCommand) -> wire.ControlResult:
        strategy = cmd.args.get("strategy") or (next(iter(self.strategies)) if len(self.strategies) == 1 else "")
        if cmd.action == "model_status":
            return wire.ControlResult(True, data=self.status())
        if cmd.action == "model_rollback":
            ok, detail = self.rollback(strategy or None)
        elif not strategy:
            return wire.ControlResult(False, f"args.strategy: which one of {sorted(self.strategies)}?")
        elif cmd.action == "model_shadow":
            ok, detail = self.shadow(strategy, cmd.args.get("path", ""))
        elif cmd.action == "model_promote":
            ok, detail = self.promote(strategy)
        else:
            ok, detail = self.load(strategy, cmd.args.get("path", ""), why=f"control by {cmd.actor or 'operator'}")
        return wire.ControlResult(ok, detail, self.status())

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, s in self.strategies.items():
            m = s.model
            prev = self.previous.get(name)
            out[name] = {
                "path": str(m.path) if m else None,
                "version": m.version if m else None,
                "sha256": m.sha256 if m else None,
                "healthy": s.healthy,
                "unhealthy_reason": s.unhealthy_reason,
                "psi": {k: round(v, 4) for k, v in s.last_psi.items()},
                "previous": str(prev.path) if prev else None,
                "shadow": None
                if s.shadow is None
                else {"path": str(s.shadow.path), "bars": s.shadow_bars, "agree": s.shadow_agree},
            }
        return {"models": out}

    # --- health -------------------------------------------------------------------

    def _observer(self, strategy: str) -> Callable[[float, float], None]:
        def observe(seconds: float, prob: float) -> None:
            if self.metrics is not None:
                self.metrics.model_inference.labels(strategy).observe(seconds)
                self.metrics.model_prediction.labels(strategy).observe(prob)

        return observe

    def check_health(self) -> None:
        """Drain the strategies' health events: warn, or alert + audit + reduce-only."""
        for s in self.strategies.values():
            events = s.drain_health_events()
            if self.metrics is not None and s.last_psi:
                for series, value in s.last_psi.items():
                    self.metrics.model_psi.labels(s.name, series).set(value)
            for ev in events:
                self._on_event(ev)

    def _on_event(self, ev: ModelHealthEvent) -> None:
        what = f"model {ev.model} v{ev.version} of strategy {ev.strategy}: {ev.check}: {ev.detail}"
        if ev.level == "warn":
            log.warning("model health warning: %s", what)
            return
        log.error("ALERT model unhealthy, strategy stops new intents and becomes reduce-only: %s", what)
        if self.metrics is not None:
            self.metrics.model_healthy.labels(ev.strategy).set(0)
        ok = self._strategy_mode(ev.strategy, True, f"model health: {what}")
        self._audit(
            "model.unhealthy",
            {"strategy": ev.strategy, "check": ev.check, "detail": ev.detail, "reduce_only": ok},
        )
