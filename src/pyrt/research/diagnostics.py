"""Overfitting and realism diagnostics of a backtest (as LEAN's result analyses): pure
functions over daily returns, a `RunResult` and its trades. No I/O, no clock; the bootstrap
is seeded, so the same run gives the same figures.

- `monte_carlo`: a circular block bootstrap of the daily returns. The no-edge distribution
  resamples the returns with their mean removed; the run's Sharpe is placed in it as a
  percentile. "possibly lucky": the run made money but a strategy with no edge and the same
  day-to-day noise does as well in more than 10 % of resamples (the run is not in the top
  10 %). A second bootstrap of the returns as they are gives the Sharpe's 5-95 % band.
- `t_test`: one-sample Student t-test that the mean daily excess return (over a risk-free
  rate of 0) is > 0, one-sided p-value.
- `probabilistic_sharpe` / `deflated_sharpe` (Bailey and Lopez de Prado 2012, 2014): the
  probability that the true Sharpe exceeds a benchmark given the sample's length, skew and
  kurtosis; deflated: the benchmark is the Sharpe the best of `n_trials` no-edge trials
  would reach by chance (from the trials' Sharpe variance). Its p-value is 1 - DSR.
- `too_few_trades`: fewer closed trades than max(30, 10 per tuned parameter).
- `stale_fills`: fills after their symbol's last bar, or more than 5 days after the
  decision (a price carried over a gap in the data).
- `flat_equity`: the equity did not move on 90 % or more of the days.
Sharpe figures here are per day unless named `_annual` (x sqrt(252))."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from pyrt.backtest import metrics as m
from pyrt.backtest.results import RunResult
from pyrt.backtest.trades import Trade

Floats = npt.NDArray[np.float64]
EULER_GAMMA = 0.5772156649015329
LUCKY_PERCENTILE = 90.0
SIGNIFICANCE = 0.05
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 20240101
MIN_TRADES = 30
TRADES_PER_PARAMETER = 10
STALE_GAP_NS = 5 * 86_400 * 1_000_000_000
FLAT_SHARE = 0.9
_N = NormalDist()


def daily_returns(run: RunResult) -> Floats:
    """The run's daily returns (New York trading days, the first from the initial cash)."""
    _, closes = m.daily_closes(run.equity_ts, run.equity)
    return m.returns_from_closes(float(run.initial_cash), closes)


def sharpe(returns: Floats) -> float | None:
    """Per-day Sharpe (mean / sample std), None when undefined."""
    if returns.size < 2:
        return None
    sd = float(np.std(returns, ddof=1))
    if sd == 0 or not math.isfinite(sd):
        return None
    return float(np.mean(returns)) / sd


# ------------------------------------------------------------------ t-test


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta (Lentz's method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for k in range(1, 300):
        m2 = 2 * k
        aa = k * (b - k) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + k) * (qab + k) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def student_t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


@dataclass(frozen=True, slots=True)
class TTest:
    n: int
    mean: float | None
    t: float | None
    p_value: float | None  # one-sided: mean > 0


def t_test(returns: Floats) -> TTest:
    n = int(returns.size)
    if n < 2:
        return TTest(n, float(np.mean(returns)) if n else None, None, None)
    mean = float(np.mean(returns))
    sd = float(np.std(returns, ddof=1))
    if sd == 0:
        return TTest(n, mean, None, None if mean == 0 else (0.0 if mean > 0 else 1.0))
    t = mean / (sd / math.sqrt(n))
    return TTest(n, mean, t, student_t_sf(t, n - 1))


# ------------------------------------------------------------------ Sharpe significance


def _moments(returns: Floats) -> tuple[float, float]:
    """Skewness and (non-excess) kurtosis, population estimates."""
    c = returns - returns.mean()
    var = float(np.mean(c * c))
    if var == 0:
        return 0.0, 3.0
    return float(np.mean(c**3)) / var**1.5, float(np.mean(c**4)) / var**2


def probabilistic_sharpe(returns: Floats, benchmark: float = 0.0) -> float | None:
    """P(true per-day Sharpe > `benchmark`) given the sample (PSR)."""
    sr = sharpe(returns)
    if sr is None or returns.size < 3:
        return None
    skew, kurt = _moments(returns)
    denom = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if denom <= 0:
        return None
    return _N.cdf((sr - benchmark) * math.sqrt(returns.size - 1) / math.sqrt(denom))


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """The Sharpe the best of `n_trials` no-edge trials reaches by chance (per day)."""
    if n_trials <= 1 or sharpe_variance <= 0:
        return 0.0
    z1 = _N.inv_cdf(1.0 - 1.0 / n_trials)
    z2 = _N.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


