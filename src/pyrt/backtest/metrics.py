"""Performance figures from an equity curve and a list of trades. Pure numpy, no I/O.

Conventions (the same as empyrical's, which the tests compare with):
- Daily returns come from the equity at each New York trading day's last curve point (the
  day's close), the first one measured from the initial cash; intraday curves are resampled
  that way, daily curves are used as they are.
- Annualisation uses 252 trading days a year. Annualised return is the CAGR:
  (1 + total) ** (252 / days) - 1. Annual volatility is the sample standard deviation
  (ddof=1) of daily returns times sqrt(252).
- Risk-free rate 0. Sharpe = mean / std(ddof=1) * sqrt(252). Sortino = mean * 252 /
  (sqrt(mean(min(r, 0) ** 2)) * sqrt(252)), the downside deviation taken over all days.
- Calmar = annualised return / |max drawdown of the daily closes|.
- Max drawdown (a fraction, <= 0) is measured on the full curve (every bar close), the
  initial cash included as the first peak; its duration runs from the peak to the first
  point back at or above it, or to the end of the curve if it never recovers.
Undefined figures are None, never NaN or inf, so `report.json` stays valid JSON: a ratio
whose denominator is 0 (flat curve, no losing day, no drawdown), anything that needs two
returns with fewer, and any result that overflows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pyrt.domain.calendar import trading_day

TRADING_DAYS = 252
Floats = npt.NDArray[np.float64]


def finite(x: float | np.floating | None) -> float | None:
    """`x` as a float, or None when it is missing, NaN or infinite."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


# ------------------------------------------------------------------ daily resampling


def daily_closes(ts_ns: Sequence[int], equity: Sequence[float]) -> tuple[list[str], Floats]:
    """The New York trading days the curve covers and the equity at each day's last point."""
    days: list[str] = []
    closes: list[float] = []
    last_day = ""
    cached_bucket = -1
    for t, e in zip(ts_ns, equity, strict=True):
        # a day's calendar date only changes across a UTC hour boundary: cache per hour
        bucket = t // 3_600_000_000_000
        if bucket != cached_bucket:
            cached_bucket = bucket
            day = trading_day(t)
        if day == last_day:
            closes[-1] = e
        else:
            days.append(day)
            closes.append(e)
            last_day = day
    return days, np.asarray(closes, dtype=np.float64)


