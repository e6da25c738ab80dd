"""The order-safety invariants, checked against the broker: what the fault matrix asserts at
the end of every scenario and what `pyrt up --chaos` reports while faults are injected.

Why one module: the review of 2026-12 (D1, D3) found ghost orders and silent position drift
that no single service noticed, because each looked only at its own state. These checks
compare the journal (the engine's durable truth) with the broker (the real truth) from the
outside, read-only, so the same code judges a test run and a live chaos run.

    journal_view(records)                -> JournalView            (pure)
    check(before, broker, after, halted) -> InvariantReport        (pure, no I/O)
    read_snapshot(journal_path, venue)   -> (before, broker, after) (the thin reader)

The journal is read twice, around the broker read: an order journalled after the first read
may already be at the broker (it is compared with the second read, never an orphan), and an
order acknowledged after the broker read was at the broker before it (it is compared with the
first read, never lost). Symbols with orders still working or in flight are "busy": their
positions may legitimately differ for a moment and are not counted as drift.

Invariants:
- lost: an order the journal says the broker has (acknowledged or with broker evidence) is
  missing at the broker.
- duplicated: two broker orders carry one client_order_id.
- orphans: a broker order whose client_order_id is not in the journal (broker ⊆ journal).
- sent_after_reject: a broker order for a client_order_id the journal decided never reached
  the broker (denied, or rejected with no broker id: review D1).
- drift: journal position != broker position for a symbol that is not busy.
- halt: a violation above with trading not halted (the safety net did not trip).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pyrt.domain.events import JournalRecord, RecordKind
from pyrt.domain.orders import IN_FLIGHT_STATES, OPEN_STATES, PRE_ACK_STATES, OrderState
from pyrt.persistence.journal import Journal
from pyrt.persistence.projections import OrderProjection, replay
from pyrt.venues.port import BrokerOrder, BrokerPosition

ZERO = Decimal(0)
_AT_BROKER = frozenset(OPEN_STATES | {OrderState.FILLED, OrderState.CANCELED, OrderState.EXPIRED, OrderState.REPLACED})


@dataclass(frozen=True)
class BrokerView:
    """What the broker says: every order (all statuses) and every position."""

    orders: tuple[BrokerOrder, ...]
    positions: tuple[BrokerPosition, ...]


@dataclass(frozen=True)
class InvariantReport:
    orders: int  # orders in the journal
    broker_orders: int
    unresolved: tuple[str, ...]  # journal orders with no definitive broker answer yet
    lost: tuple[str, ...]
    duplicated: tuple[str, ...]
    orphans: tuple[str, ...]
    sent_after_reject: tuple[str, ...]
    drift: Mapping[str, tuple[Decimal, Decimal]]  # symbol -> (journal, broker)
    busy_symbols: tuple[str, ...]
    halted: str  # the engine's halt reason ("" = trading), None-able callers pass ""
    problems: tuple[str, ...] = field(default=())

    @property
    def violations(self) -> int:
        return len(self.lost) + len(self.duplicated) + len(self.orphans) + len(self.sent_after_reject) + len(self.drift)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        """One log line: counts, then what is wrong."""
        drift = ",".join(f"{s}:{j}/{b}" for s, (j, b) in sorted(self.drift.items())) or "0"
        head = (
            f"orders={self.orders} broker_orders={self.broker_orders} unresolved={len(self.unresolved)} "
            f"lost={len(self.lost)} duplicated={len(self.duplicated)} orphans={len(self.orphans)} "
            f"sent_after_reject={len(self.sent_after_reject)} drift={drift} "
            f"halted={'yes' if self.halted else 'no'}"
        )
        return f"{'OK' if self.ok else 'VIOLATED'} {head}" + ("" if self.ok else " :: " + "; ".join(self.problems))

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "orders": self.orders,
            "broker_orders": self.broker_orders,
            "unresolved": list(self.unresolved),
            "lost": list(self.lost),
            "duplicated": list(self.duplicated),
            "orphans": list(self.orphans),
            "sent_after_reject": list(self.sent_after_reject),
            "drift": {s: {"journal": str(j), "broker": str(b)} for s, (j, b) in sorted(self.drift.items())},
            "busy_symbols": list(self.busy_symbols),
            "halted": self.halted,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class JournalView:
    """The journal as the checks need it: its projection, and the client_order_ids it
    decided never reached the broker (denied, rejected locally, or refused by the POST)
    whatever came after (a later ACK does not undo the decision: that is review D1)."""

    proj: OrderProjection
    never_sent: frozenset[str]


def journal_view(records: Iterable[JournalRecord]) -> JournalView:
    recs = list(records)
    never = set()
    for r in recs:
        p = r.payload
        if (r.kind == RecordKind.RECONCILIATION and p.get("local") in ("rejected", "denied") and r.client_order_id) or (
            r.kind == RecordKind.ACK and p.get("status") == "rejected" and not p.get("broker_order_id")
        ):
            never.add(r.client_order_id)
    proj = replay(recs)
    never |= {c for c, o in proj.orders.items() if o.state == OrderState.DENIED}
    return JournalView(proj, frozenset(never))


def busy_symbols(*projs: OrderProjection) -> set[str]:
    return {o.symbol for p in projs for o in p.orders.values() if o.is_open or o.state in PRE_ACK_STATES}


def check(
    before_view: JournalView,
    broker: BrokerView,
    after_view: JournalView | None = None,
    halted: str = "",
    ignore: Iterable[str] = (),
) -> InvariantReport:
    """Compare journal and broker. `before`/`after`: the journal read before and after the
    broker read (the same one when nothing runs). `ignore`: client_order_ids placed at the
    broker on purpose outside the engine (a test's out-of-band order)."""
    after_view = after_view or before_view
    before, after = before_view.proj, after_view.proj
    skip = set(ignore)
    counts = Counter(o.client_order_id for o in broker.orders if o.client_order_id not in skip)
    at_broker = set(counts)
    duplicated = sorted(c for c, n in counts.items() if n > 1)
    lost = sorted(
        c
        for c, o in before.orders.items()
        if c not in at_broker and (o.state in _AT_BROKER or (o.broker_order_id and o.state != OrderState.REJECTED))
    )
    orphans = sorted(at_broker - set(after.orders))
    ghosts = sorted(at_broker & after_view.never_sent)
    busy = busy_symbols(before, after)
    theirs = {p.symbol: p.qty for p in broker.positions}
    ours = {s: p.qty for s, p in before.positions.items()}
    drift = {
        s: (ours.get(s, ZERO), theirs.get(s, ZERO))
        for s in sorted(set(ours) | set(theirs))
        if s not in busy and ours.get(s, ZERO) != theirs.get(s, ZERO)
    }
    unresolved = sorted(c for c, o in after.orders.items() if o.state in IN_FLIGHT_STATES | {OrderState.INITIALIZED})
    problems = []
    for name, items in (
        ("lost", lost),
        ("duplicated", duplicated),
        ("not in the journal", orphans),
        ("sent after a local rejection", ghosts),
    ):
        if items:
            problems.append(f"{len(items)} {name}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}")
    if drift:
        problems.append("position drift " + ", ".join(f"{s} journal {j} broker {b}" for s, (j, b) in drift.items()))
    if problems and not halted:
        problems.append("trading is not halted despite the above")
    return InvariantReport(
        orders=len(after.orders),
        broker_orders=len(broker.orders),
        unresolved=tuple(unresolved),
        lost=tuple(lost),
        duplicated=tuple(duplicated),
        orphans=tuple(orphans),
        sent_after_reject=tuple(ghosts),
        drift=drift,
        busy_symbols=tuple(sorted(busy)),
        halted=halted,
        problems=tuple(problems),
    )


# --------------------------------------------------------------------------- the reader
def read_journal(journal_path: Path) -> JournalView:
    """Read the journal read-only (safe next to the running engine)."""
    if not Path(journal_path).exists():
        return journal_view(())
    with Journal(journal_path, read_only=True) as j:
        return journal_view(j.iter_records())


def read_broker(venue: Any) -> BrokerView:
    """Every order and position through the venue port (alpaca-py against the broker)."""
    return BrokerView(tuple(venue.list_all_orders_since(None)), tuple(venue.positions()))


def read_snapshot(journal_path: Path, venue: Any) -> tuple[JournalView, BrokerView, JournalView]:
    before = read_journal(journal_path)
    broker = read_broker(venue)
    return before, broker, read_journal(journal_path)


def engine_halt_reason(cfg: Any, timeout_ms: int = 2000) -> str | None:
    """The execution engine's halt reason ("" when trading), None when it does not answer."""
    from pyrt.bus import schema as wire
    from pyrt.bus.security import for_config
    from pyrt.bus.zmq import RequestClient, RequestTimeout

    endpoint = cfg.system.execution.order_endpoint
    try:
        with RequestClient(endpoint, timeout_ms=timeout_ms, client_id="invariants", security=for_config(cfg)) as c:
            res = c.request(wire.ControlCommand("status", {}, "invariant check", "invariants")).payload
    except RequestTimeout:
        return None
    if not isinstance(res, wire.ControlResult) or not res.ok:
        return None
    return str(res.data.get("halted") or "")


def venue_for(cfg: Any, timeout_s: float = 5.0) -> Any:
    """The venue adapter of a config (the checker's own connection, never the engine's)."""
    from pyrt.bootstrap import make_venue

    return make_venue(cfg, timeout_s=timeout_s)


def check_deployment(cfg: Any, venue: Any | None = None, ignore: Iterable[str] = ()) -> InvariantReport:
    """Read journal, broker and the engine's halt state of a deployment and check them."""
    before, broker, after = read_snapshot(cfg.system.execution.journal_path, venue or venue_for(cfg))
    halted = engine_halt_reason(cfg)
    return check(before, broker, after, halted="(engine not answering)" if halted is None else halted, ignore=ignore)
