from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyrt.backtest.results import FillRow
from pyrt.backtest.trades import OPEN_AT_END, round_trips

D = Decimal
MIN = 60_000_000_000


def fill(
    t: int,
    side: str,
    qty: str,
    price: str,
    *,
    fee: str = "0",
    symbol: str = "AAPL",
    strategy: str = "s1",
    reason: str = "",
) -> FillRow:
    return FillRow(
        ts_ns=t * MIN,
        symbol=symbol,
        side=side,
        qty=D(qty),
        price=D(price),
        fee=D(fee),
        spread_cost=D(0),
        slippage_cost=D(0),
        strategy=strategy,
        intent_id=f"i{t}",
        client_order_id=f"c{t}",
        reason=reason or side,
        position_after=D(0),
    )


def test_long_round_trip_with_fees() -> None:
    [t] = round_trips(
        [
            fill(0, "buy", "100", "10", fee="1", reason="ema cross up"),
            fill(5, "sell", "100", "11", fee="2", reason="ema cross down"),
        ]
    )
    assert (t.side, t.qty, t.entry_price, t.exit_price) == ("long", D(100), D(10), D(11))
    assert t.gross_pnl == D(100)
    assert t.fees == D(3)
    assert t.net_pnl == D(97)
    assert t.return_pct == pytest.approx(9.7)
    assert t.duration_ns == 5 * MIN
    assert (t.entry_reason, t.exit_reason, t.is_open) == ("ema cross up", "ema cross down", False)


def test_short_round_trip_profits_when_price_falls() -> None:
    [t] = round_trips([fill(0, "sell", "10", "50"), fill(1, "buy", "10", "45")])
    assert t.side == "short"
    assert t.gross_pnl == D(50)
    assert t.return_pct == pytest.approx(10.0)


def test_partial_closes_are_separate_trades_fifo() -> None:
    trades = round_trips(
        [
            fill(0, "buy", "100", "10", fee="1"),
            fill(1, "buy", "100", "12", fee="1"),
            fill(2, "sell", "150", "13", fee="3", reason="take profit"),
            fill(3, "sell", "50", "9", fee="1", reason="stop"),
        ]
    )
    first, second = trades
    # the first close consumes lot 1 (100 @ 10) and half of lot 2 (50 @ 12)
    assert first.qty == D(150)
    assert first.entry_ns == 0
    assert first.entry_price == (D(100) * 10 + D(50) * 12) / 150
    assert first.gross_pnl == D(150) * 13 - (D(1000) + D(600))
    assert first.fees == D(1) + D("0.5") + D(3)
    assert first.exit_reason == "take profit"
    # the second closes what is left of lot 2, entered at minute 1
    assert (second.qty, second.entry_ns, second.entry_price) == (D(50), MIN, D(12))
    assert second.gross_pnl == D(-150)
    assert second.fees == D("0.5") + D(1)
    assert second.net_pnl == D("-151.5")
    assert sum(t.fees for t in trades) == D(6)


def test_reversal_closes_one_trade_and_opens_the_other_side() -> None:
    trades = round_trips(
        [
            fill(0, "buy", "100", "10"),
            fill(1, "sell", "150", "12", fee="3", reason="reverse"),
            fill(2, "buy", "50", "11", reason="cover"),
        ]
    )
    long_t, short_t = trades
    assert (long_t.side, long_t.qty, long_t.gross_pnl) == ("long", D(100), D(200))
    assert long_t.fees == D(2)  # 100 of the 150 shares' fee
    assert (short_t.side, short_t.qty, short_t.entry_ns, short_t.entry_price) == (
        "short",
        D(50),
        MIN,
        D(12),
    )
    assert short_t.gross_pnl == D(50)
    assert short_t.fees == D(1)
    assert short_t.entry_reason == "reverse"
    assert short_t.exit_reason == "cover"


def test_open_position_at_the_end_is_flagged_and_marked() -> None:
    trades = round_trips(
        [fill(0, "buy", "10", "100", fee="1"), fill(1, "buy", "10", "110", fee="1")],
        marks={"AAPL": (9 * MIN, 120.0)},
    )
    [t] = trades
    assert t.is_open
    assert t.exit_reason == OPEN_AT_END
    assert t.qty == D(20)
    assert t.entry_price == D(105)
    assert t.gross_pnl == D(300)
    assert t.fees == D(2)
    assert t.exit_ns == 9 * MIN


def test_open_without_a_mark_has_no_pnl() -> None:
    [t] = round_trips([fill(0, "sell", "5", "20")])
    assert t.is_open and t.side == "short" and t.gross_pnl == 0


def test_books_are_per_strategy_and_symbol() -> None:
    trades = round_trips(
        [
            fill(0, "buy", "10", "10", strategy="a"),
            fill(1, "sell", "10", "10", strategy="b"),  # b goes short: does not close a's long
            fill(2, "buy", "10", "10", symbol="MSFT", strategy="a"),
            fill(3, "sell", "10", "11", strategy="a"),
        ]
    )
    closed = [t for t in trades if not t.is_open]
    assert [(t.strategy, t.symbol, t.side) for t in closed] == [("a", "AAPL", "long")]
    assert sorted((t.strategy, t.symbol, t.side) for t in trades if t.is_open) == [
        ("a", "MSFT", "long"),
        ("b", "AAPL", "short"),
    ]


def test_no_fills_no_trades() -> None:
    assert round_trips([]) == []


_fills = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 300),
        st.integers(50, 150),
        st.integers(0, 300),
        st.sampled_from(["s1", "s2"]),
    ),
    max_size=40,
)


@given(_fills, st.integers(50, 150))
def test_trades_account_for_every_share_dollar_and_fee(rows: list, mark: int) -> None:
    """Whatever the sequence (partials, reversals, two strategies), the trades' net P&L with
    what is open marked at `mark` equals the cash flows plus the marked position less all
    fees, and the trades carry exactly the fills' fees."""
    fills = [
        fill(i, side, str(q), str(p), fee=f"{fee / 100}", strategy=s) for i, (side, q, p, fee, s) in enumerate(rows)
    ]
    trades = round_trips(fills, marks={"AAPL": (10**6 * MIN, float(mark))})
    cash = sum(((-1 if f.side == "buy" else 1) * f.qty * f.price for f in fills), D(0))
    position = sum(((1 if f.side == "buy" else -1) * f.qty for f in fills), D(0))
    fees = sum((f.fee for f in fills), D(0))
    expected = cash + position * mark - fees
    assert abs(sum((t.net_pnl for t in trades), D(0)) - expected) < D("1e-12")
    assert abs(sum((t.fees for t in trades), D(0)) - fees) < D("1e-12")
    assert all(t.qty > 0 for t in trades)
    open_trades = [t for t in trades if t.is_open]
    assert len(open_trades) == len({(t.strategy, t.symbol) for t in open_trades})