@dataclass(frozen=True, slots=True)
class SharpeTest:
    n_trials: int
    sharpe_annual: float | None
    benchmark_annual: float  # the Sharpe to beat: what the best of n no-edge trials reaches
    dsr: float | None  # probability that the true Sharpe beats the benchmark
    p_value: float | None  # 1 - dsr
    significant: bool


def deflated_sharpe(returns: Floats, n_trials: int = 1, trial_sharpes: Sequence[float] | None = None) -> SharpeTest:
    """DSR of `returns`, the best of `n_trials` (per-day `trial_sharpes` give their variance;
    without them the variance of a no-edge Sharpe estimate over this many days, 1/(T-1))."""
    sr = sharpe(returns)
    vals = [s for s in (trial_sharpes or ()) if s is not None and math.isfinite(s)]
    if len(vals) >= 2:
        var = float(np.var(vals, ddof=1))
    else:
        var = 1.0 / max(returns.size - 1, 1)
    bench = expected_max_sharpe(n_trials, var)
    dsr = probabilistic_sharpe(returns, bench)
    p = None if dsr is None else 1.0 - dsr
    return SharpeTest(
        n_trials=n_trials,
        sharpe_annual=None if sr is None else sr * math.sqrt(m.TRADING_DAYS),
        benchmark_annual=bench * math.sqrt(m.TRADING_DAYS),
        dsr=dsr,
        p_value=p,
        significant=p is not None and p < SIGNIFICANCE,
    )


# ------------------------------------------------------------------ bootstrap


def block_length(n: int) -> int:
    return max(1, round(n ** (1.0 / 3.0)))


