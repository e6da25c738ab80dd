"""The signal bridge's pure core: routes market data to strategies, collects their signals
and order intents, isolates strategies that raise, and keeps each strategy's positions and
pending intents from risk decisions and execution reports.

Synchronous, no I/O; time comes from the injected Clock. The service shell feeds it
market data and reports, publishes what it returns and drains `drain_events()`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import msgspec

from pyrt.domain.clock import Clock
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import MINUTE_BAR_NS, Bar, Quote, Trade
from pyrt.domain.money import ZERO, to_decimal
from pyrt.domain.orders import OrderState, is_terminal_status
from pyrt.services.signals.strategy import (
    NO_OUTPUT,
    IntentIdFactory,
    Output,
    Signal,
    Strategy,
    StrategyContext,
    SymbolBook,
    SymbolState,
)

# risk reason codes that mean "the order may exist", never "denied"
OUTCOME_UNKNOWN_CODES = frozenset({"EXECUTION_TIMEOUT"})
WARM_UP = "warm-up: history before the start, never traded"
# an intent the risk manager did not answer is asked again after these delays (doubling)
REASK_FIRST_S = 1.0
REASK_MAX_S = 30.0


class StrategyError(msgspec.Struct, frozen=True, kw_only=True):
    """A strategy hook raised (or returned something invalid); the core carried on."""

    strategy: str
    symbol: str
    hook: str
    error_type: str
    message: str
    consecutive: int
    ts_ns: int


class StrategyDisabled(msgspec.Struct, frozen=True, kw_only=True):
    """A strategy was taken out of routing (after too many consecutive errors, or by
    the operator); `enable_strategy` brings it back."""

    strategy: str
    reason: str
    ts_ns: int


class IntentDropped(msgspec.Struct, frozen=True, kw_only=True):
    """An intent a strategy returned was not sent, and why (not counted as an error)."""

    strategy: str
    symbol: str
    intent_id: str
    reason: str
    ts_ns: int


CoreEvent = StrategyError | StrategyDisabled | IntentDropped
Route = tuple[Callable[[StrategyContext, Any], Sequence[Output]], "_Runtime"]


class _Runtime:
    """Per-strategy bookkeeping inside the core."""

    __slots__ = (
        "books",
        "consecutive_errors",
        "ctx",
        "enabled",
        "states",
        "strategy",
        "total_errors",
    )

    def __init__(
        self, strategy: Strategy, ctx: StrategyContext, books: dict[str, SymbolBook], states: dict[str, SymbolState]
    ) -> None:
        self.strategy = strategy
        self.ctx = ctx
        self.books = books
        self.states = states
        self.enabled = True
        self.consecutive_errors = 0
        self.total_errors = 0


class SignalCore:
    """Routes quotes, trades and bars to the strategies subscribed to the symbol.

    `trading_enabled` False is safe mode: signals are still computed and returned, but
    order intents are suppressed (and counted in `suppressed_intents`). A strategy that
    raises `max_consecutive_errors` times in a row is disabled; others keep running.

    `max_bar_age_ns`: a bar that ended longer ago than this (a gap fill after a reconnect,
    bars from a cache) still updates the strategies, but intents it yields are dropped
    (IntentDropped "historical bar"): history warms indicators up, it never trades."""

    def __init__(
        self,
        strategies: Iterable[Strategy],
        clock: Clock,
        *,
        trading_enabled: bool = True,
        max_consecutive_errors: int = 10,
        intent_epoch: str | None = None,
        max_buffered_events: int = 10_000,
        max_bar_age_ns: int | None = None,
    ) -> None:
        if max_consecutive_errors < 1:
            raise ValueError("max_consecutive_errors: must be >= 1")
        self.clock = clock
        self.trading_enabled = trading_enabled
        self.max_bar_age_ns = max_bar_age_ns
        self._replaying = ""  # why intents are dropped right now (a historical bar), or ""
        self.max_consecutive_errors = max_consecutive_errors
        self.suppressed_intents = 0
        self.dropped_intents = 0
        self.sent_intents = 0
        self.signals = 0
        self.repeated_bars = 0
        self._last_bar_ns: dict[str, int] = {}  # symbol -> open time of the newest bar run
        self._ids = IntentIdFactory(intent_epoch) if intent_epoch else IntentIdFactory.from_clock(clock)
        self._last_quotes: dict[str, Quote] = {}
        self._events: deque[CoreEvent] = deque(maxlen=max_buffered_events)
        self._pending: dict[str, tuple[_Runtime, SymbolBook]] = {}
        self._filled: dict[str, Decimal] = {}  # intent -> filled qty seen (symbols shared by strategies)
        self._unanswered: dict[str, tuple[int, float]] = {}  # intent -> (ask again at ns, delay s)
        self._sent_ns: dict[str, int] = {}  # pending intent -> when it was sent
        self._runtimes: dict[str, _Runtime] = {}
        for s in strategies:
            self._add_runtime(s)
        self.owners: dict[str, str] = {}
        self._quote_routes: dict[str, list[Route]] = {}
        self._trade_routes: dict[str, list[Route]] = {}
        self._bar_routes: dict[str, list[Route]] = {}
        self._rebuild_owners()
        self._rebuild_routes()

    def _add_runtime(self, s: Strategy) -> None:
        if s.name in self._runtimes:
            raise ValueError(f"strategy {s.name!r}: name: duplicate strategy name")
        books = {sym: SymbolBook(sym) for sym in s.symbols}
        states = {sym: s.create_state(sym) for sym in s.symbols}
        ctx = StrategyContext(s.name, self.clock, books, states, self._last_quotes, self._ids)
        self._runtimes[s.name] = _Runtime(s, ctx, books, states)

    def _rebuild_owners(self) -> None:
        # positions are per account and symbol: a report's position belongs to a strategy
        # only when it is the one strategy trading the symbol
        owners: dict[str, list[str]] = {}
        for name, rt in self._runtimes.items():
            for sym in rt.strategy.symbols:
                owners.setdefault(sym, []).append(name)
        self.owners = {sym: names[0] for sym, names in owners.items() if len(names) == 1}

    @property
    def bar_symbols(self) -> list[str]:
        """The symbols whose bars some running strategy reads."""
        return sorted(self._bar_routes)

    def add_strategy(self, strategy: Strategy) -> None:
        """Start a strategy while running (one that was idle at start, such as a model
        strategy given its first model). It starts flat and cold. A symbol it shares with a
        strategy that traded it alone becomes shared: from now on each one's position is the
        net of its own fills, starting from the position it has. Raises ValueError for a
        name already running."""
        self._add_runtime(strategy)
        self._rebuild_owners()
        self._rebuild_routes()

    # --- market data (hot path) -----------------------------------------------------

    def on_quote(self, quote: Quote) -> Sequence[Output]:
        """Remember the quote and run subscribed strategies' `on_quote`."""
        self._last_quotes[quote.symbol] = quote
        routes = self._quote_routes.get(quote.symbol)
        if routes is None:
            return NO_OUTPUT
        return self._run(routes, "on_quote", quote, quote.symbol)

    def on_trade(self, trade: Trade) -> Sequence[Output]:
        """Run subscribed strategies' `on_trade`."""
        routes = self._trade_routes.get(trade.symbol)
        if routes is None:
            return NO_OUTPUT
        return self._run(routes, "on_trade", trade, trade.symbol)

    def on_bar(self, bar: Bar) -> Sequence[Output]:
        """Run subscribed strategies' `on_bar`. A bar not newer than the last one of its
        symbol (a repeat after a warm-up from the bar cache, a corrected bar) is not run:
        strategies see each bar once, in time order (counted in `repeated_bars`)."""
        routes = self._bar_routes.get(bar.symbol)
        if routes is None:
            return NO_OUTPUT
        last = self._last_bar_ns
        if bar.ts_ns <= last.get(bar.symbol, -1):
            self.repeated_bars += 1
            return NO_OUTPUT
        last[bar.symbol] = bar.ts_ns
        if self.max_bar_age_ns is not None:
            age_ns = self.clock.now_ns() - (bar.ts_ns + MINUTE_BAR_NS)
            if age_ns > self.max_bar_age_ns:
                self._replaying = f"historical bar ({age_ns // 1_000_000_000} s old): warm-up only"
                try:
                    return self._run(routes, "on_bar", bar, bar.symbol)
                finally:
                    self._replaying = ""
        return self._run(routes, "on_bar", bar, bar.symbol)

    def warm_up(self, event: Bar | Quote) -> None:
        """History before the start (bars before a walk-forward window, a cache of recent
        bars): the strategies see it as they would live, so their indicators are warm, and
        every intent it yields is dropped (IntentDropped "warm-up"): history never trades."""
        self._replaying = WARM_UP
        try:
            if isinstance(event, Bar):
                self.on_bar(event)
            else:
                self.on_quote(event)
        finally:
            self._replaying = ""

    def _run(self, routes: list[Route], hook: str, event: Any, symbol: str) -> Sequence[Output]:
        outputs: list[Output] | None = None
        for fn, rt in routes:
            try:
                result = fn(rt.ctx, event)
            except Exception as exc:
                self._record_error(rt, symbol, hook, type(exc).__name__, str(exc))
                continue
            if rt.consecutive_errors:
                rt.consecutive_errors = 0
            if result:
                if outputs is None:
                    outputs = []
                self._collect(rt, result, outputs, symbol, hook)
        return outputs or NO_OUTPUT

    def _collect(self, rt: _Runtime, result: Any, outputs: list[Output], symbol: str, hook: str) -> None:
        try:
            items = list(result)
        except TypeError:
            items = [result]
        for item in items:
            if type(item) is Signal:
                self.signals += 1
                outputs.append(item)
            elif type(item) is OrderIntent:
                if self._accept_intent(rt, item):
                    outputs.append(item)
            else:
                self._record_error(
                    rt, symbol, hook, "TypeError", f"returned {type(item).__name__}, not Signal or OrderIntent"
                )

    def _accept_intent(self, rt: _Runtime, intent: OrderIntent) -> bool:
        book = rt.books.get(intent.symbol)
        reason = ""
        if intent.strategy != rt.strategy.name:
            reason = f"strategy field is {intent.strategy!r}"
        elif book is None:
            reason = "symbol not subscribed by the strategy"
        elif not intent.qty > 0:
            reason = "qty must be > 0"
        elif intent.intent_id in self._pending:
            reason = "duplicate intent_id"
        elif book.pending and not rt.strategy.allow_concurrent_intents:
            reason = "an intent for this symbol is already pending"
        elif self._replaying:
            reason = self._replaying
        if reason:
            self.dropped_intents += 1
            self._events.append(
                IntentDropped(
                    strategy=rt.strategy.name,
                    symbol=intent.symbol,
                    intent_id=intent.intent_id,
                    reason=reason,
                    ts_ns=self.clock.now_ns(),
                )
            )
            return False
        if not self.trading_enabled:
            self.suppressed_intents += 1
            return False
        assert book is not None
        book.pending[intent.intent_id] = intent
        self._pending[intent.intent_id] = (rt, book)
        self._sent_ns[intent.intent_id] = self.clock.now_ns()
        self.sent_intents += 1
        return True

    def _record_error(self, rt: _Runtime, symbol: str, hook: str, error_type: str, message: str) -> None:
        rt.consecutive_errors += 1
        rt.total_errors += 1
        now = self.clock.now_ns()
        self._events.append(
            StrategyError(
                strategy=rt.strategy.name,
                symbol=symbol,
                hook=hook,
                error_type=error_type,
                message=message[:500],
                consecutive=rt.consecutive_errors,
                ts_ns=now,
            )
        )
        if rt.enabled and rt.consecutive_errors >= self.max_consecutive_errors:
            self.disable_strategy(rt.strategy.name, f"{rt.consecutive_errors} consecutive errors")

    # --- order path feedback ----------------------------------------------------------

    def on_risk_decision(self, intent_id: str, approved: bool, reason_code: str) -> None:
        """An approval keeps the intent pending until execution finishes it; a denial
        ends it and tells the strategy (`on_intent_closed(..., "denied")`). An unknown
        outcome (EXECUTION_TIMEOUT: the engine may have sent the order; a risk manager of
        before review D5 sent it as a denial) is no denial: the intent stays pending until
        its reports end it, so the strategy does not send it again."""
        self._unanswered.pop(intent_id, None)
        if not approved and reason_code not in OUTCOME_UNKNOWN_CODES:
            self._close_intent(intent_id, "denied")

    def on_risk_unanswered(self, intent_id: str) -> None:
        """The risk manager did not answer in time. It may have approved the intent and the
        engine sent the order (the request can also still be on its way), so this is no
        denial: the intent stays pending (the strategy does not send it again) and is asked
        again, the same intent with the same id, after 1 s, then doubling up to 30 s, until
        an answer or a final report ends it. Asking again is safe: the risk manager answers a
        repeated intent id with its first decision, and the engine refuses a second order for
        an intent it has journalled (the client order id is derived from the intent id)."""
        if intent_id not in self._pending:
            return
        before = self._unanswered.get(intent_id)
        delay = REASK_FIRST_S if before is None else min(before[1] * 2, REASK_MAX_S)
        self._unanswered[intent_id] = (self.clock.now_ns() + int(delay * 1e9), delay)

    def reask_due(self) -> list[OrderIntent]:
        """The unanswered intents to ask the risk manager about again now (oldest first)."""
        now = self.clock.now_ns()
        due = [i for i, (at, _) in self._unanswered.items() if at <= now and i in self._pending]
        return [self._pending[i][1].pending[i] for i in due]

    @property
    def unanswered(self) -> int:
        """Intents whose risk decision is unknown (asked again until answered)."""
        return len(self._unanswered)

    def on_execution_report(
        self,
        strategy: str,
        symbol: str,
        status: OrderState | str,
        position_qty: Decimal | None,
        intent_id: str | None = None,
    ) -> None:
        """Record the strategy's position after the report (None: unchanged) and, when the
        order's `status` is final (`is_terminal_status`, the one rule: however the engine
        learned it, from the stream, a lookup or a reconciliation), end the pending intent."""
        rt = self._runtimes.get(strategy)
        if rt is not None and position_qty is not None:
            book = rt.books.get(symbol)
            if book is not None:
                book.position = to_decimal(position_qty, "position_qty")
        if intent_id is not None and is_terminal_status(status):
            self._close_intent(intent_id, status.value if isinstance(status, OrderState) else str(status))

    def on_report(
        self,
        strategy: str,
        symbol: str,
        status: OrderState | str,
        position_qty: Decimal | None,
        intent_id: str | None,
        side: str | None = None,
        filled_qty: Decimal | None = None,
    ) -> None:
        """An execution report as the engine publishes it. When the strategy is the only one
        trading the symbol (`owners`), the account's position is its position; when several
        strategies share a symbol, each one's position is the sum of its own orders' fills
        (`filled_qty` is the order's cumulative fill, `side` its side)."""
        if self.owners.get(symbol) == strategy:
            self.on_execution_report(strategy, symbol, status, position_qty, intent_id)
            return
        position = None
        rt = self._runtimes.get(strategy)
        book = rt.books.get(symbol) if rt is not None else None
        if book is not None and intent_id and filled_qty is not None and side in ("buy", "sell"):
            before = self._filled.get(intent_id, ZERO)
            if filled_qty > before:
                delta = filled_qty - before
                position = book.position + (delta if side == "buy" else -delta)
                self._filled[intent_id] = filled_qty
        if intent_id and is_terminal_status(status):
            self._filled.pop(intent_id, None)
        self.on_execution_report(strategy, symbol, status, position, intent_id)

    def overdue_intents(self, older_than_s: float) -> list[str]:
        """Intents the risk manager answered that are still pending `older_than_s` after they
        were sent: their order may have ended with its final report lost on the way."""
        cutoff = self.clock.now_ns() - int(older_than_s * 1e9)
        return [i for i, t in self._sent_ns.items() if t <= cutoff and i not in self._unanswered]

    def settle_overdue(self, open_intents: set[str], older_than_s: float) -> list[str]:
        """End the overdue intents whose order the engine no longer holds open (`open_intents`:
        the intent ids of its unfinished orders): their order ended and the final report never
        came, so the strategy is told "ended" instead of waiting for ever. An approved intent
        is journalled before the approval leaves the engine, so one it does not hold open has
        ended. Returns the ended intent ids."""
        ended = [i for i in self.overdue_intents(older_than_s) if i not in open_intents]
        for intent_id in ended:
            self._close_intent(intent_id, "ended")
        return ended

    def _close_intent(self, intent_id: str, outcome: str) -> None:
        self._unanswered.pop(intent_id, None)
        self._sent_ns.pop(intent_id, None)
        entry = self._pending.pop(intent_id, None)
        if entry is None:
            return
        rt, book = entry
        intent = book.pending.pop(intent_id)
        if not rt.enabled:
            return
        try:
            rt.strategy.on_intent_closed(rt.ctx, intent, outcome)
        except Exception as exc:
            self._record_error(rt, intent.symbol, "on_intent_closed", type(exc).__name__, str(exc))

    def set_position(self, strategy: str, symbol: str, qty: Decimal) -> None:
        """Set a position from a snapshot (start-up, reconciliation)."""
        self._runtimes[strategy].books[symbol].position = to_decimal(qty, "qty")

    # --- operator controls and introspection -------------------------------------------

    def set_trading_enabled(self, enabled: bool) -> None:
        """Leave (True) or enter (False) safe mode."""
        self.trading_enabled = enabled

    def disable_strategy(self, name: str, reason: str = "operator") -> None:
        """Stop routing data to a strategy and report it."""
        rt = self._runtimes[name]
        if not rt.enabled:
            return
        rt.enabled = False
        self._events.append(StrategyDisabled(strategy=name, reason=reason, ts_ns=self.clock.now_ns()))
        self._rebuild_routes()

    def enable_strategy(self, name: str) -> None:
        """Route data to a strategy again and reset its consecutive-error count."""
        rt = self._runtimes[name]
        rt.enabled = True
        rt.consecutive_errors = 0
        self._rebuild_routes()

    def drain_events(self) -> list[CoreEvent]:
        """Return and forget the buffered error/disable/drop events (oldest first)."""
        events = list(self._events)
        self._events.clear()
        return events

    @property
    def strategy_names(self) -> list[str]:
        """All strategies, enabled or not."""
        return list(self._runtimes)

    def symbols_of(self, strategy: str) -> tuple[str, ...]:
        """The symbols a strategy trades."""
        return self._runtimes[strategy].strategy.symbols

    @property
    def disabled_strategies(self) -> list[str]:
        """Names of disabled strategies."""
        return [n for n, rt in self._runtimes.items() if not rt.enabled]

    def errors_by_strategy(self) -> dict[str, int]:
        """Total errors per strategy since start."""
        return {n: rt.total_errors for n, rt in self._runtimes.items()}

    def position(self, strategy: str, symbol: str) -> Decimal:
        """A strategy's position as the core knows it."""
        return self._runtimes[strategy].ctx.position(symbol)

    def pending_intents(self) -> list[OrderIntent]:
        """Intents sent and not yet denied or finished."""
        return [book.pending[i] for i, (_, book) in self._pending.items()]

    def _rebuild_routes(self) -> None:
        # Build new lists (never mutate the old ones: _run may be iterating them).
        quote: dict[str, list[Route]] = {}
        trade: dict[str, list[Route]] = {}
        bar: dict[str, list[Route]] = {}
        for rt in self._runtimes.values():
            if not rt.enabled:
                continue
            s = rt.strategy
            for sym in s.symbols:
                if s.wants_quotes:
                    quote.setdefault(sym, []).append((s.on_quote, rt))
                if s.wants_trades:
                    trade.setdefault(sym, []).append((s.on_trade, rt))
                if s.wants_bars:
                    bar.setdefault(sym, []).append((s.on_bar, rt))
        self._quote_routes, self._trade_routes, self._bar_routes = quote, trade, bar
