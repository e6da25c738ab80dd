"""Seeded daily bars for research tests: a random walk (no edge), or with a drift or
momentum planted. Stamped at New York midnight on NYSE trading days, as Alpaca stamps daily
bars, in the CSV columns `pyrt backtest` reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from pyrt.domain.calendar import NyseSession

NEW_YORK = ZoneInfo("America/New_York")


def write_daily(
    path: Path, symbol: str, days: int, seed: int, *, drift: float = 0.0, vol: float = 0.015, phi: float = 0.0
) -> Path:
    """`days` bars whose daily returns are drift + phi * previous return + N(0, vol)."""
    cal = NyseSession()
    rng = np.random.default_rng(seed)
    day, price, prev, n = date(2020, 1, 2), 100.0, 0.0, 0
    lines = ["timestamp,symbol,open,high,low,close,volume"]
    while n < days:
        if cal.is_trading_day(day):
            r = drift + phi * prev + rng.normal(0.0, vol)
            prev, o, c = r, price, price * (1.0 + r)
            hi, lo = max(o, c) * 1.002, min(o, c) * 0.998
            stamp = datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).astimezone(UTC)
            lines.append(f"{stamp.isoformat(sep=' ')},{symbol},{o:.4f},{hi:.4f},{lo:.4f},{c:.4f},1000000")
            price, n = c, n + 1
        day += timedelta(days=1)
    path.write_text("\n".join(lines) + "\n")
    return path
