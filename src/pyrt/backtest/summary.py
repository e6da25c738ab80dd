"""The report's figures for one run: the summary, the costs, per-symbol and per-strategy
tables, buy-and-hold comparison, order counts. Pure: a `RunResult` and its trades in, plain
dicts out (floats not yet rounded; `report.py` rounds and writes). Every field is described
in docs/backtest-report.md."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pyrt.backtest import metrics as m
from pyrt.backtest.results import FillRow, RunResult
from pyrt.backtest.stamps import iso_or_none, iso_z
from pyrt.backtest.trades import Trade

NS_PER_S = 1_000_000_000
_ZERO = Decimal(0)


def build_summary(run: RunResult, trades: list[Trade]) -> dict[str, Any]:
    initial = float(run.initial_cash)
    days, closes = m.daily_closes(run.equity_ts, run.equity)
    returns = m.returns_from_closes(initial, closes)
    rf = m.return_figures(days, returns)
    dd = m.max_drawdown(run.equity_ts, run.equity, initial)
    closed = [t for t in trades if not t.is_open]
    ts = m.trade_stats([float(t.net_pnl) for t in closed])
    costs = cost_lines(run.fills)
    traded = float(sum((f.qty * f.price for f in run.fills), _ZERO))
    mean_equity = sum(run.equity) / len(run.equity) if len(run.equity) else initial
    best = max(closed, key=lambda t: (t.net_pnl, -t.exit_ns), default=None)
    worst = min(closed, key=lambda t: (t.net_pnl, t.exit_ns), default=None)
    final_equity = float(run.final_equity)
    summary: dict[str, Any] = {
        "initial_cash": initial,
        "final_equity": final_equity,
        "final_cash": float(run.final_cash),
        "net_profit": final_equity - initial,
        "total_return": final_equity / initial - 1.0 if initial else 0.0,
        "annual_return": rf.annual_return,
        "annual_volatility": rf.annual_volatility,
        "sharpe": rf.sharpe,
        "sortino": rf.sortino,
        "calmar": rf.calmar,
        "max_drawdown": dd.depth,
        "max_drawdown_daily": rf.max_drawdown_daily,
        "max_drawdown_peak": iso_or_none(dd.peak_ns),
        "max_drawdown_trough": iso_or_none(dd.trough_ns),
        "max_drawdown_recovery": iso_or_none(dd.recovery_ns),
        "max_drawdown_duration_s": dd.duration_ns // NS_PER_S,
        "trading_days": rf.days,
        "best_day": _day(rf.best_day),
        "worst_day": _day(rf.worst_day),
        "trades": ts.trades,
        "open_trades": len(trades) - len(closed),
        "wins": ts.wins,
        "losses": ts.losses,
        "win_rate": ts.win_rate,
        "profit_factor": ts.profit_factor,
        "expectancy": ts.expectancy,
        "avg_win": ts.avg_win,
        "avg_loss": ts.avg_loss,
        "avg_trade_duration_s": (sum(t.duration_ns for t in closed) // len(closed) // NS_PER_S if closed else None),
        "best_trade": _trade_ref(best),
        "worst_trade": _trade_ref(worst),
        "exposure": m.exposure(run.gross_exposure),
        "traded_value": traded,
        "turnover": traded / mean_equity if mean_equity > 0 else None,
        "fills": len(run.fills),
        "orders": len(run.orders),
        "denials": sum(1 for o in run.orders if o.status == "denied"),
        "bars": run.bars_processed,
    }
    return {
        "summary": summary,
        "costs": costs,
        "per_symbol": per_group(run.fills, trades, lambda x: x.symbol),
        "per_strategy": per_group(run.fills, trades, lambda x: x.strategy),
        "buy_and_hold": buy_and_hold(run, summary["total_return"]),
        "orders_by_status": dict(sorted(Counter(o.status for o in run.orders).items())),
        "denials_by_reason": dict(sorted(Counter(o.reason_code for o in run.orders if o.status == "denied").items())),
    }


def cost_lines(fills: Iterable[FillRow]) -> dict[str, float]:
    """Spread, slippage and fees kept apart; `total` is their sum."""
    fee = spread = slip = _ZERO
    for f in fills:
        fee += f.fee
        spread += f.spread_cost
        slip += f.slippage_cost
    return {
        "spread": float(spread),
        "slippage": float(slip),
        "fees": float(fee),
        "total": float(fee + spread + slip),
    }


def per_group(fills: list[FillRow], trades: list[Trade], key: Any) -> dict[str, dict[str, Any]]:
    """One row per symbol (or strategy): fills, traded value, costs, trades and their P&L."""
    out: dict[str, dict[str, Any]] = {}
    by_fill: dict[str, list[FillRow]] = {}
    for f in fills:
        by_fill.setdefault(key(f), []).append(f)
    by_trade: dict[str, list[Trade]] = {}
    for t in trades:
        by_trade.setdefault(key(t), []).append(t)
    for name in sorted(set(by_fill) | set(by_trade)):
        fs = by_fill.get(name, [])
        ts = by_trade.get(name, [])
        closed = [t for t in ts if not t.is_open]
        stats = m.trade_stats([float(t.net_pnl) for t in closed])
        out[name] = {
            "fills": len(fs),
            "traded_value": float(sum((f.qty * f.price for f in fs), _ZERO)),
            "costs": cost_lines(fs),
            "trades": stats.trades,
            "open_trades": len(ts) - len(closed),
            "win_rate": stats.win_rate,
            "profit_factor": stats.profit_factor,
            "expectancy": stats.expectancy,
            "gross_pnl": float(sum((t.gross_pnl for t in closed), _ZERO)),
            "net_pnl": float(sum((t.net_pnl for t in closed), _ZERO)),
            "open_pnl": float(sum((t.net_pnl for t in ts if t.is_open), _ZERO)),
        }
    return out


def buy_and_hold(run: RunResult, strategy_return: float) -> dict[str, Any]:
    """Each symbol bought at its first open and held to its last close, and an equal-weight
    basket of them (the same cash in each, not rebalanced: the mean of their returns)."""
    symbols: dict[str, Any] = {}
    for sym, p in sorted(run.prices.items()):
        ret = p.last_close / p.first_open - 1.0 if p.first_open > 0 else None
        symbols[sym] = {
            "first_open": p.first_open,
            "last_close": p.last_close,
            "bars": p.bars,
            "return": ret,
            "strategy_excess": strategy_return - ret if ret is not None else None,
        }
    rets = [s["return"] for s in symbols.values() if s["return"] is not None]
    basket = sum(rets) / len(rets) if rets else None
    return {
        "symbols": symbols,
        "equal_weight": {
            "return": basket,
            "strategy_excess": strategy_return - basket if basket is not None else None,
        },
    }


def _day(d: tuple[str, float] | None) -> dict[str, Any] | None:
    return None if d is None else {"date": d[0], "return": d[1]}


def _trade_ref(t: Trade | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "strategy": t.strategy,
        "symbol": t.symbol,
        "side": t.side,
        "entry": iso_z(t.entry_ns),
        "exit": iso_z(t.exit_ns),
        "net_pnl": float(t.net_pnl),
        "return_pct": t.return_pct,
    }
