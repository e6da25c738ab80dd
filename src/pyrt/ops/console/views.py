"""View models of the operator console and the CLI views (pure: plain data in, plain data
out, no I/O). The web page (pyrt.ops.console.web) and `pyrt positions|pnl|orders|fills`
(pyrt.ops.commands.views) render the same rows, so a number reads the same everywhere.

Money is kept as decimal strings (the API's convention); totals are computed in Decimal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal(0)


def dec(value: Any) -> Decimal:
    """A decimal from a string, number or None (None and garbage read as 0)."""
    if value is None or value == "":
        return ZERO
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        return ZERO
    return out if out.is_finite() else ZERO


def money(value: Decimal) -> str:
    """Two decimals, as the tables show money."""
    return f"{value.quantize(Decimal('0.01'))}"


# --------------------------------------------------------------------------- positions
POSITION_COLUMNS = ("symbol", "qty", "avg_entry_price", "current_price", "market_value", "unrealized_pl")


def positions_view(positions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Rows sorted by symbol, with the totals of market value and unrealised P&L."""
    rows = [{c: str(p.get(c, "")) for c in POSITION_COLUMNS} for p in sorted(positions, key=lambda p: p["symbol"])]
    total_value = sum((dec(r["market_value"]) for r in rows), ZERO)
    total_upl = sum((dec(r["unrealized_pl"]) for r in rows), ZERO)
    return {"rows": rows, "totals": {"market_value": money(total_value), "unrealized_pl": money(total_upl)}}


# --------------------------------------------------------------------------- orders
ORDER_COLUMNS = (
    "client_order_id",
    "symbol",
    "side",
    "type",
    "qty",
    "filled_qty",
    "limit_price",
    "status",
    "submitted_at",
)


def orders_view(orders: Sequence[Mapping[str, Any]], since: str | None = None) -> list[dict[str, Any]]:
    """Order rows, oldest first; with `since` (an ISO time) only orders submitted at or after it."""
    rows = [{c: o.get(c) for c in ORDER_COLUMNS} for o in orders]
    if since:
        cut = parse_time(since)
        rows = [r for r in rows if r["submitted_at"] and parse_time(str(r["submitted_at"])) >= cut]
    return sorted(rows, key=lambda r: str(r["submitted_at"] or ""))


def parse_time(text: str) -> datetime:
    """An ISO date or date-time (naive means UTC); ValueError names the text."""
    try:
        value = datetime.fromisoformat(text)  # 3.11 reads a trailing Z
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date or time (e.g. 2026-12-03 or 2026-12-03T14:30)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- fills and P&L
@dataclass(frozen=True)
class Fill:
    """One execution, as the journal recorded it."""

    ts_ns: int
    client_order_id: str
    strategy: str
    symbol: str
    side: str  # "buy" or "sell"
    qty: Decimal
    price: Decimal
    execution_id: str

    def row(self) -> dict[str, Any]:
        return {
            "time": iso_ns(self.ts_ns),
            "symbol": self.symbol,
            "side": self.side,
            "qty": str(self.qty),
            "price": str(self.price),
            "strategy": self.strategy,
            "client_order_id": self.client_order_id,
            "execution_id": self.execution_id,
        }


FILL_COLUMNS = ("time", "symbol", "side", "qty", "price", "strategy", "client_order_id")


