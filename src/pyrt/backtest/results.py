"""What a backtest run produces, before any report is made of it: the contract between the
engine (`engine.py`) and everything that reads a run (`trades.py`, `metrics.py`, `report.py`).

Money and quantities that came from the venue stay `Decimal` (what the account booked);
the equity curve is floats sampled at every bar close (marks are bar closes)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class FillRow:
    """One execution at the venue. `spread_cost` and `slippage_cost` are what the fill paid
    against the bar's price (the mid) because of the modelled spread and the slippage; `fee`
    is what the account was charged (commission and regulatory fees)."""

    ts_ns: int
    symbol: str
    side: str  # "buy" | "sell"
    qty: Decimal
    price: Decimal
    fee: Decimal
    spread_cost: Decimal
    slippage_cost: Decimal
    strategy: str
    intent_id: str
    client_order_id: str
    reason: str  # the intent's reason ("ema cross up", "end of data", ...)
    position_after: Decimal  # the strategy's position in the symbol after this fill


@dataclass(slots=True)
class OrderRow:
    """One intent a strategy produced, and what became of it. `status` is the order's final
    state ("filled", "canceled", "expired", "rejected", "partially_filled" when the data ended)
    or "denied" (risk or execution refused it: `reason_code` and `message` say why)."""

    intent_id: str
    strategy: str
    symbol: str
    side: str
    qty: Decimal
    order_type: str
    time_in_force: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    decided_ns: int
    reason: str
    status: str = "new"
    reason_code: str = ""
    message: str = ""
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DataSource:
    """One input file (or cached download) and what was taken from it."""

    path: str
    sha256: str
    rows: int
    symbols: tuple[str, ...]
    timeframe: str  # "1Min", "5Min", "1Hour", "1Day", ...
    skipped_rows: int = 0


@dataclass(frozen=True, slots=True)
class SymbolPrices:
    """First open and last close of a symbol in the run (buy-and-hold comparison)."""

    first_ts_ns: int
    first_open: float
    last_ts_ns: int
    last_close: float
    bars: int


@dataclass
class RunResult:
    """Everything a report needs. `equity_ts`/`equity`/`gross_exposure` are parallel arrays,
    one point per distinct bar-close time (after that time's fills and marks);
    `gross_exposure` is the sum of |position value| at the marks."""

    version: str
    config: dict[str, Any]  # the run's settings: strategies, risk limits, costs, fill rule...
    sources: list[DataSource]
    initial_cash: Decimal
    final_cash: Decimal
    final_equity: Decimal
    start_ns: int
    end_ns: int
    timeframe: str
    fills: list[FillRow] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)
    equity_ts: array[int] = field(default_factory=lambda: array("q"))
    equity: array[float] = field(default_factory=lambda: array("d"))
    gross_exposure: array[float] = field(default_factory=lambda: array("d"))
    prices: dict[str, SymbolPrices] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    bars_processed: int = 0
    # bar closes per symbol for the report's price chart: (bar-close ns, close), in time order.
    # Full resolution or already thinned: the HTML report draws at most ~2000 min/max points.
    price_series: dict[str, tuple[array[int], array[float]]] = field(default_factory=dict)
