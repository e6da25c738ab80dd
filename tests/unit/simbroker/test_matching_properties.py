"""Property tests of the matching core and paper account."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from pyrt.domain.enums import OrderSide, OrderType, TimeInForce, TradeEvent
from pyrt.domain.market import Quote
from pyrt.venues.simulated.matching import MatchingEngine, SimConfig
from pyrt.venues.simulated.models import NewOrder, Rejection

T0 = 1_700_000_000_000_000_000
SYMS = ("AAPL", "MSFT")

quotes = st.builds(
    lambda sym, mid_cents, spread_cents, bs, as_: Quote(
        sym, (mid_cents - spread_cents) / 100, bs, (mid_cents + spread_cents) / 100, as_, 0
    ),
    st.sampled_from(SYMS),
    st.integers(5_000, 15_000),
    st.integers(1, 20),
    st.integers(0, 500),
    st.integers(0, 500),
)
orders = st.builds(
    lambda sym, side, type_, tif, qty, off: (sym, side, type_, tif, qty, off),
    st.sampled_from(SYMS),
    st.sampled_from(list(OrderSide)),
    st.sampled_from(list(OrderType)),
    st.sampled_from(list(TimeInForce)),
    st.integers(1, 400),
    st.integers(-300, 300),
)
actions = st.lists(
    st.one_of(
        quotes.map(lambda q: ("quote", q)),
        orders.map(lambda o: ("order", o)),
        st.just(("cancel_all", None)),
        st.just(("expire", None)),
    ),
    max_size=60,
)


def run(seed, acts, shorting):
    eng = MatchingEngine(SimConfig(symbols=SYMS, allow_shorting=shorting, fee_per_share=D("0.005")), seed)
    now = T0
    seen: dict[str, list[tuple[D, D]]] = {}  # order id -> (bid, ask) quotes seen while open
    fills = []
    open_ids: set[str] = set()

    def note(evts):
        for e in evts:
            if e.event in (TradeEvent.FILL, TradeEvent.PARTIAL_FILL):
                fills.append(e)
            if e.order.is_open:
                open_ids.add(e.order.id)
            else:
                open_ids.discard(e.order.id)

    for kind, arg in acts:
        now += 1_000
        if kind == "quote":
            q = Quote(arg.symbol, arg.bid_price, arg.bid_size, arg.ask_price, arg.ask_size, now)
            for oid in open_ids:
                if eng.orders[oid].symbol == q.symbol:
                    seen[oid].append((D(repr(q.bid_price)), D(repr(q.ask_price))))
            note(eng.on_quote(q, now))
        elif kind == "order":
            sym, side, type_, tif, qty, off = arg
            q = eng.quote(sym)
            ref = D(repr(q.mid)) if q else D(100)
            price = (ref + D(off) / 100).quantize(D("0.01"))
            if price <= 0:
                continue
            req = NewOrder(
                symbol=sym,
                side=side,
                type=type_,
                time_in_force=tif,
                qty=D(qty),
                limit_price=price if type_ in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
                stop_price=price if type_ in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
            )
            try:
                ack, evts = eng.submit(req, now)
            except Rejection:
                continue
            seen[ack.id] = [(D(repr(q.bid_price)), D(repr(q.ask_price)))] if q else []
            open_ids.add(ack.id)
            note(evts)
        elif kind == "cancel_all":
            for _, evts in eng.cancel_all(now):
                note(evts)
        else:
            note(eng.expire_day_orders(now))
    return eng, fills, seen


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10), actions, st.booleans())
def test_invariants(seed, acts, shorting):
    eng, fills, seen = run(seed, acts, shorting)
    acct = eng.account
    # cash plus position value at cost is conserved up to realized P&L and fees
    at_cost = sum((p.cost_basis for p in acct.positions.values()), D(0))
    assert acct.cash + at_cost - acct.realized_pnl + acct.fees_paid == acct.initial_cash
    for o in eng.orders.values():
        assert D(0) <= o.filled_qty <= o.qty
    for f in fills:
        quotes_seen = seen[f.order.id]
        side_prices = [ask if f.order.side is OrderSide.BUY else bid for bid, ask in quotes_seen]
        assert min(side_prices) <= f.price <= max(side_prices)
        if f.order.limit_price is not None:
            lim = f.order.limit_price
            assert f.price <= lim if f.order.side is OrderSide.BUY else f.price >= lim
    if not shorting:
        assert all(p.qty > 0 for p in acct.positions.values())
    # positions equal the sum of signed fills
    net: dict[str, D] = {}
    for f in fills:
        net[f.order.symbol] = net.get(f.order.symbol, D(0)) + (f.qty if f.order.side is OrderSide.BUY else -f.qty)
    assert {s: q for s, q in net.items() if q} == {s: p.qty for s, p in acct.positions.items()}


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10), actions)
def test_same_seed_same_fills(seed, acts):
    _, a, _ = run(seed, acts, True)
    _, b, _ = run(seed, acts, True)
    assert [(f.execution_id, f.order.id, f.price, f.qty) for f in a] == [
        (f.execution_id, f.order.id, f.price, f.qty) for f in b
    ]