def iso_ns(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fills_from_records(records: Iterable[Any]) -> list[Fill]:
    """The fills of journal records (kind "intent" gives each order's symbol, side and
    strategy; kind "fill" one execution), in journal order; a fill of an order without
    its intent record is skipped."""
    orders: dict[str, tuple[str, str, str]] = {}
    out: list[Fill] = []
    for r in records:
        if r.kind == "intent":
            p = r.payload
            orders[r.client_order_id] = (str(p.get("symbol", "")), str(p.get("side", "")), str(p.get("strategy", "")))
        elif r.kind == "fill" and r.client_order_id in orders:
            symbol, side, strategy = orders[r.client_order_id]
            out.append(
                Fill(
                    ts_ns=r.ts_ns,
                    client_order_id=r.client_order_id,
                    strategy=strategy,
                    symbol=symbol,
                    side=side,
                    qty=dec(r.payload.get("qty")),
                    price=dec(r.payload.get("price")),
                    execution_id=str(r.payload.get("execution_id", "")),
                )
            )
    return out


def realized_by_day(fills: Iterable[Fill]) -> dict[str, dict[str, Decimal]]:
    """Realised P&L per UTC day, by average cost per symbol (a long or a short position;
    a fill that crosses zero closes the old side and opens the new one). Also the day's
    fill count and traded notional. Days in order."""
    qty: dict[str, Decimal] = {}
    avg: dict[str, Decimal] = {}
    days: dict[str, dict[str, Decimal]] = {}
    for f in sorted(fills, key=lambda f: f.ts_ns):
        day = iso_ns(f.ts_ns)[:10]
        d = days.setdefault(day, {"realized": ZERO, "fills": ZERO, "notional": ZERO})
        d["fills"] += 1
        d["notional"] += f.qty * f.price
        signed = f.qty if f.side == "buy" else -f.qty
        held = qty.get(f.symbol, ZERO)
        if held == 0 or (held > 0) == (signed > 0):  # opening or adding
            new = held + signed
            avg[f.symbol] = (avg.get(f.symbol, ZERO) * abs(held) + f.price * abs(signed)) / abs(new)
            qty[f.symbol] = new
            continue
        closed = min(abs(signed), abs(held))
        direction = Decimal(1) if held > 0 else Decimal(-1)
        d["realized"] += (f.price - avg[f.symbol]) * closed * direction
        new = held + signed
        qty[f.symbol] = new
        if new == 0:
            avg.pop(f.symbol, None)
        elif (new > 0) != (held > 0):  # crossed zero: the remainder opens at this price
            avg[f.symbol] = f.price
    return dict(sorted(days.items()))


def pnl_view(fills: Sequence[Fill], days: int, today: str, unrealized: Decimal) -> list[dict[str, str]]:
    """The last `days` UTC days up to `today` (YYYY-MM-DD), each with its realised P&L, fills
    and traded notional; today also carries the open positions' unrealised P&L."""
    by_day = realized_by_day(fills)
    end = datetime.fromisoformat(today).date()
    rows = []
    for back in range(days - 1, -1, -1):
        name = datetime.fromordinal(end.toordinal() - back).date().isoformat()
        d = by_day.get(name, {"realized": ZERO, "fills": ZERO, "notional": ZERO})
        upl = unrealized if name == today else None
        rows.append(
            {
                "day": name,
                "realized": money(d["realized"]),
                "unrealized": "" if upl is None else money(upl),
                "fills": str(int(d["fills"])),
                "notional": money(d["notional"]),
            }
        )
    return rows


# --------------------------------------------------------------------------- risk limits
def limits_view(limits: Any, risk: Mapping[str, Any], positions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each pre-trade and breaker limit with what is used and what is allowed (`limits` is
    the RiskLimits of risk_limits.toml, `risk` the risk manager's status, `positions` the
    position rows). `pct` is used/allowed in percent (losses count only when negative)."""
    pl, ll, cb = limits.position_limits, limits.loss_limits, limits.circuit_breaker
    biggest_value = max((abs(dec(p.get("market_value"))) for p in positions), default=ZERO)
    biggest_qty = max((abs(dec(p.get("qty"))) for p in positions), default=ZERO)
    loss = max(-dec(risk.get("daily_pnl")), ZERO)
    breaker = risk.get("breaker", {}) if isinstance(risk.get("breaker"), Mapping) else {}
    items: list[tuple[str, Decimal, Decimal]] = [
        ("total exposure ($)", dec(risk.get("total_exposure")), dec(pl.max_total_exposure)),
        ("largest position ($)", biggest_value, dec(pl.max_notional_per_position)),
        ("largest position (shares)", biggest_qty, dec(pl.max_shares)),
        ("open positions", dec(risk.get("open_positions", len(positions))), Decimal(pl.max_open_positions)),
        ("daily loss ($)", loss, dec(ll.max_daily_loss)),
        ("trades today", dec(breaker.get("trades_today", risk.get("trades_today"))), Decimal(cb.max_trades_per_day)),
        ("consecutive losses", dec(breaker.get("consecutive_losses")), Decimal(cb.max_consecutive_losses)),
        ("consecutive rejections", dec(breaker.get("consecutive_rejections")), Decimal(cb.max_consecutive_rejections)),
    ]
    out = []
    for name, used, allowed in items:
        pct = float(used / allowed * 100) if allowed else 0.0
        out.append(
            {"name": name, "used": f"{used.normalize():f}", "allowed": f"{allowed.normalize():f}", "pct": round(pct, 1)}
        )
    return out


def venue_view(venue: Any) -> dict[str, str]:
    """sim, paper or live, and the trading URL (no keys)."""
    if venue.live:
        kind = "live"
    elif venue.embedded_sim or "alpaca.markets" not in venue.trading_url:
        kind = "sim"
    else:
        kind = "paper"
    return {"kind": kind, "url": venue.trading_url}


def services_view(
    processes: Mapping[str, Mapping[str, Any]],
    heartbeats: Mapping[str, tuple[int, str]],
    metrics: Mapping[str, Mapping[str, float]],
    now_ns: int,
    names: Sequence[str],
) -> list[dict[str, Any]]:
    """One row per service: up (running and ready), uptime, seconds since its last
    heartbeat and its status, bus gaps and drops, errors (from its metrics)."""
    rows = []
    for name in names:
        p = processes.get(name, {})
        hb = heartbeats.get(name)
        m = metrics.get(name, {})
        rows.append(
            {
                "name": name,
                "up": bool(p.get("running") and p.get("ready")),
                "pid": p.get("pid"),
                "uptime_s": p.get("uptime_s"),
                "heartbeat_age_s": None if hb is None else round((now_ns - hb[0]) / 1e9, 1),
                "heartbeat": None if hb is None else hb[1],
                "bus_gaps": int(m.get("bus_seq_gaps_total", 0)),
                "bus_drops": int(m.get("bus_messages_dropped_total", 0)),
                "errors": int(m.get("trading_errors_total", 0)),
            }
        )
    return rows
