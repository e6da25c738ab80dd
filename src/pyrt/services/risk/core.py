"""The risk manager's pure core: pre-trade checks on order intents, the trading state and
the circuit breaker. Synchronous, no I/O; time comes from the injected Clock. A denial is a
RiskDecision with a reason code, never an exception.

Valuation: every order is valued at the larger of its own prices (limit, stop) and the
current quote on its side (ask for buys, bid for sells), so a market order is never $0
and a limit order is never valued below the market. Position checks use the worst
reachable position: the current position plus every approved order that is still open,
plus this one. An order that only reduces exposure skips the position, exposure and
open-position limits."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pyrt.config.risk import RiskLimits
from pyrt.domain.calendar import next_ny_midnight, trading_day
from pyrt.domain.clock import Clock
from pyrt.domain.enums import OrderSide, OrderType, TradingState
from pyrt.domain.intents import OrderIntent, RiskDecision
from pyrt.domain.market import Quote
from pyrt.domain.money import ZERO, to_decimal
from pyrt.domain.orders import is_terminal_status
from pyrt.services.risk.breaker import CircuitBreaker, CommandResult
from pyrt.services.risk.events import (
    BreakerEscalated,
    BreakerTripped,
    RiskEvent,
    TradingDayStarted,
    TradingStateChanged,
)
from pyrt.services.risk.state import Book, PendingOrder

SNAPSHOT_SCHEMA = 1
NS_PER_SECOND = 1_000_000_000
RATE_WINDOW_NS = 60 * NS_PER_SECOND
# decisions remembered to answer a re-sent intent the same way (a retry comes within seconds);
# bounded so memory stays flat: 2,000 is over half an hour of intents at one a second
RECENT_DECISIONS = 2_000
RECENT_ALERTS = 50


class Reason:
    """Every reason code a RiskDecision can carry, in the order the checks run."""

    OK = "OK"
    TRADING_HALTED = "TRADING_HALTED"
    INVALID_ORDER = "INVALID_ORDER"
    CIRCUIT_BREAKER_ACTIVE = "CIRCUIT_BREAKER_ACTIVE"
    REDUCE_ONLY = "REDUCE_ONLY"
    NO_MARKET_DATA = "NO_MARKET_DATA"
    STALE_MARKET_DATA = "STALE_MARKET_DATA"
    MIN_ORDER_SIZE = "MIN_ORDER_SIZE"
    MAX_ORDER_SIZE = "MAX_ORDER_SIZE"
    MIN_PRICE = "MIN_PRICE"
    MAX_PRICE = "MAX_PRICE"
    PRICE_COLLAR = "PRICE_COLLAR"
    MAX_ORDER_VALUE = "MAX_ORDER_VALUE"
    SHORTING_NOT_ALLOWED = "SHORTING_NOT_ALLOWED"
    MAX_SHARES = "MAX_SHARES"
    MAX_POSITION_NOTIONAL = "MAX_POSITION_NOTIONAL"
    MAX_TOTAL_EXPOSURE = "MAX_TOTAL_EXPOSURE"
    MAX_OPEN_POSITIONS = "MAX_OPEN_POSITIONS"
    ORDER_RATE = "ORDER_RATE"


DENIAL_REASONS: tuple[str, ...] = tuple(v for k, v in vars(Reason).items() if k.isupper() and v != Reason.OK)

# Not a denial (so not in Reason): risk approved the intent, but the execution engine's
# accept did not arrive in time, so the order may have been journalled and sent (review D5).
# It goes out as an approved decision with RiskDecisionMsg.outcome "unknown" and stays pending.
EXECUTION_TIMEOUT = "EXECUTION_TIMEOUT"

Denial = tuple[str, str]  # (reason code, message)


@dataclass(frozen=True)
class _Market:
    """The last quote of a symbol in Decimal; `usable` when both sides are positive and
    not crossed."""

    bid: Decimal
    ask: Decimal
    ts_ns: int
    usable: bool

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True)
class _Order:
    """An intent with its fields checked and normalised."""

    symbol: str
    side: OrderSide
    order_type: OrderType
    qty: Decimal
    prices: tuple[Decimal, ...]  # its own limit and stop prices
    strategy: str

    @classmethod
    def parse(cls, intent: OrderIntent) -> _Order:
        if not intent.intent_id or not intent.symbol or not intent.symbol.strip():
            raise ValueError("intent_id and symbol are required")
        side, order_type = OrderSide(intent.side), OrderType(intent.order_type)
        qty = to_decimal(intent.qty, "qty")
        if qty <= 0:
            raise ValueError(f"qty must be positive, got {qty}")
        needs_limit = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        prices = []
        given = (("limit_price", intent.limit_price, needs_limit), ("stop_price", intent.stop_price, needs_stop))
        for name, value, needed in given:
            if (value is not None) != needed:
                raise ValueError(f"{order_type.value} order {'needs' if needed else 'must not have'} {name}")
            if value is not None:
                price = to_decimal(value, name)
                if price <= 0:
                    raise ValueError(f"{name} must be positive, got {price}")
                prices.append(price)
        return cls(intent.symbol, side, order_type, qty, tuple(prices), intent.strategy)


@dataclass(frozen=True)
class _Context:
    """What the checks need to judge one order."""

    order: _Order
    now_ns: int
    reduces: bool  # only brings the worst reachable position closer to flat
    market: _Market | None
    price: Decimal | None  # valuation price, None without a usable quote


class RiskCore:
    """Pre-trade risk checks, trading state, circuit breaker and their persisted state."""

    def __init__(self, limits: RiskLimits, clock: Clock) -> None:
        self._limits = limits
        self._clock = clock
        self._events: list[RiskEvent] = []
        self.breaker = CircuitBreaker(limits, clock, emit=self._events.append)
        self.book = Book()
        self.trading_state = TradingState.ACTIVE
        self.trading_state_reason = ""
        self.reduce_only_strategies: dict[str, str] = {}  # strategy -> why (its model is unhealthy ...)
        self._day = trading_day(clock.now_ns())
        self._day_ends_ns = next_ny_midnight(clock.now_ns())
        self._quotes: dict[str, _Market] = {}
        self._approvals: deque[int] = deque()
        self._approvals_by_symbol: dict[str, deque[int]] = {}
        self._recent: OrderedDict[str, tuple[OrderIntent, RiskDecision]] = OrderedDict()
        self._alerts: deque[dict[str, Any]] = deque(maxlen=RECENT_ALERTS)  # breaker trips, newest last
        self._counts: dict[str, int] = {"checks_performed": 0, "approved": 0, "denied": 0, "duplicate_intents": 0}
        self._counts.update({"fills_without_open_intent": 0, "quotes_ignored": 0})
        self._denials: dict[str, int] = dict.fromkeys(DENIAL_REASONS, 0)
        self._checks: tuple[Callable[[_Context], Denial | None], ...] = (
            self._check_breaker,
            self._check_reduce_only,
            self._check_market_data,
            self._check_order_size,
            self._check_price_bounds,
            self._check_price_collar,
            self._check_order_value,
            self._check_shorting,
            self._check_max_shares,
            self._check_position_notional,
            self._check_total_exposure,
            self._check_open_positions,
            self._check_order_rate,
        )

    @property
    def limits(self) -> RiskLimits:
        return self._limits

    def set_limits(self, limits: RiskLimits) -> None:
        """Apply reloaded limits. Never touches the breaker or the trading state."""
        self._limits = limits
        self.breaker.set_limits(limits)

    # -- the decision ---------------------------------------------------------------
    def check(self, intent: OrderIntent) -> RiskDecision:
        """Approve or deny an intent; the first failing check decides. A repeated
        intent_id (a retried request) gets the first answer again."""
        now = self._clock.now_ns()
        self._sync_day(now)
        seen = self._recent.get(intent.intent_id)
        if seen is not None:
            self._counts["duplicate_intents"] += 1
            if seen[0] == intent:
                return seen[1]
            return self._record(intent, now, (Reason.INVALID_ORDER, "intent_id reused for a different intent"), None)
        denial: Denial | None = self._check_trading_halted()
        ctx = None
        if denial is None:
            try:
                ctx = self._context(_Order.parse(intent), now)
            except ValueError as exc:
                denial = (Reason.INVALID_ORDER, str(exc))
        if ctx is not None:
            for check in self._checks:
                denial = check(ctx)
                if denial is not None:
                    break
        decision = self._record(intent, now, denial, ctx)
        self._recent[intent.intent_id] = (intent, decision)
        if len(self._recent) > RECENT_DECISIONS:
            self._recent.popitem(last=False)
        return decision

    def _record(self, intent: OrderIntent, now: int, denial: Denial | None, ctx: _Context | None) -> RiskDecision:
        self._counts["checks_performed"] += 1
        if denial is None and ctx is not None:
            self._approve(intent, ctx)
            self._counts["approved"] += 1
            return RiskDecision(intent_id=intent.intent_id, approved=True, reason_code=Reason.OK, ts_ns=now)
        assert denial is not None
        self._counts["denied"] += 1
        self._denials[denial[0]] += 1
        return RiskDecision(
            intent_id=intent.intent_id, approved=False, reason_code=denial[0], message=denial[1], ts_ns=now
        )

    def _approve(self, intent: OrderIntent, ctx: _Context) -> None:
        order = ctx.order
        assert ctx.price is not None
        self.book.add_pending(PendingOrder(intent.intent_id, order.symbol, order.side, order.qty, ctx.price))
        self._approvals.append(ctx.now_ns)
        self._approvals_by_symbol.setdefault(order.symbol, deque()).append(ctx.now_ns)
        self.breaker.on_order_approved()

    def _context(self, order: _Order, now: int) -> _Context:
        p = self.book.position_qty(order.symbol)
        pending_buy, pending_sell = self.book.pending_qty(order.symbol)
        if order.side is OrderSide.SELL:
            reduces = p > 0 and order.qty <= p - pending_sell
        else:
            reduces = p < 0 and order.qty <= -p - pending_buy
        market = self._quotes.get(order.symbol)
        price = None
        if market is not None and market.usable:
            side_price = market.ask if order.side is OrderSide.BUY else market.bid
            price = max((*order.prices, side_price))
        return _Context(order, now, reduces, market, price)

    # -- the checks, in order ---------------------------------------------------------
    def _check_trading_halted(self) -> Denial | None:
        if self.trading_state is TradingState.HALTED:
            return Reason.TRADING_HALTED, f"trading halted: {self.trading_state_reason}"
        return None

    def _check_breaker(self, ctx: _Context) -> Denial | None:
        if self.breaker.blocks(ctx.reduces):
            status = self.breaker.status()
            return Reason.CIRCUIT_BREAKER_ACTIVE, (
                f"circuit breaker {status['mode']} ({status['trigger']}): {status['reason']}"
            )
        return None

    def _check_reduce_only(self, ctx: _Context) -> Denial | None:
        if ctx.reduces:
            return None
        if self.trading_state is TradingState.REDUCING:
            return Reason.REDUCE_ONLY, "trading is reduce-only and this order does not reduce exposure"
        why = self.reduce_only_strategies.get(ctx.order.strategy)
        if why is not None:
            return Reason.REDUCE_ONLY, (
                f"strategy {ctx.order.strategy} is reduce-only ({why}) and this order does not reduce exposure"
            )
        return None

    def _check_market_data(self, ctx: _Context) -> Denial | None:
        if ctx.market is None or ctx.price is None:
            return Reason.NO_MARKET_DATA, f"no usable quote for {ctx.order.symbol}"
        age_s = (ctx.now_ns - ctx.market.ts_ns) / NS_PER_SECOND
        max_age = self._limits.order_validation.max_quote_age_seconds
        if age_s > max_age:
            return Reason.STALE_MARKET_DATA, f"quote is {age_s:.1f} s old (max {max_age} s)"
        return None

    def _check_order_size(self, ctx: _Context) -> Denial | None:
        qty, lim = ctx.order.qty, self._limits.order_validation
        if qty < lim.min_order_size:
            return Reason.MIN_ORDER_SIZE, f"qty {qty} < min_order_size {lim.min_order_size}"
        if qty > lim.max_order_size:
            return Reason.MAX_ORDER_SIZE, f"qty {qty} > max_order_size {lim.max_order_size}"
        return None

    def _check_price_bounds(self, ctx: _Context) -> Denial | None:
        assert ctx.price is not None
        prices, lim = (*ctx.order.prices, ctx.price), self._limits.order_validation
        if min(prices) < lim.min_price:
            return Reason.MIN_PRICE, f"price {min(prices)} < min_price {lim.min_price}"
        if max(prices) > lim.max_price:
            return Reason.MAX_PRICE, f"price {max(prices)} > max_price {lim.max_price}"
        return None

    def _check_price_collar(self, ctx: _Context) -> Denial | None:
        assert ctx.market is not None
        mid, collar = ctx.market.mid, self._limits.order_validation.price_collar_percent
        for price in ctx.order.prices:
            away_pct = abs(price - mid) / mid * 100
            if away_pct > collar:
                return Reason.PRICE_COLLAR, f"price {price} is {away_pct:.2f}% from mid {mid} (max {collar}%)"
        return None

    def _check_order_value(self, ctx: _Context) -> Denial | None:
        assert ctx.price is not None
        value, limit = ctx.order.qty * ctx.price, self._limits.order_validation.max_order_value
        if value > limit:
            return Reason.MAX_ORDER_VALUE, f"order value {value} > max_order_value {limit}"
        return None

    def _check_shorting(self, ctx: _Context) -> Denial | None:
        if self._limits.position_limits.allow_shorting or ctx.order.side is OrderSide.BUY:
            return None
        _, pending_sell = self.book.pending_qty(ctx.order.symbol)
        lowest = self.book.position_qty(ctx.order.symbol) - pending_sell - ctx.order.qty
        if lowest < 0:
            return Reason.SHORTING_NOT_ALLOWED, f"the position could reach {lowest} and shorting is not allowed"
        return None

    def _worst_qty(self, ctx: _Context) -> Decimal:
        buy = ctx.order.qty if ctx.order.side is OrderSide.BUY else ZERO
        return self.book.worst_abs_qty(ctx.order.symbol, extra_buy=buy, extra_sell=ctx.order.qty - buy)

    def _check_max_shares(self, ctx: _Context) -> Denial | None:
        worst, limit = self._worst_qty(ctx), self._limits.position_limits.max_shares
        if not ctx.reduces and worst > limit:
            return Reason.MAX_SHARES, f"position could reach {worst} shares > max_shares {limit}"
        return None

    def _check_position_notional(self, ctx: _Context) -> Denial | None:
        assert ctx.price is not None
        notional, limit = self._worst_qty(ctx) * ctx.price, self._limits.position_limits.max_notional_per_position
        if not ctx.reduces and notional > limit:
            return Reason.MAX_POSITION_NOTIONAL, f"position could reach {notional} > max_notional_per_position {limit}"
        return None

    def _check_total_exposure(self, ctx: _Context) -> Denial | None:
        if ctx.reduces:
            return None
        assert ctx.price is not None
        others = self.total_exposure(exclude=ctx.order.symbol)
        total = others + self._worst_qty(ctx) * ctx.price
        limit = self._limits.position_limits.max_total_exposure
        if total > limit:
            return Reason.MAX_TOTAL_EXPOSURE, f"exposure could reach {total} > max_total_exposure {limit}"
        return None

    def _check_open_positions(self, ctx: _Context) -> Denial | None:
        open_symbols, limit = self.book.symbols(), self._limits.position_limits.max_open_positions
        if ctx.order.symbol in open_symbols:  # adds to, reduces or closes an open one
            return None
        if len(open_symbols) + 1 > limit:
            return (
                Reason.MAX_OPEN_POSITIONS,
                f"{len(open_symbols)} positions open or pending, max_open_positions {limit}",
            )
        return None

    def _check_order_rate(self, ctx: _Context) -> Denial | None:
        since = ctx.now_ns - RATE_WINDOW_NS
        overall = _prune(self._approvals, since)
        per_symbol = _prune(self._approvals_by_symbol.get(ctx.order.symbol, deque()), since)
        throttle = self._limits.throttle
        if overall >= throttle.max_orders_per_minute:
            return Reason.ORDER_RATE, f"{overall} orders in the last 60 s (max {throttle.max_orders_per_minute})"
        if per_symbol >= throttle.max_orders_per_symbol_per_minute:
            return Reason.ORDER_RATE, (
                f"{per_symbol} {ctx.order.symbol} orders in the last 60 s "
                f"(max {throttle.max_orders_per_symbol_per_minute})"
            )
        return None

    # -- inputs ---------------------------------------------------------------------
    def on_quote(self, quote: Quote) -> None:
        """The latest quote of a symbol; older quotes than the one held are ignored."""
        now = self._clock.now_ns()
        self._sync_day(now)
        held = self._quotes.get(quote.symbol)
        ts = quote.ts_ns if quote.ts_ns > 0 else now
        if held is not None and ts < held.ts_ns:
            self._counts["quotes_ignored"] += 1
            return
        try:
            bid, ask = to_decimal(quote.bid_price, "bid"), to_decimal(quote.ask_price, "ask")
        except ValueError:
            bid = ask = ZERO
        self._quotes[quote.symbol] = _Market(bid, ask, ts, usable=0 < bid <= ask)
        self.breaker.on_market_data(now)

    def on_position(self, symbol: str, qty: object, avg_entry_price: object) -> None:
        """An authoritative position (signed qty) from the execution engine; it overwrites
        ours. Deliver a report's fill (on_fill) before the position that results from it."""
        self._sync_day(self._clock.now_ns())
        self.book.set_position(symbol, to_decimal(qty, "qty"), to_decimal(avg_entry_price, "avg_entry_price"))

    def on_fill(self, symbol: str, side: OrderSide | str, qty: object, price: object, intent_id: str) -> None:
        """A (partial) fill: moves quantity from the intent's open order into the position.
        A fill beyond the approved quantity trips the breaker (integrity)."""
        self._sync_day(self._clock.now_ns())
        qty_d = to_decimal(qty, "qty")
        if qty_d <= 0:
            return
        if intent_id not in self.book.pending and intent_id not in self.book.closed:
            self._counts["fills_without_open_intent"] += 1
        outcome = self.book.apply_fill(symbol, OrderSide(side), qty_d, to_decimal(price, "price"), intent_id)
        if outcome.overfill > 0:
            self.breaker.on_integrity_violation("overfill", f"intent {intent_id} overfilled by {outcome.overfill}")
        if outcome.closed_trade_pnl is not None:
            self.breaker.on_trade_closed(outcome.closed_trade_pnl)

    def on_execution_report(
        self,
        event: str,
        status: str,
        symbol: str,
        side: OrderSide | str,
        fill_qty: object,
        fill_price: object,
        intent_id: str,
    ) -> None:
        """One execution report, as the engine publishes it: a fill moves quantity into the
        position, a broker rejection or acceptance feeds the breaker, and a final status
        (`is_terminal_status`) releases what the intent still held."""
        if event in ("fill", "partial_fill") and fill_qty is not None and fill_price is not None:
            self.on_fill(symbol, side, fill_qty, fill_price, intent_id)
        elif event == "rejected":
            self.on_broker_rejection(intent_id)
        elif event == "accepted":
            self.on_broker_ok()
        if is_terminal_status(status):
            self.on_order_closed(intent_id)

    def on_order_closed(self, intent_id: str) -> None:
        """The intent's order is done (filled, cancelled, expired, rejected): release what
        it still held."""
        self._sync_day(self._clock.now_ns())
        self.book.release(intent_id)

    def on_pnl(self, realized: object, unrealized: object, equity: object) -> None:
        """Account P&L: cumulative realized, current unrealized, equity."""
        self._sync_day(self._clock.now_ns())
        self.breaker.on_pnl(realized, unrealized, equity)

    def on_broker_rejection(self, intent_id: str | None = None) -> None:
        """The broker rejected an order (releases it when the intent is given)."""
        self._sync_day(self._clock.now_ns())
        if intent_id is not None:
            self.book.release(intent_id)
        self.breaker.on_broker_rejection()

    def on_broker_ok(self) -> None:
        """The broker accepted an order."""
        self.breaker.on_broker_ok()

    def on_error(self, kind: str) -> None:
        """An order-path error seen by the shell or reported by execution."""
        self._sync_day(self._clock.now_ns())
        self.breaker.on_error(kind)

    def on_integrity_violation(self, kind: str, detail: str) -> None:
        """Overfill or broker-position mismatch found elsewhere (e.g. reconciliation)."""
        self._sync_day(self._clock.now_ns())
        self.breaker.on_integrity_violation(kind, detail)

    def on_tick(self, session_open: bool = True) -> None:
        """Periodic work: day rollover and the market-data staleness trigger."""
        now = self._clock.now_ns()
        self._sync_day(now)
        self.breaker.on_tick(now, session_open)

    def set_trading_state(self, state: TradingState | str, reason: str) -> CommandResult:
        """Operator command: ACTIVE, REDUCING (only exposure-reducing orders) or HALTED."""
        if not reason or not reason.strip():
            return CommandResult(False, "a reason is required to change the trading state")
        try:
            new = TradingState(state)
        except ValueError:
            return CommandResult(False, f"unknown trading state {state!r}")
        old, self.trading_state, self.trading_state_reason = self.trading_state, new, reason.strip()
        self._events.append(TradingStateChanged(old=old, new=new, reason=reason.strip(), ts_ns=self._clock.now_ns()))
        return CommandResult(True, f"trading state {new.value}")

    def set_strategy_reduce_only(self, strategy: str, on: bool, reason: str) -> CommandResult:
        """One strategy may only reduce exposure (on) or trade normally again (off); the rest
        of the system trades on. What a sick model asks for its own strategy."""
        if not strategy or not strategy.strip():
            return CommandResult(False, "a strategy name is required")
        if not reason or not reason.strip():
            return CommandResult(False, "a reason is required to change a strategy's mode")
        if on:
            self.reduce_only_strategies[strategy] = reason.strip()
            return CommandResult(True, f"strategy {strategy} reduce-only")
        if self.reduce_only_strategies.pop(strategy, None) is None:
            return CommandResult(True, f"strategy {strategy} was not reduce-only")
        return CommandResult(True, f"strategy {strategy} trades normally again")

    def _sync_day(self, now: int) -> None:
        if now < self._day_ends_ns:  # every input calls this: no date arithmetic inside the day
            return
        day = trading_day(now)
        self._day_ends_ns = next_ny_midnight(now)
        if day > self._day:
            self.breaker.start_day()
            self._events.append(TradingDayStarted(day=day, previous=self._day, ts_ns=now))
            self._day = day

    # -- outputs ----------------------------------------------------------------------
    def total_exposure(self, exclude: str | None = None) -> Decimal:
        """Σ over symbols of the worst reachable |position| × mark (quote mid, else average
        entry, else an open order's valuation price)."""
        total = ZERO
        for symbol in self.book.symbols():
            if symbol != exclude:
                total += self.book.worst_abs_qty(symbol) * self._mark(symbol)
        return total

    def _mark(self, symbol: str) -> Decimal:
        market = self._quotes.get(symbol)
        if market is not None and market.usable:
            return market.mid
        return self.book.fallback_price(symbol)

    def drain_events(self) -> list[RiskEvent]:
        """Events since the last drain (breaker trips, state changes, day starts) for the
        shell to log, publish and alert on."""
        events = list(self._events)
        self._events.clear()  # the same list the breaker emits into
        for ev in events:
            if isinstance(ev, (BreakerTripped, BreakerEscalated)):
                detail = {"mode": ev.mode.value, "reason": ev.reason}
                self._alerts.append({"ts_ns": ev.ts_ns, "kind": f"circuit_breaker {ev.trigger.value}", **detail})
        return events

    def recent_alerts(self) -> list[dict[str, Any]]:
        """The last breaker trips and escalations (integrity alerts trip it too), oldest first."""
        return list(self._alerts)

    def counters(self) -> dict[str, Any]:
        """Monotonic counts since start: checks, approvals, denials by reason code,
        breaker activations by trigger."""
        return {
            **self._counts,
            "denials_by_reason": dict(self._denials),
            "breaker_activations_by_trigger": dict(self.breaker.activations_by_trigger),
        }

    def recent_denials(self, limit: int = 50) -> list[dict[str, Any]]:
        """The last `limit` denied intents, oldest first, each with its order and reason (what
        the operator console shows after its own restart)."""
        out: list[dict[str, Any]] = []
        for intent, decision in reversed(self._recent.values()):
            if decision.approved:
                continue
            out.append(
                {
                    "ts_ns": decision.ts_ns,
                    "intent_id": intent.intent_id,
                    "strategy": intent.strategy,
                    "symbol": intent.symbol,
                    "side": intent.side.value,
                    "qty": str(intent.qty),
                    "reason_code": decision.reason_code,
                    "message": decision.message,
                }
            )
            if len(out) == limit:
                break
        return out[::-1]

    def gauges(self) -> dict[str, Any]:
        """Current values: trading state, breaker, exposure, open positions and intents."""
        return {
            "trading_state": self.trading_state.value,
            "circuit_breaker_active": int(self.breaker.active),
            "total_exposure": self.total_exposure(),
            "open_positions": len(self.book.symbols()),
            "open_intents": len(self.book.pending),
            "daily_pnl": self.breaker.daily_pnl,
            "trades_today": self.breaker.trades_today,
        }

    # -- persistence ------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """JSON-ready risk state: trading day and state, breaker, positions, open intents."""
        return {
            "schema": SNAPSHOT_SCHEMA,
            "saved_at_ns": self._clock.now_ns(),
            "trading_day": self._day,
            "trading_state": self.trading_state.value,
            "trading_state_reason": self.trading_state_reason,
            "breaker": self.breaker.snapshot(),
            "book": self.book.to_dict(),
        } | ({"reduce_only_strategies": dict(self.reduce_only_strategies)} if self.reduce_only_strategies else {})

    def restore(self, data: dict[str, Any]) -> None:
        """Load a snapshot(); daily counters reset at once if the trading day has changed
        since it was saved. Raises ValueError on an unknown schema."""
        if data.get("schema") != SNAPSHOT_SCHEMA:
            raise ValueError(f"unknown risk snapshot schema {data.get('schema')!r}")
        self._day = str(data["trading_day"])
        self._day_ends_ns = 0  # recompute: the snapshot may be of an earlier day
        self.trading_state = TradingState(data["trading_state"])
        self.trading_state_reason = data.get("trading_state_reason", "")
        self.breaker.restore(data["breaker"])
        self.book = Book.from_dict(data["book"])
        self.reduce_only_strategies = {str(k): str(v) for k, v in data.get("reduce_only_strategies", {}).items()}
        self._sync_day(self._clock.now_ns())


def _prune(window: deque[int], since_ns: int) -> int:
    while window and window[0] <= since_ns:
        window.popleft()
    return len(window)