def returns_from_closes(initial: float, closes: Floats) -> Floats:
    """Simple returns of a series of closes, the first measured from `initial`."""
    if closes.size == 0:
        return np.zeros(0, dtype=np.float64)
    prev = np.concatenate(([initial], closes[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(prev != 0, closes / prev - 1.0, 0.0)
    return np.asarray(out, dtype=np.float64)


# ------------------------------------------------------------------ return-based figures


def total_return(returns: Floats) -> float:
    return float(np.prod(1.0 + returns) - 1.0) if returns.size else 0.0


def annual_return(returns: Floats) -> float | None:
    """CAGR over len(returns) trading days."""
    if returns.size == 0:
        return None
    ending = float(np.prod(1.0 + returns))
    if ending < 0:
        return None
    try:
        return finite(ending ** (TRADING_DAYS / returns.size) - 1.0)
    except OverflowError:
        return None


def annual_volatility(returns: Floats) -> float | None:
    if returns.size < 2:
        return None
    return finite(np.std(returns, ddof=1) * math.sqrt(TRADING_DAYS))


def sharpe_ratio(returns: Floats) -> float | None:
    if returns.size < 2:
        return None
    std = float(np.std(returns, ddof=1))
    if std == 0 or not math.isfinite(std):
        return None
    return finite(float(np.mean(returns)) / std * math.sqrt(TRADING_DAYS))


def downside_deviation(returns: Floats) -> float:
    """Annualised: sqrt(mean(min(r, 0)^2)) * sqrt(252), over all days."""
    if returns.size == 0:
        return 0.0
    down = np.minimum(returns, 0.0)
    return float(np.sqrt(np.mean(down * down)) * math.sqrt(TRADING_DAYS))


def sortino_ratio(returns: Floats) -> float | None:
    if returns.size < 2:
        return None
    dd = downside_deviation(returns)
    if dd == 0:
        return None
    return finite(float(np.mean(returns)) * TRADING_DAYS / dd)


def max_drawdown_of_returns(returns: Floats) -> float:
    """The deepest fall from a peak of the compounded returns (starting value included)."""
    if returns.size == 0:
        return 0.0
    curve = np.concatenate(([1.0], np.cumprod(1.0 + returns)))
    return float(np.min(drawdown_series(curve)))


def calmar_ratio(returns: Floats) -> float | None:
    mdd = max_drawdown_of_returns(returns)
    ann = annual_return(returns)
    if mdd >= 0 or ann is None:
        return None
    return finite(ann / abs(mdd))


# ------------------------------------------------------------------ curve-based figures


def drawdown_series(equity: Floats) -> Floats:
    """equity / running peak - 1 at every point (0 at a peak, negative below it)."""
    if equity.size == 0:
        return np.zeros(0, dtype=np.float64)
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, equity / peak - 1.0, 0.0)
    return np.asarray(dd, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Drawdown:
    depth: float  # <= 0; 0 when the curve never fell
    peak_ns: int | None
    trough_ns: int | None
    recovery_ns: int | None  # None: not recovered by the end
    duration_ns: int  # peak to recovery, or peak to the curve's end


def max_drawdown(ts_ns: Sequence[int], equity: Sequence[float], initial: float) -> Drawdown:
    """The deepest drawdown of the curve, the initial cash counted as a peak before its start
    (the peak time is then the first point's)."""
    if len(equity) == 0:
        return Drawdown(0.0, None, None, None, 0)
    ts = np.asarray(ts_ns, dtype=np.int64)
    eq = np.concatenate(([initial], np.asarray(equity, dtype=np.float64)))
    times = np.concatenate(([ts[0]], ts))
    dd = drawdown_series(eq)
    trough = int(np.argmin(dd))
    depth = float(dd[trough])
    if depth >= 0:
        return Drawdown(0.0, None, None, None, 0)
    peak_value = float(np.max(eq[: trough + 1]))
    peak = int(np.flatnonzero(eq[: trough + 1] == peak_value)[-1])
    after = np.flatnonzero(eq[trough:] >= peak_value)
    recovery = int(after[0]) + trough if after.size else None
    end_ns = int(times[recovery]) if recovery is not None else int(times[-1])
    return Drawdown(
        depth=depth,
        peak_ns=int(times[peak]),
        trough_ns=int(times[trough]),
        recovery_ns=int(times[recovery]) if recovery is not None else None,
        duration_ns=end_ns - int(times[peak]),
    )


def exposure(gross_exposure: Sequence[float]) -> float:
    """Share of curve points (bar closes) at which any position was held."""
    if len(gross_exposure) == 0:
        return 0.0
    g = np.asarray(gross_exposure, dtype=np.float64)
    return float(np.count_nonzero(g > 0) / g.size)


# ------------------------------------------------------------------ trade statistics


@dataclass(frozen=True, slots=True)
class TradeStats:
    trades: int
    wins: int
    losses: int
    win_rate: float | None  # wins / trades (net P&L > 0 is a win)
    profit_factor: float | None  # sum of winning net P&L / |sum of losing net P&L|
    expectancy: float | None  # mean net P&L per trade
    avg_win: float | None
    avg_loss: float | None  # <= 0
    gross_profit: float
    gross_loss: float  # <= 0


def trade_stats(net_pnls: Sequence[float]) -> TradeStats:
    """Statistics of closed trades' net P&L (open trades are not passed in)."""
    pnl = np.asarray(net_pnls, dtype=np.float64)
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    gross_profit = float(wins.sum())
    gross_loss = float(losses.sum())
    n = int(pnl.size)
    return TradeStats(
        trades=n,
        wins=int(wins.size),
        losses=int(losses.size),
        win_rate=wins.size / n if n else None,
        profit_factor=finite(gross_profit / -gross_loss) if gross_loss < 0 else None,
        expectancy=float(pnl.mean()) if n else None,
        avg_win=float(wins.mean()) if wins.size else None,
        avg_loss=float(losses.mean()) if losses.size else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
    )


@dataclass(frozen=True, slots=True)
class ReturnFigures:
    days: int
    total_return: float
    annual_return: float | None
    annual_volatility: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown_daily: float
    best_day: tuple[str, float] | None
    worst_day: tuple[str, float] | None


def return_figures(days: list[str], returns: Floats) -> ReturnFigures:
    best = worst = None
    if returns.size:
        hi, lo = int(np.argmax(returns)), int(np.argmin(returns))
        best, worst = (days[hi], float(returns[hi])), (days[lo], float(returns[lo]))
    return ReturnFigures(
        days=int(returns.size),
        total_return=total_return(returns),
        annual_return=annual_return(returns),
        annual_volatility=annual_volatility(returns),
        sharpe=sharpe_ratio(returns),
        sortino=sortino_ratio(returns),
        calmar=calmar_ratio(returns),
        max_drawdown_daily=max_drawdown_of_returns(returns),
        best_day=best,
        worst_day=worst,
    )
