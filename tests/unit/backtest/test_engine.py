"""The backtest engine: how and when orders fill, what they cost, Alpaca's rules, and that
risk denials and the end of the data are recorded (through the live cores)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pyrt.backtest.engine import Backtest
from pyrt.backtest.settings import BacktestSettings, SettingsError
from tests.support.backtest import MINUTE, OPEN_2024_01_02, Step, bars, minute_bars, permissive_limits, scripted

D = Decimal
FLAT = (100.0, 100.5, 99.5, 100.0, 10_000.0)


def run(data, *steps: Step, limits=None, **settings):
    strategy = scripted(*steps)
    opts = {"fees": "none", "cash": D(1_000_000), "close_at_end": False} | settings
    bt = Backtest([strategy], limits or permissive_limits(), data, BacktestSettings(**opts))
    return bt.run(), strategy


def test_a_market_order_fills_at_the_next_bars_open_by_default() -> None:
    data = minute_bars("AAPL", [(100, 101, 99, 100.5, 1e4), (101.25, 102, 101, 101.5, 1e4), FLAT])
    result, _ = run(data, Step(0, "buy", 10))
    [fill] = result.fills
    assert fill.price == D("101.25")
    assert fill.ts_ns == OPEN_2024_01_02 + MINUTE  # bar 1 opens when bar 0 closes


def test_fill_at_close_fills_at_the_signal_bars_close() -> None:
    data = minute_bars("AAPL", [(100, 101, 99, 100.5, 1e4), (101.25, 102, 101, 101.5, 1e4)])
    result, _ = run(data, Step(0, "buy", 10), fill_at="close")
    [fill] = result.fills
    assert fill.price == D("100.5")
    assert fill.ts_ns == OPEN_2024_01_02 + MINUTE


def test_a_limit_the_bar_trades_through_fills_at_its_price() -> None:
    data = minute_bars("AAPL", [FLAT, (100, 100.2, 98.5, 99.8, 1e4)])
    result, _ = run(data, Step(0, "buy", 10, type="limit", limit=99.0))
    [fill] = result.fills
    assert fill.price == D("99")


def test_a_limit_the_open_gaps_through_fills_at_the_open() -> None:
    data = minute_bars("AAPL", [FLAT, (97.0, 98, 96.5, 97.5, 1e4)])
    result, _ = run(data, Step(0, "buy", 10, type="limit", limit=99.0))
    [fill] = result.fills
    assert fill.price == D("97")


def test_a_limit_the_bar_never_reaches_rests_and_expires_at_the_close() -> None:
    # three bars, the last one ending at 16:00 New York: the day order expires there
    close_bar = OPEN_2024_01_02 + 389 * MINUTE
    data = bars([("AAPL", OPEN_2024_01_02, *FLAT), ("AAPL", close_bar - MINUTE, *FLAT), ("AAPL", close_bar, *FLAT)])
    result, strategy = run(data, Step(0, "buy", 10, type="limit", limit=97.0), session="regular")
    assert result.fills == []
    [row] = result.orders
    assert row.status == "expired"
    assert [outcome for _, outcome in strategy.closed] == ["expired"]


def test_a_stop_triggers_where_the_bar_reaches_it() -> None:
    data = minute_bars("AAPL", [FLAT, (100, 103, 99.8, 102.5, 1e4)])
    result, _ = run(data, Step(0, "buy", 10, type="stop", stop=101.0))
    [fill] = result.fills
    assert fill.price == D("101")


def test_volume_share_caps_each_bar_and_the_rest_fills_later() -> None:
    data = minute_bars("AAPL", [FLAT, (100, 101, 99, 100, 1000.0), (100.5, 101, 99, 100, 1000.0), FLAT])
    result, _ = run(data, Step(0, "buy", 150), volume_share=0.1)
    assert [f.qty for f in result.fills] == [D(100), D(50)]
    assert [f.price for f in result.fills] == [D(100), D("100.5")]
    assert result.orders[0].status == "filled"


def test_spread_slippage_and_fees_are_separate_costs() -> None:
    data = minute_bars("AAPL", [FLAT, (100, 101, 99, 100, 1e4), (100, 101, 99, 100, 1e4), FLAT])
    result, _ = run(data, Step(0, "buy", 100), Step(1, "sell", 100), spread_bps=20.0, slippage_bps=D(10), fees="alpaca")
    buy, sell = result.fills
    assert buy.price == D("100.20")  # ask 100.10, plus 10 bps of slippage
    assert buy.spread_cost == D("10.0000") and buy.slippage_cost == D("10.0000")
    assert buy.fee == 0
    assert sell.price == D("99.80")
    # 2024-01-02: SEC $8.00 per million of 9,980 = 0.08 (rounded up), TAF 100 x 0.000166 = 0.02
    assert sell.fee == D("0.10")


def test_market_orders_wait_for_regular_hours() -> None:
    # a decision on the day's last bar (closing 16:00) fills at the next session's open
    last = OPEN_2024_01_02 + 389 * MINUTE
    next_open = OPEN_2024_01_02 + 24 * 60 * MINUTE
    data = bars([("AAPL", last, *FLAT), ("AAPL", next_open, 104.0, 105, 103, 104.5, 1e4)])
    result, _ = run(data, Step(0, "buy", 10), session="regular")
    [fill] = result.fills
    assert fill.ts_ns == next_open and fill.price == D(104)


def test_a_symbol_that_cannot_be_shorted_is_refused_by_the_venue() -> None:
    data = minute_bars("AAPL", [FLAT, FLAT, FLAT])
    result, _ = run(data, Step(0, "sell", 10), not_shortable=frozenset({"AAPL"}))
    assert result.fills == []
    [row] = result.orders
    assert (row.status, row.reason_code) == ("rejected", "BROKER_REJECTED")
    assert "not shortable" in row.message


def test_a_risk_denial_is_recorded_with_its_reason() -> None:
    data = minute_bars("AAPL", [FLAT, FLAT])
    result, strategy = run(data, Step(0, "buy", 500), limits=permissive_limits(order_validation__max_order_size=100))
    [row] = result.orders
    assert (row.status, row.reason_code) == ("denied", "MAX_ORDER_SIZE")
    assert result.fills == []
    assert [outcome for _, outcome in strategy.closed] == ["denied"]


def test_positions_left_at_the_end_are_closed_at_the_last_close() -> None:
    data = minute_bars("AAPL", [FLAT, (100, 101, 99, 100.25, 1e4), (100.5, 101, 99, 100.75, 1e4)])
    result, _ = run(data, Step(0, "buy", 10), close_at_end=True)
    buy, close = result.fills
    assert (close.side, close.qty, close.price, close.reason) == ("sell", D(10), D("100.75"), "end of data")
    assert buy.price == D(100)  # bar 1's open
    assert result.final_equity == D(1_000_000) + D(10) * (D("100.75") - D(100))
    assert result.equity[-1] == pytest.approx(float(result.final_equity))


def test_strategies_see_each_bar_only_once_it_closed() -> None:
    data = minute_bars("AAPL", [FLAT] * 5)
    _, strategy = run(data)
    assert len(strategy.seen) == 5
    assert [b.ts_ns for b in strategy.seen] == [OPEN_2024_01_02 + i * MINUTE for i in range(5)]


def test_bad_settings_name_the_setting() -> None:
    with pytest.raises(SettingsError, match="volume_share"):
        BacktestSettings(volume_share=1.5)
    with pytest.raises(SettingsError, match="fill_at"):
        BacktestSettings(fill_at="later")  # type: ignore[arg-type]


def test_two_strategies_on_one_symbol_each_see_their_own_position() -> None:
    first = scripted(Step(0, "buy", 10), name="one")
    second = scripted(Step(1, "buy", 3), Step(2, "sell", 1), name="two")
    data = minute_bars("AAPL", [FLAT] * 5)
    bt = Backtest([first, second], permissive_limits(), data, BacktestSettings(fees="none", close_at_end=False))
    bt.run()
    assert bt.signals.position("one", "AAPL") == D(10)
    assert bt.signals.position("two", "AAPL") == D(2)


def test_warm_up_bars_ready_the_strategy_and_never_trade() -> None:
    """Bars before the run reach the strategy (its EMAs are ready on the run's first bar) and
    every intent they yield is dropped: no order, no fill, no ledger row before the run."""
    from pyrt.research.sweep import slice_bars
    from pyrt.services.signals.strategies.registry import build_strategies

    rising = [(100 + i, 100.5 + i, 99.5 + i, 100.2 + i, 1e4) for i in range(40)]
    data = minute_bars("AAPL", rising)
    spec = {
        "name": "ref",
        "kind": "ema_cross_long_only",
        "symbols": ["AAPL"],
        "params": {"fast": 3, "slow": 20, "trade_size": 10},
    }
    settings = BacktestSettings(fees="none", cash=D(1_000_000), close_at_end=False, fill_at="close")

    def backtest(warm: bool):  # the last 15 bars, warmed on the 25 before them or cold
        strategies = build_strategies([spec])
        warmup = slice_bars(data, 0, 25) if warm else None
        return Backtest(strategies, permissive_limits(), slice_bars(data, 25, 40), settings, warmup=warmup).run()

    assert backtest(warm=False).fills == []  # cold: 20 bars of warm-up do not fit in 15
    warm = backtest(warm=True)
    [fill] = warm.fills  # flat and fast >= slow on the first bar of the run: one buy
    assert fill.price == D("125.2") and fill.ts_ns == OPEN_2024_01_02 + 26 * MINUTE
    assert len(warm.orders) == 1


def test_warm_up_bars_must_come_before_the_run() -> None:
    from pyrt.research.sweep import slice_bars

    data = minute_bars("AAPL", [FLAT] * 4)
    with pytest.raises(ValueError, match="warm-up bars must end before"):
        Backtest([scripted()], permissive_limits(), slice_bars(data, 0, 2), BacktestSettings(), warmup=data)
