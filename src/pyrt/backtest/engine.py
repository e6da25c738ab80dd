"""The backtest engine: the live cores driven over history in one process, on a simulated
clock. Strategies run in the signal core, intents pass the risk core (limits and breaker
from `risk_limits.toml`), approved ones go through the execution core (journal in memory)
to the `SimulatedVenue`, whose matching core fills them against quotes made from bars by
the rule in `bar_quotes.py`. Reports go back to risk and signals exactly as the live
shells route them. Nothing here decides a trade, a limit or a fill: it moves the clock,
turns bars into quotes, and records.

Per bar (bars in the order they become visible, `BarData`):
1. open phase, when the symbol has work at the open (orders resting at the venue, or
   decisions waiting for this open): clock to the bar's open, the session opens if it was
   closed, a quote at the open fills what the open reaches, then the waiting decisions go
   to execution (market orders fill at the open);
2. close phase: clock to the bar's close; resting orders the bar's path touches fill
   (`touched_levels`); strategies see the bar (only now: they never see a bar before it
   closed); each intent is checked by risk at the bar's close price and either sent at once
   (`--fill-at close`) or held for the symbol's next open (default);
3. at a session close (regular hours), the venue closes the session: day orders expire.
While a position or an order is open, every 5 minutes of simulated time (or every bar, when
bars are longer) the risk core gets marks and P&L (its breaker's daily-loss and drawdown
checks), and every hour the execution core's timer runs (reconciliation reads); live, both
run every second. Fills reach the risk core at once."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from pyrt import __version__
from pyrt.backtest.bar_quotes import UNLIMITED_SIZE, spread_sides, touched_levels
from pyrt.backtest.ledger import Ledger
from pyrt.backtest.results import RunResult, SymbolPrices
from pyrt.backtest.settings import BacktestSettings
from pyrt.bus import schema as wire
from pyrt.config.risk import RiskLimits
from pyrt.config.system import ExecutionConfig
from pyrt.domain.calendar import NyseSession
from pyrt.domain.clock import ManualClock, iso_utc
from pyrt.domain.enums import OrderSide, OrderType, TimeInForce
from pyrt.domain.intents import OrderIntent
from pyrt.domain.market import Bar, Quote
from pyrt.services.execution.budget import RequestBudget
from pyrt.services.execution.core import ExecutionCore
from pyrt.services.execution.inline import InlineExecution
from pyrt.services.risk.core import RiskCore
from pyrt.services.signals.core import IntentDropped, SignalCore
from pyrt.services.signals.strategy import Strategy
from pyrt.venues.simulated.matching import SimConfig
from pyrt.venues.simulated.venue import SimulatedVenue
from pyrt.venues.stream_events import TradeUpdateSeen

if TYPE_CHECKING:
    from pyrt.backtest.data import BarData

TIMER_NS = 300 * 1_000_000_000  # marks and P&L to the risk core, in simulated time
RECONCILE_NS = 3600 * 1_000_000_000  # the execution core's timer (reconciliation reads)
NO_CLOSE = 2**62
END_OF_DATA_PREFIX = "end-"  # the intent ids of the closing orders at the end of the data


EXECUTION_FIELDS = (
    "request_budget_per_minute",
    "cancel_reserve_per_minute",
    "read_reserve_per_minute",
    "max_resend_age_s",
    "submit_timeout_s",
)
"""The execution engine's settings (system.json's `execution`) a backtest uses."""


def execution_record(ex: ExecutionConfig) -> dict[str, object]:
    """The execution settings a run used, for its report."""
    return {name: getattr(ex, name) for name in EXECUTION_FIELDS}


class Backtest:
    def __init__(
        self,
        strategies: Sequence[Strategy],
        limits: RiskLimits,
        data: BarData,
        settings: BacktestSettings,
        execution: ExecutionConfig | None = None,
        config: dict[str, object] | None = None,
        warmup: BarData | None = None,
    ) -> None:
        if len(data) == 0:
            raise ValueError("no bars to run on (check --from/--to and --data)")
        if warmup is not None and len(warmup) and int(warmup.close_ns[-1]) > int(data.close_ns[0]):
            raise ValueError("warm-up bars must end before the run's first bar")
        self.data = data
        self.warmup = warmup
        self.settings = settings
        self.config = config or {}
        ex = execution or ExecutionConfig()
        self.symbols = data.symbols
        self.clock = ManualClock(int(data.open_ns[0]))
        self.strategies = list(strategies)
        self.signals = SignalCore(strategies, self.clock, intent_epoch="bt")
        self.risk = RiskCore(limits, self.clock)
        budget = RequestBudget(
            ex.request_budget_per_minute,
            ex.cancel_reserve_per_minute,
            self.clock,
            read_reserve=ex.read_reserve_per_minute,
        )
        self.core = ExecutionCore(
            self.clock, budget, max_resend_age_s=ex.max_resend_age_s, submit_timeout_s=ex.submit_timeout_s
        )
        s = settings
        self.venue = SimulatedVenue(
            SimConfig(
                symbols=data.symbols,
                allow_shorting=s.allow_shorting,
                slippage_bps=s.slippage_bps,
                fee_per_share=s.fee_per_share,
                fee_per_order=s.fee_per_order,
                initial_cash=s.cash,
                regulatory_fees=s.fees == "alpaca",
                not_shortable=s.not_shortable,
            ),
            self.clock,
            seed=s.seed,
        )
        self.execution = InlineExecution(self.core, self.venue, keep_journal=False)
        self.ledger = Ledger(data.symbols, float(s.cash))
        self.regular = s.session == "regular" or (s.session == "auto" and data.regular_hours_only())
        self.calendar = NyseSession()
        self.warnings: list[str] = []
        if data.problems:
            shown = data.problems[:20]
            more = f" (and {len(data.problems) - 20} more)" if len(data.problems) > 20 else ""
            self.warnings.append(f"data: {len(data.problems)} bad rows skipped{more}: " + "; ".join(shown))
        if s.session == "auto" and not self.regular:
            self.warnings.append(
                "the data has bars outside regular hours: traded as a 24-hour market (--session regular to apply "
                "Alpaca's hours)"
            )
        self._waiting: dict[str, list[OrderIntent]] = {}  # decisions held for the symbol's next open
        self._resting: set[str] = set()  # symbols with open orders at the venue (after every _drain)
        self._quote_px: dict[str, tuple[float, float, float]] = {}  # symbol -> (mid, bid, ask) last fed
        self._left: dict[str, float] = {}  # size the symbol's current bar still offers
        self._session_close = NO_CLOSE
        self._next_timer = 0
        self._timer_ns = max(TIMER_NS, data.timeframe_ns)
        self._reconcile_ns = max(RECONCILE_NS, data.timeframe_ns)
        self._next_reconcile = 0
        self._end_seq = 0
        self.venue.set_market_open(not self.regular)
        self.execution.run(self.core.start_accepting())
        self._route()

    # ================================================================== the loop
    def run(self, progress: Callable[[int], None] | None = None) -> RunResult:
        """Run every bar; the hot loop, so it keeps to local names and skips what a bar does
        not need (no strategy reads the symbol, nothing waits or rests at the venue)."""
        set_clock = self.clock.set
        symbols = self.symbols
        ledger = self.ledger
        pos, mark = ledger.pos, ledger.mark
        sample_ts_append, equity_append, exposure_append = (
            ledger.equity_ts.append,
            ledger.equity.append,
            ledger.exposure.append,
        )
        on_bar, on_quote = self.signals.on_bar, self.signals.on_quote
        resting = self._resting
        waiting = self._waiting
        volume_share = self.settings.volume_share
        spread = self.settings.spread_bps
        bar_readers = {sym for st in self.strategies if st.wants_bars for sym in st.symbols}
        quote_readers = {sym for st in self.strategies if st.wants_quotes for sym in st.symbols}
        watch_models = any(hasattr(st, "drain_health_events") for st in self.strategies)
        self._warm_up(bar_readers, quote_readers)
        sample_ts = -1
        n = 0
        for chunk in self.data.chunks():
            for o_ns, c_ns, si, o, h, lo, c, v in zip(*chunk, strict=True):
                if c_ns != sample_ts:
                    if sample_ts >= 0:
                        sample_ts_append(sample_ts)
                        equity_append(ledger.cash + ledger.value)
                        exposure_append(ledger.gross)
                    sample_ts = c_ns
                sym = symbols[si]
                if volume_share is not None:
                    self._left[sym] = v * volume_share
                active = sym in waiting or sym in resting
                if active:
                    self._open_phase(sym, o_ns, o)
                set_clock(c_ns)
                if active and sym in resting:  # only decisions place orders: none rest unless active
                    self._touch(sym, o, h, lo, c)
                if sym in bar_readers:
                    outputs = on_bar(Bar(sym, o, h, lo, c, v, o_ns))
                    if outputs:
                        self._decide(outputs, sym, c)
                if watch_models:  # a model turned unhealthy on this bar: act now, as the bridge does
                    self._drain_events()
                if sym in quote_readers:
                    bid, ask = spread_sides(c, spread)
                    outputs = on_quote(Quote(sym, bid, UNLIMITED_SIZE, ask, UNLIMITED_SIZE, c_ns))
                    if outputs:
                        self._decide(outputs, sym, c)
                p = pos[si]  # the bar closes: the ledger marks the symbol at its close
                if p:
                    d = c - mark[si]
                    ledger.value += p * d
                    ledger.gross += abs(p) * d
                mark[si] = c
                if c_ns >= self._next_timer:
                    self._timer(c_ns)
                if c_ns >= self._session_close:
                    self._close_session(c_ns)
            n += len(chunk[0])
            if progress is not None:
                progress(n)
        self._drain_events()
        if sample_ts >= 0:
            self._finish()
            ledger.sample(sample_ts)
        return self._result(n)

    def _warm_up(self, bar_readers: set[str], quote_readers: set[str]) -> None:
        """The warm-up bars, before the run: each reaches the strategies at its close as in
        the loop (a bar, or its close as a quote), so indicators start warm; every intent is
        dropped (`SignalCore.warm_up`), nothing reaches risk, the venue or the ledger."""
        if self.warmup is None or not len(self.warmup):
            return
        symbols, set_clock, warm, spread = (
            self.warmup.symbols,
            self.clock.set,
            self.signals.warm_up,
            self.settings.spread_bps,
        )
        for chunk in self.warmup.chunks():
            for o_ns, c_ns, si, o, h, lo, c, v in zip(*chunk, strict=True):
                sym = symbols[si]
                set_clock(c_ns)
                if sym in bar_readers:
                    warm(Bar(sym, o, h, lo, c, v, o_ns))
                if sym in quote_readers:
                    bid, ask = spread_sides(c, spread)
                    warm(Quote(sym, bid, UNLIMITED_SIZE, ask, UNLIMITED_SIZE, c_ns))
        self.clock.set(int(self.data.open_ns[0]))
        self._drain_events()

    # ================================================================== phases
    def _open_phase(self, sym: str, o_ns: int, o: float) -> None:
        if o_ns > self.clock.now_ns():
            self.clock.set(o_ns)
        self._feed(sym, o)
        if self.regular and not self.venue.engine.market_open and self.calendar.is_open(o_ns):
            self.venue.set_market_open(True)
            self._session_close = self.calendar.next_close(o_ns)
            self._drain()
        for intent in self._waiting.pop(sym, ()):
            self._execute(intent)

    def _touch(self, sym: str, o: float, h: float, lo: float, c: float) -> None:
        levels = []
        for order in self.venue.resting(sym):
            if order.stop_price is not None and not order.triggered:
                levels.append(float(order.stop_price))
            elif order.limit_price is not None:
                levels.append(float(order.limit_price))
        for level in touched_levels(o, h, lo, c, levels):
            self._feed(sym, level, spread=False)

    def _decide(self, outputs: Sequence[object], sym: str, close: float) -> None:
        for out in outputs:
            if type(out) is not OrderIntent:
                continue
            intent: OrderIntent = out
            bid, ask = spread_sides(close, self.settings.spread_bps)
            now = self.clock.now_ns()
            self.risk.on_quote(Quote(intent.symbol, bid, 100.0, ask, 100.0, now))
            decision = self.risk.check(intent)
            self.ledger.intent(intent, decision)
            self.signals.on_risk_decision(intent.intent_id, decision.approved, decision.reason_code)
            if not decision.approved:
                continue
            if self.settings.fill_at == "close":
                self._ensure_open_at_close()
                self._feed(intent.symbol, close)
                self._execute(intent)
            else:
                self._waiting.setdefault(intent.symbol, []).append(intent)
        self._drain_events()

    def _ensure_open_at_close(self) -> None:
        """A decision filled at the close trades at the closing instant: the session that
        ends then is still open for it."""
        if self.regular and not self.venue.engine.market_open:
            now = self.clock.now_ns()
            if self.calendar.is_open(now - 1):
                self.venue.set_market_open(True)
                self._session_close = now
                self._drain()

    def _close_session(self, now: int) -> None:
        self._session_close = NO_CLOSE
        if self.regular and self.venue.engine.market_open and not self.calendar.is_open(now):
            self.venue.set_market_open(False)  # open day orders expire
            self._drain()

    def _timer(self, now: int) -> None:
        """Every `timer_ns` of simulated time while a position or an order is open: the
        marks and P&L the risk core's breaker watches (daily loss, drawdown) and the quotes
        its staleness check wants; every `reconcile_ns`, the execution core's own timer
        (its reconciliation reads of open orders and positions)."""
        self._next_timer = now + self._timer_ns
        ledger = self.ledger
        if not (any(ledger.pos) or self.venue.engine.has_any_open()):
            return
        spread = self.settings.spread_bps
        for sym, i in ledger.index.items():
            mark = ledger.mark[i]
            if not mark:
                continue
            bid, ask = spread_sides(mark, spread)
            self.risk.on_quote(Quote(sym, bid, 100.0, ask, 100.0, now))
            if ledger.pos[i]:
                self.core.on_mark(sym, Decimal(repr(mark)))
        if now >= self._next_reconcile:
            self._next_reconcile = now + self._reconcile_ns
            self.execution.tick()
            self._route()
        else:
            pnl = self.core.pnl()
            self.risk.on_pnl(pnl.realized, pnl.unrealized, pnl.equity)
        self.risk.on_tick(session_open=True)
        self._drain_events()

    # ================================================================== venue and cores
    def _feed(self, sym: str, price: float, *, spread: bool = True) -> None:
        bid, ask = spread_sides(price, self.settings.spread_bps) if spread else (price, price)
        size = self._left.get(sym, UNLIMITED_SIZE) if self.settings.volume_share is not None else UNLIMITED_SIZE
        self._quote_px[sym] = (price, bid, ask)
        self.venue.on_quote_event(Quote(sym, bid, size, ask, size, self.clock.now_ns()))
        self._drain()

    def _execute(self, intent: OrderIntent) -> None:
        adm = self.execution.intent(intent)
        if not adm.accepted and not adm.duplicate:
            row = self.ledger.orders.get(intent.intent_id) or self.ledger.intent(intent, None)
            self.ledger.deny(row, f"EXECUTION_{adm.reason_code}", adm.message)
            self.risk.on_order_closed(intent.intent_id)
            self.signals.on_risk_decision(intent.intent_id, False, f"EXECUTION_{adm.reason_code}")
        self._drain()

    def _drain(self) -> None:
        """Deliver the venue's trade updates to the execution core, record its fills, and
        route what the core published (until quiet)."""
        venue, execution = self.venue, self.execution
        self._resting.clear()
        while True:
            updates = venue.drain_updates()
            if not updates:
                break
            for u in updates:
                execution.handle(TradeUpdateSeen(u))
        fills = venue.drain_fills()
        if fills:
            orders = venue.engine.orders
            now = self.clock.now_ns()
            for f in fills:
                mid, bid, ask = self._quote_px.get(f.symbol, (float(f.price),) * 3)
                self.ledger.fill(
                    f, orders[f.order_id].client_order_id, now, ask if f.side is OrderSide.BUY else bid, mid
                )
                if self.settings.volume_share is not None:
                    self._left[f.symbol] = self._left.get(f.symbol, 0.0) - float(f.qty)
        self._route()
        venue.forget_finished()
        self._resting.update(o.symbol for o in venue.engine.open_orders_unsorted())

    def _route(self) -> None:
        published = self.execution.published
        if not published:
            return
        self.execution.published = []
        risk, signals, ledger = self.risk, self.signals, self.ledger
        for effect in published:
            m = effect.message
            if isinstance(m, wire.ExecutionReport):
                risk.on_execution_report(m.event, m.status, m.symbol, m.side, m.fill_qty, m.fill_price, m.intent_id)
                if m.strategy:
                    signals.on_report(
                        m.strategy, m.symbol, m.status, m.position_qty, m.intent_id or None, m.side.value, m.filled_qty
                    )
                ledger.report(m)
            elif isinstance(m, wire.PositionUpdate):
                risk.on_position(m.symbol, m.qty, m.avg_entry_price)
            elif isinstance(m, wire.PnLUpdate):
                risk.on_pnl(m.realized, m.unrealized, m.equity)
            elif isinstance(m, wire.IntegrityAlert):
                risk.on_integrity_violation(m.kind, f"{m.symbol}: {m.detail}")

    def _drain_events(self) -> None:
        """Breaker trips and trading-state changes go into the report's warnings; the
        rest of the cores' events are counted in their own counters."""
        for ev in self.risk.drain_events():
            name = type(ev).__name__
            if name.startswith("Breaker") or name == "TradingStateChanged":
                fields = msgspec.structs.asdict(ev)
                detail = ", ".join(f"{k}={getattr(v, 'value', v)}" for k, v in fields.items() if k != "ts_ns")
                self.warnings.append(f"{iso_utc(self.clock.now_ns())} risk {name}: {detail}")
        for st in self.strategies:  # a model strategy's health, as the signal bridge acts on it
            drain = getattr(st, "drain_health_events", None)
            for hev in drain() if drain is not None else ():
                when = iso_utc(self.clock.now_ns())
                self.warnings.append(f"{when} model {hev.level} {hev.strategy}: {hev.check}: {hev.detail}")
                if hev.level == "act":
                    reason = f"model health: {hev.check}: {hev.detail}"[:300]
                    self.risk.set_strategy_reduce_only(hev.strategy, True, reason)
                    self.warnings.append(f"{when} risk strategy {hev.strategy} reduce-only: {reason}")
        for sev in self.signals.drain_events():
            if not isinstance(sev, IntentDropped):
                self.warnings.append(f"{iso_utc(self.clock.now_ns())} signals {type(sev).__name__}: {sev}")

    # ================================================================== the end
    def _finish(self) -> None:
        """Cancel what still rests, then (close_at_end) close every position at its last
        close, through execution like any order."""
        if self.venue.engine.open_orders():
            self.venue.cancel_all_orders()
            self._drain()
        for intents in self._waiting.values():
            for intent in intents:
                row = self.ledger.orders.get(intent.intent_id)
                if row is not None:
                    row.status, row.message = "canceled", "the data ended before the next open"
        self._waiting.clear()
        if not self.settings.close_at_end:
            return
        self._ensure_open_at_close()
        if self.regular and not self.venue.engine.market_open:
            self.venue.set_market_open(True)
        for i, sym in enumerate(self.symbols):
            qty = self.venue.engine.account.position_qty(sym)
            if not qty or not self.ledger.mark[i]:
                continue
            owner = self.signals.owners.get(sym) or next(
                (n for n in self.signals.strategy_names if sym in self.signals.symbols_of(n)), "backtest"
            )
            self._end_seq += 1
            intent = OrderIntent(
                intent_id=f"{END_OF_DATA_PREFIX}{self._end_seq}",
                strategy=owner,
                symbol=sym,
                side=OrderSide.SELL if qty > 0 else OrderSide.BUY,
                qty=abs(qty),
                order_type=OrderType.MARKET,
                time_in_force=TimeInForce.DAY,
                ts_ns=self.clock.now_ns(),
                reason="end of data",
            )
            self.ledger.intent(intent, None)
            self._feed(sym, self.ledger.mark[i])
            self._execute(intent)

    def _result(self, n: int) -> RunResult:
        account = self.venue.account()
        final_equity = Decimal(account.equity)
        ledger_equity = self.ledger.cash + self.ledger.value
        if abs(ledger_equity - float(final_equity)) > 0.01 + 1e-9 * abs(float(final_equity)):
            self.warnings.append(
                f"internal: the equity curve's last value {ledger_equity:.2f} differs from the venue account's "
                f"{final_equity} (report this)"
            )
        prices = self._symbol_prices()
        return RunResult(
            version=__version__,
            config=self.config,
            sources=list(self.data.sources),
            initial_cash=self.settings.cash,
            final_cash=Decimal(account.cash),
            final_equity=final_equity,
            start_ns=int(self.data.open_ns[0]),
            end_ns=int(self.data.close_ns[-1]),
            timeframe=self.data.timeframe,
            fills=self.ledger.fills,
            orders=list(self.ledger.orders.values()),
            equity_ts=self.ledger.equity_ts,
            equity=self.ledger.equity,
            gross_exposure=self.ledger.exposure,
            prices=prices,
            warnings=self.warnings,
            bars_processed=n,
            price_series=self._price_series(),
        )

    def _symbol_prices(self) -> dict[str, SymbolPrices]:
        """First open and last close of each symbol, and its bar count (from the arrays)."""
        d = self.data
        out: dict[str, SymbolPrices] = {}
        for i, sym in enumerate(self.symbols):
            rows = (d.sym == i).nonzero()[0]
            if len(rows):
                a, b = int(rows[0]), int(rows[-1])
                out[sym] = SymbolPrices(
                    int(d.open_ns[a]), float(d.open[a]), int(d.close_ns[b]), float(d.close[b]), len(rows)
                )
        return out

    def _price_series(self) -> dict[str, tuple[array[int], array[float]]]:
        """Bar closes per symbol (close time, close) for the report's price chart."""
        d = self.data
        out: dict[str, tuple[array[int], array[float]]] = {}
        for i, sym in enumerate(self.symbols):
            mask = d.sym == i
            ts: array[int] = array("q")
            ts.frombytes(d.close_ns[mask].astype("int64").tobytes())
            px: array[float] = array("d")
            px.frombytes(d.close[mask].astype("float64").tobytes())
            out[sym] = (ts, px)
        return out
