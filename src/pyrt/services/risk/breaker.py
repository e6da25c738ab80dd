"""The circuit breaker: one state machine, inactive or active (mode HALTED or REDUCING),
tripped by the first event that breaches a limit, or by hand. Only an operator
deactivates it, with a reason; an automatic trip not before the cooldown unless forced
(the cooldown guards automatic trips: a breaker an operator set, an operator may lift at
once, with a reason). Its state is
part of the risk snapshot, so a restart never clears it; a config reload never does either.

Evaluation is level-based: every new event re-checks its condition, so a breaker that is
deactivated while the day's loss is still beyond the limit trips again on the next P&L
update. Deactivation resets the streak-like inputs (consecutive losses, consecutive
rejections, the error window) and re-bases peak equity, so those do not re-trip at once."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pyrt.config.risk import RiskLimits
from pyrt.domain.clock import Clock
from pyrt.domain.enums import BreakerTrigger, TradingState
from pyrt.domain.money import to_decimal
from pyrt.services.risk.events import BreakerDeactivated, BreakerEscalated, BreakerEvent, BreakerTripped

NS_PER_SECOND = 1_000_000_000
ERROR_WINDOW_NS = 60 * NS_PER_SECOND


@dataclass(frozen=True)
class CommandResult:
    """The answer to an operator command: refused commands are results, not exceptions."""

    ok: bool
    message: str


class CircuitBreaker:
    """Trips on daily loss, drawdown, consecutive losses, trades per day, consecutive broker
    rejections/errors, error rate, stale market data and integrity violations. Events
    (`BreakerEvent` structs) go to `emit`; by default they collect in `drain_events()`."""

    def __init__(self, limits: RiskLimits, clock: Clock, emit: Callable[[BreakerEvent], None] | None = None) -> None:
        self._limits = limits
        self._clock = clock
        self._events: list[BreakerEvent] = []
        self._emit = emit or self._events.append
        self.active = False
        self.trigger: BreakerTrigger | None = None
        self.reason = ""
        self.mode: TradingState | None = None
        self.activated_at_ns: int | None = None
        self.activations_by_trigger: dict[str, int] = {t.value: 0 for t in BreakerTrigger}
        self.day_start_pnl: Decimal | None = None  # realized + unrealized when the day began
        self.last_total_pnl: Decimal | None = None
        self.peak_equity: Decimal | None = None
        self.last_equity: Decimal | None = None
        self.trades_today = 0
        self.consecutive_losses = 0
        self.consecutive_rejections = 0
        self._errors: deque[int] = deque()
        self._last_data_ns: int | None = None
        self._watch_from_ns: int | None = None

    # -- queries --------------------------------------------------------------------
    def blocks(self, reduces_exposure: bool) -> bool:
        """True when an order must be denied: HALTED blocks all, REDUCING blocks orders
        that do not reduce exposure."""
        return self.active and (self.mode is TradingState.HALTED or not reduces_exposure)

    @property
    def daily_pnl(self) -> Decimal:
        """Realized + unrealized P&L since the trading day began (0 before any report)."""
        if self.last_total_pnl is None or self.day_start_pnl is None:
            return Decimal(0)
        return self.last_total_pnl - self.day_start_pnl

    def status(self) -> dict[str, Any]:
        """Plain values for the control API and metrics."""
        return {
            "active": self.active,
            "trigger": self.trigger.value if self.trigger else None,
            "reason": self.reason,
            "mode": self.mode.value if self.mode else None,
            "activated_at_ns": self.activated_at_ns,
            "daily_pnl": str(self.daily_pnl),
            "trades_today": self.trades_today,
            "consecutive_losses": self.consecutive_losses,
            "consecutive_rejections": self.consecutive_rejections,
        }

    def drain_events(self) -> list[BreakerEvent]:
        """Events emitted since the last drain (only when no `emit` was given)."""
        events, self._events = self._events, []
        return events

    # -- operator commands ----------------------------------------------------------
    def activate(self, reason: str = "", mode: TradingState = TradingState.HALTED) -> CommandResult:
        """Manual activation (kill switch). Always allowed, also when the breaker is
        disabled in config; escalates an active REDUCING breaker to HALTED."""
        mode = TradingState(mode)
        if mode is TradingState.ACTIVE:
            return CommandResult(False, "mode must be HALTED or REDUCING")
        self._trip(BreakerTrigger.MANUAL, reason.strip() or "manual activation", mode, manual=True)
        return CommandResult(True, f"circuit breaker active ({self.mode.value if self.mode else ''})")

    def deactivate(self, reason: str, force: bool = False) -> CommandResult:
        """Manual deactivation: needs a reason, and after an automatic trip `force` before
        the cooldown is over (a manual activation has no cooldown)."""
        if not reason or not reason.strip():
            return CommandResult(False, "a reason is required to deactivate the circuit breaker")
        if not self.active:
            return CommandResult(True, "circuit breaker already inactive")
        now = self._clock.now_ns()
        cooldown_ns = 0 if self.trigger is BreakerTrigger.MANUAL else self._limits.cooldown_ns
        elapsed = now - (self.activated_at_ns or now)
        if elapsed < cooldown_ns and not force:
            left = (cooldown_ns - elapsed) / (60 * NS_PER_SECOND)
            return CommandResult(False, f"cooldown: {left:.1f} min left (use force to override)")
        self._emit(
            BreakerDeactivated(
                trigger=self.trigger, reason=reason.strip(), forced=bool(force and elapsed < cooldown_ns), ts_ns=now
            )
        )
        self.active, self.trigger, self.reason, self.mode, self.activated_at_ns = False, None, "", None, None
        self.consecutive_losses = self.consecutive_rejections = 0
        self._errors.clear()
        self.peak_equity = self.last_equity
        self._watch_from_ns = None
        return CommandResult(True, "circuit breaker deactivated")

    def set_limits(self, limits: RiskLimits) -> None:
        """Apply reloaded limits; the breaker's state is untouched (a reload never closes it)."""
        self._limits = limits

    # -- inputs ---------------------------------------------------------------------
    def start_day(self) -> None:
        """A new trading day: reset daily counters. An active breaker stays active."""
        self.trades_today = 0
        self.day_start_pnl = self.last_total_pnl

    def on_pnl(self, realized: object, unrealized: object, equity: object) -> None:
        """Account P&L: `realized` is cumulative, `unrealized` current, `equity` the account's."""
        total = to_decimal(realized, "realized") + to_decimal(unrealized, "unrealized")
        equity_d = to_decimal(equity, "equity")
        if self.day_start_pnl is None:
            self.day_start_pnl = total
        self.last_total_pnl = total
        self.last_equity = equity_d
        if self.peak_equity is None or equity_d > self.peak_equity:
            self.peak_equity = equity_d
        loss, losses = -self.daily_pnl, self._limits.loss_limits
        if loss > losses.max_daily_loss:
            self._auto_trip(BreakerTrigger.DAILY_LOSS, f"daily loss {loss} > max_daily_loss {losses.max_daily_loss}")
        if self.peak_equity > 0:
            drawdown_pct = (self.peak_equity - equity_d) / self.peak_equity * 100
            if drawdown_pct > losses.drawdown_threshold_percent:
                self._auto_trip(
                    BreakerTrigger.DRAWDOWN,
                    f"drawdown {drawdown_pct:.2f}% from peak equity {self.peak_equity} "
                    f"> {losses.drawdown_threshold_percent}%",
                )

    def on_trade_closed(self, pnl: Decimal) -> None:
        """A round trip ended with `pnl` (a loss when negative)."""
        self.consecutive_losses = self.consecutive_losses + 1 if pnl < 0 else 0
        if self.consecutive_losses >= self._limits.circuit_breaker.max_consecutive_losses:
            self._auto_trip(BreakerTrigger.CONSECUTIVE_LOSSES, f"{self.consecutive_losses} consecutive losing trades")

    def on_order_approved(self) -> None:
        """The risk core approved an order: one more trade today."""
        self.trades_today += 1
        limit = self._limits.circuit_breaker.max_trades_per_day
        if self.trades_today >= limit:
            self._auto_trip(BreakerTrigger.MAX_TRADES_PER_DAY, f"{self.trades_today} trades today (max {limit})")

    def on_broker_rejection(self) -> None:
        """The broker rejected an order."""
        self._on_failure("broker rejection")

    def on_error(self, kind: str) -> None:
        """An order-path error (timeout, 5xx, unknown outcome ...)."""
        self._on_failure(kind or "error")

    def on_broker_ok(self) -> None:
        """The broker accepted an order: the rejection streak ends."""
        self.consecutive_rejections = 0

    def on_integrity_violation(self, kind: str, detail: str) -> None:
        """An overfill or a broker-position mismatch: trips at once."""
        self._auto_trip(BreakerTrigger.INTEGRITY, f"{kind}: {detail}")

    def on_market_data(self, received_ns: int) -> None:
        """A quote arrived (receipt time)."""
        if self._last_data_ns is None or received_ns > self._last_data_ns:
            self._last_data_ns = received_ns

    def on_tick(self, now_ns: int, session_open: bool = True) -> None:
        """Periodic evaluation: trips when no market data arrived for
        market_data_stale_seconds while the session is open."""
        if not session_open:
            self._watch_from_ns = None
            return
        if self._watch_from_ns is None:
            self._watch_from_ns = now_ns
        since = max(self._last_data_ns or 0, self._watch_from_ns)
        silent_s = (now_ns - since) / NS_PER_SECOND
        stale_s = self._limits.circuit_breaker.market_data_stale_seconds
        if silent_s > stale_s:
            self._auto_trip(BreakerTrigger.MARKET_DATA_STALE, f"no market data for {silent_s:.1f} s (max {stale_s} s)")

    # -- internals ------------------------------------------------------------------
    def _on_failure(self, what: str) -> None:
        now, limits = self._clock.now_ns(), self._limits.circuit_breaker
        self.consecutive_rejections += 1
        self._errors.append(now)
        while self._errors and self._errors[0] <= now - ERROR_WINDOW_NS:
            self._errors.popleft()
        if self.consecutive_rejections >= limits.max_consecutive_rejections:
            self._auto_trip(
                BreakerTrigger.CONSECUTIVE_REJECTIONS,
                f"{self.consecutive_rejections} consecutive broker failures ({what})",
            )
        if len(self._errors) > limits.max_error_rate_per_minute:
            self._auto_trip(
                BreakerTrigger.ERROR_RATE,
                f"{len(self._errors)} errors in 60 s (max {limits.max_error_rate_per_minute})",
            )

    def _auto_trip(self, trigger: BreakerTrigger, reason: str) -> None:
        if self._limits.circuit_breaker.enabled:
            self._trip(trigger, reason, self._limits.mode_for(trigger))

    def _trip(self, trigger: BreakerTrigger, reason: str, mode: TradingState, manual: bool = False) -> None:
        now = self._clock.now_ns()
        if not self.active:
            self.active, self.trigger, self.reason, self.mode, self.activated_at_ns = True, trigger, reason, mode, now
            self.activations_by_trigger[trigger.value] += 1
            self._emit(BreakerTripped(trigger=trigger, reason=reason, mode=mode, manual=manual, ts_ns=now))
        elif mode is TradingState.HALTED and self.mode is not TradingState.HALTED:
            self.mode = TradingState.HALTED
            self.reason = f"{self.reason}; escalated: {reason}"
            self._emit(BreakerEscalated(trigger=trigger, reason=reason, mode=mode, ts_ns=now))

    # -- persistence ----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state; restore() reads it back."""

        def dec(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {
            "active": self.active,
            "trigger": self.trigger.value if self.trigger else None,
            "reason": self.reason,
            "mode": self.mode.value if self.mode else None,
            "activated_at_ns": self.activated_at_ns,
            "day_start_pnl": dec(self.day_start_pnl),
            "last_total_pnl": dec(self.last_total_pnl),
            "peak_equity": dec(self.peak_equity),
            "last_equity": dec(self.last_equity),
            "trades_today": self.trades_today,
            "consecutive_losses": self.consecutive_losses,
            "consecutive_rejections": self.consecutive_rejections,
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load a snapshot() (from a previous process)."""

        def dec(v: object) -> Decimal | None:
            return None if v is None else to_decimal(v)

        self.active = bool(data["active"])
        self.trigger = BreakerTrigger(data["trigger"]) if data.get("trigger") else None
        self.reason = data.get("reason", "")
        self.mode = TradingState(data["mode"]) if data.get("mode") else None
        if self.active and self.mode not in (TradingState.HALTED, TradingState.REDUCING):
            self.mode = TradingState.HALTED
        self.activated_at_ns = data.get("activated_at_ns")
        self.day_start_pnl = dec(data.get("day_start_pnl"))
        self.last_total_pnl = dec(data.get("last_total_pnl"))
        self.peak_equity = dec(data.get("peak_equity"))
        self.last_equity = dec(data.get("last_equity"))
        self.trades_today = int(data.get("trades_today", 0))
        self.consecutive_losses = int(data.get("consecutive_losses", 0))
        self.consecutive_rejections = int(data.get("consecutive_rejections", 0))