def block_bootstrap(returns: Floats, samples: int, seed: int, block: int | None = None) -> Floats:
    """`samples` circular block-bootstrap resamples of `returns` (rows), same length."""
    n = int(returns.size)
    b = block or block_length(n)
    blocks = -(-n // b)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n, size=(samples, blocks))
    idx = (starts[:, :, None] + np.arange(b)[None, None, :]).reshape(samples, -1)[:, :n] % n
    return np.asarray(returns[idx], dtype=np.float64)


def _row_sharpes(x: Floats) -> Floats:
    sd = x.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(sd > 0, x.mean(axis=1) / sd, 0.0)
    return np.asarray(s, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class MonteCarlo:
    samples: int
    block: int
    percentile: float | None  # where the run's Sharpe falls among no-edge resamples (0-100)
    p_value: float | None  # share of no-edge resamples with a Sharpe >= the run's
    sharpe_p05_annual: float | None
    sharpe_p95_annual: float | None
    possibly_lucky: bool


def monte_carlo(returns: Floats, samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED) -> MonteCarlo:
    sr = sharpe(returns)
    b = block_length(int(returns.size))
    if sr is None or returns.size < 5:
        return MonteCarlo(samples, b, None, None, None, None, False)
    null = _row_sharpes(block_bootstrap(returns - returns.mean(), samples, seed, b))
    pct = float(np.mean(null < sr) * 100.0)
    p = float(np.mean(null >= sr))
    band = np.percentile(_row_sharpes(block_bootstrap(returns, samples, seed + 1, b)), [5.0, 95.0])
    ann = math.sqrt(m.TRADING_DAYS)
    made_money = float(np.prod(1.0 + returns)) > 1.0
    return MonteCarlo(
        samples=samples,
        block=b,
        percentile=pct,
        p_value=p,
        sharpe_p05_annual=float(band[0]) * ann,
        sharpe_p95_annual=float(band[1]) * ann,
        possibly_lucky=made_money and pct < LUCKY_PERCENTILE,
    )


# ------------------------------------------------------------------ realism checks


def too_few_trades(closed_trades: int, n_params: int) -> tuple[bool, int]:
    """(too few?, the number wanted): max(30, 10 per tuned parameter)."""
    wanted = max(MIN_TRADES, TRADES_PER_PARAMETER * n_params)
    return closed_trades < wanted, wanted


def stale_fills(run: RunResult) -> list[str]:
    """Fills that took a price from no fresh bar: after the symbol's last bar (plus one bar),
    or more than 5 days after the decision."""
    decided = {o.intent_id: o.decided_ns for o in run.orders}
    step = _timeframe_ns(run)
    out: list[str] = []
    for f in run.fills:
        last = run.prices.get(f.symbol)
        if last is not None and f.ts_ns > last.last_ts_ns + step:
            out.append(f"{f.symbol} {f.side} {f.qty} after the symbol's last bar ({f.intent_id})")
        elif f.intent_id in decided and f.ts_ns - decided[f.intent_id] > STALE_GAP_NS:
            days = (f.ts_ns - decided[f.intent_id]) / 86_400e9
            out.append(f"{f.symbol} {f.side} {f.qty} filled {days:.1f} days after the decision ({f.intent_id})")
    return out


def _timeframe_ns(run: RunResult) -> int:
    src = {s.timeframe for s in run.sources}
    units = {"Min": 60, "Hour": 3600, "Day": 86400, "Week": 7 * 86400}
    for tf in src:
        for unit, secs in units.items():
            if tf.endswith(unit) and tf[: -len(unit)].isdigit():
                return int(tf[: -len(unit)]) * secs * 1_000_000_000
    return 86_400 * 1_000_000_000


def flat_share(returns: Floats) -> float:
    """Share of days on which the equity did not move."""
    if returns.size == 0:
        return 1.0
    return float(np.mean(np.abs(returns) < 1e-12))


# ------------------------------------------------------------------ all of it


def tuned_parameters(config: dict[str, Any]) -> int:
    """The number of parameters the run's strategies take (each one could have been tuned)."""
    return sum(len(s.get("params") or {}) for s in config.get("strategies", []) if isinstance(s, dict))


def diagnose(
    returns: Floats,
    *,
    closed_trades: int,
    n_params: int,
    n_trials: int = 1,
    trial_sharpes: Sequence[float] | None = None,
    stale: Sequence[str] = (),
) -> dict[str, Any]:
    """Every diagnostic as a plain dict, with its `warnings` in words."""
    mc = monte_carlo(returns)
    tt = t_test(returns)
    ds = deflated_sharpe(returns, n_trials, trial_sharpes)
    few, wanted = too_few_trades(closed_trades, n_params)
    flat = flat_share(returns)
    warnings: list[str] = []
    if mc.possibly_lucky:
        warnings.append(
            f"possibly lucky: a strategy with no edge and the same daily noise does as well in "
            f"{100 - (mc.percentile or 0):.0f}% of {mc.samples} bootstrap resamples"
        )
    if tt.p_value is not None and tt.p_value >= SIGNIFICANCE and (tt.mean or 0) > 0:
        warnings.append(f"daily excess returns are not significantly > 0 (t-test p = {tt.p_value:.3f})")
    if ds.p_value is not None and not ds.significant:
        what = f"the best of {n_trials} parameter sets" if n_trials > 1 else "the run"
        warnings.append(f"Sharpe not significant for {what} (deflated Sharpe p = {ds.p_value:.3f})")
    if few:
        warnings.append(
            f"too few trades: {closed_trades} closed, {wanted} wanted for {n_params} parameter(s) "
            "(results this thin are easily overfit)"
        )
    if stale:
        warnings.append(f"{len(stale)} stale fill(s): " + "; ".join(stale[:5]))
    if flat >= FLAT_SHARE:
        warnings.append(f"flat equity curve: no change on {flat:.0%} of the days")
    return {
        "monte_carlo": {
            "samples": mc.samples,
            "block_days": mc.block,
            "percentile": mc.percentile,
            "p_value": mc.p_value,
            "sharpe_p05": mc.sharpe_p05_annual,
            "sharpe_p95": mc.sharpe_p95_annual,
            "possibly_lucky": mc.possibly_lucky,
        },
        "t_test": {"days": tt.n, "mean_daily_return": tt.mean, "t": tt.t, "p_value": tt.p_value},
        "sharpe_significance": {
            "n_trials": ds.n_trials,
            "sharpe": ds.sharpe_annual,
            "sharpe_to_beat": ds.benchmark_annual,
            "deflated_sharpe": ds.dsr,
            "p_value": ds.p_value,
            "significant": ds.significant,
        },
        "trades": {"closed": closed_trades, "wanted": wanted, "parameters": n_params, "too_few": few},
        "stale_fills": list(stale),
        "flat_days_share": flat,
        "flat_equity": flat >= FLAT_SHARE,
        "warnings": warnings,
    }


def diagnose_run(
    run: RunResult, trades: Sequence[Trade], n_trials: int = 1, trial_sharpes: Sequence[float] | None = None
) -> dict[str, Any]:
    """The diagnostics of one backtest (the report's `diagnostics` section)."""
    return diagnose(
        daily_returns(run),
        closed_trades=sum(1 for t in trades if not t.is_open),
        n_params=tuned_parameters(run.config),
        n_trials=n_trials,
        trial_sharpes=trial_sharpes,
        stale=stale_fills(run),
    )
