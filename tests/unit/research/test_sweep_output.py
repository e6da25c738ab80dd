"""Ranking, the Parquet table and the heatmap of a sweep's rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pyrt.backtest.settings import SettingsError
from pyrt.research.sweep import rank_rows
from pyrt.research.sweep_output import heatmap_html, ranked_table, write_parquet


def row(key: str, sharpe: float | None, dd: float = -0.1, status: str = "ok", **params: Any) -> dict[str, Any]:
    return {"key": key, "params": params, "status": status, "sharpe": sharpe, "max_drawdown": dd, "trades": 3}


ROWS = [
    row("a", 0.5, -0.2, fast=5, slow=20, size=1),
    row("b", 1.5, -0.3, fast=5, slow=30, size=1),
    row("c", None, 0.0, fast=10, slow=20, size=1),
    row("d", 0.9, -0.05, fast=10, slow=30, size=1),
    row("e", 2.5, -0.1, fast=5, slow=30, size=2),
    {"key": "f", "params": {"fast": 30, "slow": 20, "size": 1}, "status": "error", "error": "ValueError: x"},
]


def test_rank_best_first_undefined_last_errors_left_out() -> None:
    assert [r["key"] for r in rank_rows(ROWS, "sharpe")] == ["e", "b", "d", "a", "c"]
    assert [r["key"] for r in rank_rows(ROWS, "max_drawdown")] == ["c", "d", "e", "a", "b"]  # shallowest first
    with pytest.raises(SettingsError, match="rank: 'luck'"):
        rank_rows(ROWS, "luck")


def test_ranked_table_text() -> None:
    text = ranked_table(rank_rows(ROWS, "sharpe"), "sharpe", n=2)
    lines = text.splitlines()
    assert len(lines) == 3 and "fast=5,slow=30,size=2" in lines[1] and "2.5000" in lines[1]


def test_parquet_has_every_row_with_parameter_columns(tmp_path: Path) -> None:
    write_parquet(ROWS, tmp_path / "s.parquet")
    t = pq.read_table(tmp_path / "s.parquet")
    assert t.num_rows == 6
    assert {"p_fast", "p_slow", "p_size", "sharpe", "status", "error", "trades"} <= set(t.column_names)
    rows = t.to_pylist()
    assert rows[5]["status"] == "error" and rows[5]["sharpe"] is None and rows[5]["p_fast"] == 30


def test_heatmap_takes_the_best_over_the_other_parameters() -> None:
    page = heatmap_html(ROWS, "sharpe", "t")
    assert page.count("<td ") == 4  # fast x slow
    assert "2.5000" in page and "1.5000" not in page  # (5, 30): the better of size 1 and 2
    assert "fast=5,slow=30,size=2: sharpe 2.5000" in page
    assert "the best over size" in page and "<script" not in page
