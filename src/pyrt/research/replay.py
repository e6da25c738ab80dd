"""`pyrt backtest replay`: what the live system did on a day (its journal) against what the
backtester does on that day's recorded bars with the same config. Pure: it takes journal
records and a backtest result and returns the differences.

Matching: per (strategy, symbol), in time order, a backtest decision and a live intent are
the same decision when side, quantity, order type and prices agree and the live intent was
made within `match_window_s` of the backtest's decision time (the bar's close; live, the
bar arrives after it). Unmatched backtest decisions are MISSED (the live system did not make
them), unmatched live intents EXTRA. For matched pairs that both filled: the price gap in
basis points, signed against the live system (positive: live paid more on a buy or got
less on a sell), and the time gap between the first fills. A mismatch is a missed or extra
intent, a price gap beyond `max_price_gap_bps` or a time gap beyond `max_time_gap_s`; the
check fails when there are more than `max_mismatches`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from statistics import median
from typing import Any

from pyrt.backtest.engine import END_OF_DATA_PREFIX
from pyrt.backtest.results import OrderRow, RunResult
from pyrt.domain.calendar import NEW_YORK
from pyrt.domain.clock import iso_utc
from pyrt.domain.events import JournalRecord, RecordKind

MISMATCH_KINDS = ("missed", "extra", "price_gap", "time_gap")


@dataclass(frozen=True)
class Thresholds:
    match_window_s: float = 120.0
    max_price_gap_bps: float = 10.0
    max_time_gap_s: float = 120.0
    max_mismatches: int = 0

    def __post_init__(self) -> None:
        for name in ("match_window_s", "max_price_gap_bps", "max_time_gap_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if self.max_mismatches < 0:
            raise ValueError(f"max_mismatches: must be >= 0, got {self.max_mismatches}")


@dataclass
class Intent:
    """One decision, live or backtested, and how it filled (None: not filled)."""

    strategy: str
    symbol: str
    side: str
    qty: Decimal
    order_type: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    ts_ns: int
    ref: str  # client_order_id (live) or intent_id (backtest)
    fill_price: Decimal | None = None
    fill_ns: int | None = None

    def key(self) -> tuple[str, str, str, Decimal, str, Decimal | None, Decimal | None]:
        return (self.strategy, self.symbol, self.side, self.qty, self.order_type, self.limit_price, self.stop_price)

    def describe(self) -> str:
        return f"{self.strategy} {self.side} {self.qty} {self.symbol} {self.order_type} at {iso_utc(self.ts_ns)}"


@dataclass
class Pair:
    live: Intent
    backtest: Intent
    price_gap_bps: float | None = None
    time_gap_s: float | None = None
    quote_gap_bps: float | None = None  # the live fill against the recorded quote it crossed (adverse +)


@dataclass
class ReplayDiff:
    day: str
    thresholds: Thresholds
    matched: list[Pair] = field(default_factory=list)
    missed: list[Intent] = field(default_factory=list)  # backtest decided, live did not
    extra: list[Intent] = field(default_factory=list)  # live decided, backtest did not
    notes: list[str] = field(default_factory=list)

    def mismatches(self) -> dict[str, int]:
        t = self.thresholds
        return {
            "missed": len(self.missed),
            "extra": len(self.extra),
            "price_gap": sum(1 for p in self.matched if p.price_gap_bps is not None
                             and abs(p.price_gap_bps) > t.max_price_gap_bps),
            "time_gap": sum(1 for p in self.matched if p.time_gap_s is not None
                            and abs(p.time_gap_s) > t.max_time_gap_s),
        }  # fmt: skip

    @property
    def total(self) -> int:
        return sum(self.mismatches().values())

    @property
    def passed(self) -> bool:
        return self.total <= self.thresholds.max_mismatches

    def to_dict(self) -> dict[str, Any]:
        gaps = [p.price_gap_bps for p in self.matched if p.price_gap_bps is not None]
        times = [p.time_gap_s for p in self.matched if p.time_gap_s is not None]
        quoted = [p.quote_gap_bps for p in self.matched if p.quote_gap_bps is not None]
        return {
            "date": self.day,
            "passed": self.passed,
            "mismatches": self.mismatches(),
            "total_mismatches": self.total,
            "thresholds": vars(self.thresholds),
            "matched": len(self.matched),
            "price_gap_bps": {"median": median(gaps) if gaps else None, "max_abs": max(map(abs, gaps), default=None)},
            "time_gap_s": {"median": median(times) if times else None, "max_abs": max(map(abs, times), default=None)},
            "fill_vs_quote_bps": {"median": median(quoted) if quoted else None, "fills": len(quoted)},
            "missed": [_intent_dict(i) for i in self.missed],
            "extra": [_intent_dict(i) for i in self.extra],
            "pairs": [
                {
                    "live": _intent_dict(p.live),
                    "backtest": _intent_dict(p.backtest),
                    "price_gap_bps": p.price_gap_bps,
                    "time_gap_s": p.time_gap_s,
                    "fill_vs_quote_bps": p.quote_gap_bps,
                }
                for p in self.matched
            ],
            "notes": self.notes,
        }


def _intent_dict(i: Intent) -> dict[str, Any]:
    return {
        "strategy": i.strategy, "symbol": i.symbol, "side": i.side, "qty": str(i.qty), "order_type": i.order_type,
        "time": iso_utc(i.ts_ns), "ref": i.ref, "fill_price": None if i.fill_price is None else str(i.fill_price),
        "fill_time": None if i.fill_ns is None else iso_utc(i.fill_ns),
    }  # fmt: skip


def ny_day(ts_ns: int) -> date:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=NEW_YORK).date()


def live_intents(records: Iterable[JournalRecord], day: date) -> list[Intent]:
    """The journal's intents decided on `day` (New York date) with their fills (the
    quantity-weighted average price and the first fill's time). Manual orders (strategy
    "manual" or empty) are not a strategy's decisions and are left out."""
    intents: dict[str, Intent] = {}
    fills: dict[str, list[tuple[int, Decimal, Decimal]]] = {}
    for r in records:
        if r.kind == RecordKind.INTENT:
            p = r.payload
            ts = int(p.get("ts_ns") or r.ts_ns)
            strategy = str(p.get("strategy", ""))
            if ny_day(ts) != day or strategy in ("", "manual"):
                continue
            intents[r.client_order_id] = Intent(
                strategy, str(p["symbol"]), str(p["side"]), Decimal(str(p["qty"])), str(p.get("order_type", "market")),
                _dec(p.get("limit_price")), _dec(p.get("stop_price")), ts, r.client_order_id,
            )  # fmt: skip
        elif r.kind == RecordKind.FILL:
            p = r.payload
            fills.setdefault(r.client_order_id, []).append((r.ts_ns, Decimal(str(p["qty"])), Decimal(str(p["price"]))))
    for coid, intent in intents.items():
        got = fills.get(coid)
        if got:
            qty = sum((q for _, q, _ in got), Decimal(0))
            intent.fill_price = sum((q * px for _, q, px in got), Decimal(0)) / qty if qty else None
            intent.fill_ns = min(t for t, _, _ in got)
    return sorted(intents.values(), key=lambda i: i.ts_ns)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def backtest_intents(run: RunResult) -> list[Intent]:
    """The backtest's approved decisions (the journal holds only approved intents) with
    their fills; the engine's own end-of-data orders are not decisions."""
    first_fill: dict[str, int] = {}
    for f in run.fills:
        first_fill.setdefault(f.intent_id, f.ts_ns)
    out = []
    for o in run.orders:
        if o.intent_id.startswith(END_OF_DATA_PREFIX) or o.status == "denied":
            continue
        out.append(_of_row(o, first_fill.get(o.intent_id)))
    return out


