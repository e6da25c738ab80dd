"""Walk-forward windows, their syntax, day boundaries of bars and parameter stability; the
resume file's torn last line."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pyrt.backtest.settings import SettingsError
from pyrt.research.store import RUNS_FILE, RunStore
from pyrt.research.walk_forward import WalkSpec, Window, day_starts, parse_walk_forward, plan_windows, stability

HOUR = 3_600_000_000_000
CLOSE_2024_01_02 = 1_704_229_200_000_000_000  # 21:00 UTC = 16:00 New York


def test_parse_walk_forward() -> None:
    assert parse_walk_forward("train=60d,test=20d,step=20d") == WalkSpec(60, 20, 20)
    assert parse_walk_forward("train=60d, test=20d") == WalkSpec(60, 20, 20)  # step defaults to test
    assert parse_walk_forward("train=100d,test=10d,step=30d") == WalkSpec(100, 10, 30)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("train=60,test=20d", "expected train=Nd"),
        ("test=20d", "train=Nd is missing"),
        ("train=60d,test=20d,step=10d", "would overlap"),
        ("train=60d,train=50d,test=5d", "given twice"),
        ("train=0d,test=5d", "at least 1d"),
    ],
)
def test_parse_errors(text: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        parse_walk_forward(text)


def test_windows_roll_forward_and_stay_inside_the_data() -> None:
    w = plan_windows(250, WalkSpec(60, 20, 20))
    assert w[0] == Window(0, (0, 60), (60, 80))
    assert w[1] == Window(1, (20, 80), (80, 100))
    assert w[-1].test[1] <= 250 and w[-1].test[1] + 20 > 250
    assert len(w) == 9
    tests = [x.test for x in w]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(tests))  # stitched without gaps
    gapped = plan_windows(100, WalkSpec(50, 10, 25))
    assert [x.test for x in gapped] == [(50, 60), (75, 85)]
    with pytest.raises(SettingsError, match="fewer than train"):
        plan_windows(70, WalkSpec(60, 20, 20))


def test_day_starts_split_intraday_bars_by_new_york_day() -> None:
    day1 = [CLOSE_2024_01_02 - 6 * HOUR + i * HOUR for i in range(7)]  # 10:00..16:00 New York
    day2 = [t + 24 * HOUR for t in day1[:3]]
    days, starts = day_starts(np.array(day1 + day2, dtype=np.int64))
    assert days == ["2024-01-02", "2024-01-03"]
    assert starts == [0, 7, 10]


def test_parameter_stability() -> None:
    s = stability([{"fast": 5, "slow": 20}, {"fast": 5, "slow": 30}, {"fast": 10, "slow": 20}, {"fast": 5, "slow": 20}])
    assert s["modal_set"] == "fast=5,slow=20" and s["modal_set_share"] == 0.5
    fast = s["parameters"]["fast"]
    assert fast["distinct"] == 2 and fast["mode"] == "5" and fast["mode_share"] == 0.75
    assert fast["cv"] == pytest.approx(np.std([5, 5, 10, 5]) / 6.25)


def test_store_keeps_whole_rows_and_drops_a_torn_last_line(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.add({"key": "a", "x": 1})
    store.add({"key": "b", "x": 2})
    with (tmp_path / RUNS_FILE).open("a") as f:
        f.write('{"key": "c", "x"')  # killed mid-write
    again = RunStore(tmp_path)
    assert "a" in again and "b" in again and "c" not in again
    again.add({"key": "c", "x": 3})
    lines = (tmp_path / RUNS_FILE).read_text().splitlines()
    assert [json.loads(x)["key"] for x in lines] == ["a", "b", "c"]


def test_a_window_task_names_its_warm_up_and_the_key_says_so() -> None:
    from types import SimpleNamespace

    from pyrt.research.sweep import make_task

    job: Any = SimpleNamespace(key="job")
    cold = make_task(job, {"fast": 3}, (100, 200))
    warm = make_task(job, {"fast": 3}, (100, 200), warm_from=40)
    assert (cold.warm_from, warm.warm_from) == (None, 40)
    assert cold.key != warm.key  # a warmed run is another run (a resume never mixes them)
    assert make_task(job, {"fast": 3}, (100, 200), warm_from=100).key == cold.key  # nothing before: cold
    with pytest.raises(ValueError, match="not before the window"):
        make_task(job, {"fast": 3}, (100, 200), warm_from=150)
