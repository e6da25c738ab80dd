"""The pure invariant check (pyrt.ops.invariants.check) on hand-made journals and broker
views: each invariant is seen to fail on the situation it exists for (review D1/D3)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from pyrt.domain.enums import OrderSide
from pyrt.domain.intents import OrderIntent
from pyrt.ops.invariants import BrokerView, check, journal_view
from pyrt.persistence.journal import JournalRecord
from pyrt.venues.port import BrokerOrder, BrokerPosition


class J:
    """A journal written by hand."""

    def __init__(self) -> None:
        self.records: list[JournalRecord] = []

    def add(self, kind: str, coid: str, payload: dict) -> J:
        self.records.append(JournalRecord(len(self.records) + 1, len(self.records) + 1, kind, coid, payload))
        return self

    def order(self, coid: str, symbol: str = "AAPL", qty: int = 1, filled: bool = True) -> J:
        intent = OrderIntent(intent_id=coid, strategy="t", symbol=symbol, side=OrderSide.BUY, qty=Decimal(qty))
        self.add("intent", coid, msgspec.to_builtins(intent)).add("submit_sent", coid, {})
        self.add("ack", coid, {"broker_order_id": f"b-{coid}", "status": "accepted"})
        if filled:
            self.add("fill", coid, {"execution_id": f"x-{coid}", "qty": str(qty), "price": "100"})
        return self

    def view(self):
        return journal_view(self.records)


def bo(coid: str, symbol: str = "AAPL", status: str = "filled") -> BrokerOrder:
    return BrokerOrder(
        id=f"b-{coid}",
        client_order_id=coid,
        symbol=symbol,
        side="buy",
        type="market",
        time_in_force="day",
        status=status,
        qty=Decimal(1),
        filled_qty=Decimal(1),
        filled_avg_price=Decimal(100),
        limit_price=None,
        stop_price=None,
        submitted_at="",
    )


def pos(symbol: str, qty: int) -> BrokerPosition:
    z = Decimal(0)
    return BrokerPosition(
        symbol=symbol, qty=Decimal(qty), avg_entry_price=Decimal(100), market_value=z, unrealized_pl=z, current_price=z
    )


def test_journal_and_broker_in_line_is_ok():
    p = J().order("a").order("b", "MSFT").view()
    r = check(p, BrokerView((bo("a"), bo("b", "MSFT")), (pos("AAPL", 1), pos("MSFT", 1))))
    assert r.ok and r.violations == 0, r.line()
    assert r.line().startswith("OK orders=2 broker_orders=2")


def test_an_acknowledged_order_missing_at_the_broker_is_lost():
    r = check(J().order("a").view(), BrokerView((), (pos("AAPL", 1),)))
    assert r.lost == ("a",) and not r.ok


def test_two_broker_orders_for_one_client_order_id_are_a_duplicate():
    r = check(J().order("a").view(), BrokerView((bo("a"), bo("a")), (pos("AAPL", 1),)), halted="x")
    assert r.duplicated == ("a",)


def test_a_broker_order_the_journal_does_not_know_is_an_orphan_unless_placed_on_purpose():
    p = J().order("a").view()
    view = BrokerView((bo("a"), bo("oob")), (pos("AAPL", 1),))
    assert check(p, view).orphans == ("oob",)
    assert check(p, view, ignore=["oob"]).ok


def test_an_order_journalled_during_the_broker_read_is_not_an_orphan():
    before = J().order("a").view()
    after = J().order("a").order("b", filled=False).view()
    r = check(before, BrokerView((bo("a"), bo("b", status="new")), (pos("AAPL", 1),)), after)
    assert r.ok, r.line()


def test_review_d1_a_locally_rejected_order_that_reaches_the_broker_is_caught():
    j = J().order("a")
    intent = OrderIntent(intent_id="g", strategy="t", symbol="AAPL", side=OrderSide.BUY, qty=Decimal(1))
    j.add("intent", "g", msgspec.to_builtins(intent)).add("submit_sent", "g", {})
    j.add("reconciliation", "g", {"local": "not_found", "reason": "404"})
    j.add("reconciliation", "g", {"local": "rejected", "reason": "never reached the broker"})
    j.add("ack", "g", {"broker_order_id": "b-g", "status": "accepted"})  # the ghost ACK
    j.add("fill", "g", {"execution_id": "x-g", "qty": "1", "price": "100"})
    r = check(j.view(), BrokerView((bo("a"), bo("g")), (pos("AAPL", 2),)))
    assert r.sent_after_reject == ("g",)
    assert r.drift == {"AAPL": (Decimal(1), Decimal(2))}
    assert "trading is not halted" in r.line()


def test_drift_is_reported_with_the_halt_state_and_busy_symbols_wait():
    p = J().order("a").view()
    r = check(p, BrokerView((bo("a"),), (pos("AAPL", 3),)), halted="position mismatch")
    assert r.drift == {"AAPL": (Decimal(1), Decimal(3))}
    assert "not halted" not in r.line()
    busy = J().order("a").order("w", filled=False).view()  # an open order on AAPL: may fill any moment
    r = check(busy, BrokerView((bo("a"), bo("w", status="new")), (pos("AAPL", 2),)))
    assert r.ok and r.busy_symbols == ("AAPL",)
