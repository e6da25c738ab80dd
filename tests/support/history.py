"""The shared historical daily bars (../shared/data/historical, read in place, never copied
into the repo): one long series per symbol, the two downloads joined without duplicate dates."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

HISTORICAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "historical"


def historical_files(symbol: str) -> list[Path]:
    """The CSV files of `symbol` (oldest first); skips the test when the data is absent."""
    files = [HISTORICAL / f"{symbol}.csv", HISTORICAL / "namhoangdev31_2025-04_2026-04" / f"{symbol}.csv"]
    files = [f for f in files if f.is_file()]
    if not files:
        pytest.skip(f"shared historical bars not found under {HISTORICAL}")
    return files


def daily_series(symbol: str) -> tuple[list[float], list[float], list[float]]:
    """(highs, lows, closes) of every daily bar of `symbol`, by date, duplicates dropped."""
    rows: dict[str, tuple[float, float, float]] = {}
    for path in historical_files(symbol):
        with path.open(newline="") as f:
            for r in csv.DictReader(f):
                rows.setdefault(r["timestamp"][:10], (float(r["high"]), float(r["low"]), float(r["close"])))
    ordered = [rows[d] for d in sorted(rows)]
    return [r[0] for r in ordered], [r[1] for r in ordered], [r[2] for r in ordered]