def _of_row(o: OrderRow, fill_ns: int | None) -> Intent:
    return Intent(
        o.strategy, o.symbol, o.side, o.qty, o.order_type, o.limit_price, o.stop_price, o.decided_ns, o.intent_id,
        o.avg_price if o.filled_qty else None, fill_ns if o.filled_qty else None,
    )  # fmt: skip


def diff(day: date, live: list[Intent], backtest: list[Intent], thresholds: Thresholds) -> ReplayDiff:
    out = ReplayDiff(day.isoformat(), thresholds)
    window = int(thresholds.match_window_s * 1e9)
    unmatched = sorted(live, key=lambda i: i.ts_ns)
    for b in sorted(backtest, key=lambda i: i.ts_ns):
        found = next((x for x in unmatched if x.key() == b.key() and abs(x.ts_ns - b.ts_ns) <= window), None)
        if found is None:
            out.missed.append(b)
            continue
        unmatched.remove(found)
        out.matched.append(_pair(found, b))
    out.extra = unmatched
    return out


def _pair(live: Intent, bt: Intent) -> Pair:
    pair = Pair(live, bt)
    if live.fill_price is not None and bt.fill_price is not None and bt.fill_price:
        gap = float((live.fill_price - bt.fill_price) / bt.fill_price) * 1e4
        pair.price_gap_bps = round(gap if live.side == "buy" else -gap, 3)
    if live.fill_ns is not None and bt.fill_ns is not None:
        pair.time_gap_s = round((live.fill_ns - bt.fill_ns) / 1e9, 3)
    return pair


Quotes = dict[str, tuple[Any, Any, Any]]  # symbol -> (time ns, bid, ask) arrays in time order


def quote_gaps(result: ReplayDiff, quotes: Quotes) -> None:
    """Each matched live fill against the last recorded quote at or before it: what a buy
    paid above the ask or a sell got below the bid, in bps (the venue's slippage, apart from
    how far the price moved since the bar's close)."""
    from bisect import bisect_right

    for p in result.matched:
        live = p.live
        got = quotes.get(live.symbol)
        if got is None or live.fill_price is None or live.fill_ns is None:
            continue
        ts, bid, ask = got
        i = bisect_right(ts, live.fill_ns) - 1
        if i < 0:
            continue
        ref = float(ask[i]) if live.side == "buy" else float(bid[i])
        if ref > 0:
            gap = (float(live.fill_price) - ref) / ref * 1e4
            p.quote_gap_bps = round(gap if live.side == "buy" else -gap, 3)
