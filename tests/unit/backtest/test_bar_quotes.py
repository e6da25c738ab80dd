"""The rule that turns bars into quotes: the path inside a bar and the spread."""

from __future__ import annotations

from pyrt.backtest.bar_quotes import spread_sides, touched_levels, walk


def test_an_up_bar_walks_open_low_high_close() -> None:
    assert walk(10, 12, 9, 11) == ((10, 9), (9, 12), (12, 11))


def test_a_down_bar_walks_open_high_low_close() -> None:
    assert walk(10, 12, 9, 9.5) == ((10, 12), (12, 9), (9, 9.5))


def test_levels_come_in_the_order_the_path_reaches_them() -> None:
    # up bar: down to the low first (9.5 then 9.2), then up to the high (11, 11.5)
    assert touched_levels(10, 12, 9, 11, [11.5, 9.2, 11, 9.5]) == [9.5, 9.2, 11, 11.5]
    # down bar: up first
    assert touched_levels(10, 12, 9, 9.5, [9.2, 11]) == [11, 9.2]


def test_levels_outside_the_range_are_never_reached_and_each_comes_once() -> None:
    assert touched_levels(10, 12, 9, 11, [8.0, 13.0]) == []
    assert touched_levels(10, 12, 9, 11, [10.0, 10.0]) == [10.0]


def test_spread_is_split_around_the_price_to_the_cent() -> None:
    assert spread_sides(100.0, 0.0) == (100.0, 100.0)
    assert spread_sides(100.0, 20.0) == (99.9, 100.1)
    bid, ask = spread_sides(0.01, 500.0)
    assert 0.01 <= bid <= ask
