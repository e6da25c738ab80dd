"""Parameter spaces: the --grid syntax, its errors, the full grid and the seeded random search."""

from __future__ import annotations

import pytest

from pyrt.research.grid import GridError, grid_sets, grid_size, parse_grid, random_sets, set_label


def test_ranges_with_and_without_step() -> None:
    space = parse_grid("fast=5..20,slow=20..60:5")
    assert space["fast"] == list(range(5, 21))
    assert space["slow"] == [20, 25, 30, 35, 40, 45, 50, 55, 60]
    assert grid_size(space) == 16 * 9


def test_float_range_list_and_single_value() -> None:
    space = parse_grid("z=0.5..1.5:0.25, mode=fast|slow, trade_size=100")
    assert space == {"z": [0.5, 0.75, 1.0, 1.25, 1.5], "mode": ["fast", "slow"], "trade_size": [100]}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("fast", "expected NAME=VALUES"),
        ("fast=5..x", "end 'x' is not a number"),
        ("fast=20..5", "below start"),
        ("fast=1..5:0", "step must be > 0"),
        ("fast=1..5:-1", "step must be > 0"),
        ("fast=1,fast=2", "given twice"),
        ("1x=3", "not a parameter name"),
        ("fast=", "no values"),
        ("fast=1|1", "repeated"),
        ("fast=1,,slow=2", "stray comma"),
        ("a=1..2000,b=1..2000", "more than"),
    ],
)
def test_errors_name_the_term(text: str, says: str) -> None:
    with pytest.raises(GridError, match=says):
        parse_grid(text)


def test_grid_sets_cover_every_combination_first_parameter_slowest() -> None:
    sets = grid_sets(parse_grid("a=1..2,b=x|y"))
    assert sets == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert set_label(sets[1]) == "a=1,b=y"


def test_random_search_is_seeded_distinct_and_inside_the_grid() -> None:
    space = parse_grid("fast=5..20,slow=20..60:5")
    a = random_sets(space, 30, seed=7)
    assert a == random_sets(space, 30, seed=7)
    assert a != random_sets(space, 30, seed=8)
    labels = [set_label(s) for s in a]
    assert len(set(labels)) == 30
    every = {set_label(s) for s in grid_sets(space)}
    assert set(labels) <= every
    assert len(random_sets(space, 10_000, seed=1)) == grid_size(space)  # capped at the grid
    with pytest.raises(GridError, match=">= 1"):
        random_sets(space, 0, seed=1)
