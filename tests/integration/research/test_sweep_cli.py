"""`pyrt backtest walk-forward` and the sweep's refusals, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.backtest import ROOT, SHARED

DAILY = SHARED / "data" / "historical"


def pyrt(*args: str) -> subprocess.CompletedProcess[str]:
    base = ["--config-dir", str(ROOT / "examples" / "reference"), "--data", str(DAILY), "--strategy", "ref_long"]
    return subprocess.run(
        [sys.executable, "-m", "pyrt", "backtest", *args[:1], *base, *args[1:]],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _data() -> None:
    if not DAILY.is_dir():
        pytest.skip(f"{DAILY} not found")


def test_walk_forward_command(tmp_path: Path) -> None:
    out = tmp_path / "wf"
    done = pyrt(
        "walk-forward",
        "--grid",
        "fast=3|6,slow=10|20",
        "--windows",
        "train=60d,test=20d",
        "--workers",
        "2",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "walk-forward efficiency" in done.stdout and "out of sample: 180 days" in done.stdout
    body = json.loads((out / "walk_forward.json").read_text())
    assert len(body["windows"]) == 9 and body["sets"] == 4
    first = body["windows"][0]
    assert first["train"][0] < first["train"][1] < first["test"][0] <= first["test"][1]
    assert set(body["parameter_stability"]["parameters"]) == {"fast", "slow"}
    assert (out / "oos_equity.csv").read_text().startswith("day,equity,return\n")


def test_sweep_writes_a_self_contained_heatmap(tmp_path: Path) -> None:
    out = tmp_path / "s"
    done = pyrt("sweep", "--grid", "fast=3..6,slow=10|20", "--workers", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "deflated Sharpe p =" in done.stdout and "8 run(s) (0 resumed)" in done.stdout
    page = (out / "heatmap.html").read_text()
    assert "<table>" in page and "<script" not in page and "src=" not in page and "http" not in page
    assert page.count("<td ") == 8


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--grid", "fast=5..x"), "grid: 'fast=5..x': end 'x' is not a number"),
        (("--grid", "fats=5..6"), "unknown field `fats`"),
        (("--grid", "fast=30,slow=20"), "refuses every parameter set"),
        (("--grid", "fast=5", "--rank", "luck"), "rank: 'luck' is not one of"),
        (("--grid", "fast=5", "--walk-forward", "train=60"), "walk-forward: 'train=60'"),
        (("--grid", "fast=5", "--dask", "localhost:1"), "not a scheduler address"),
    ],
)
def test_bad_input_is_refused_with_what_is_wrong(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    done = pyrt("sweep", *args, "--out", str(tmp_path / "x"))
    assert done.returncode == 2, done.stdout
    assert says in done.stderr
