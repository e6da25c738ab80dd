"""Enumerations, spelled as Alpaca spells them on the wire."""

from __future__ import annotations

from enum import Enum


class OrderSide(str, Enum):
    BUY = "buy"
    SELL = "sell"


class OrderType(str, Enum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(str, Enum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(str, Enum):
    """Every order status Alpaca documents."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"
    STOPPED = "stopped"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    CALCULATED = "calculated"


class TradeEvent(str, Enum):
    """Events of Alpaca's trade_updates stream."""

    NEW = "new"
    FILL = "fill"
    PARTIAL_FILL = "partial_fill"
    CANCELED = "canceled"
    EXPIRED = "expired"
    DONE_FOR_DAY = "done_for_day"
    REPLACED = "replaced"
    REJECTED = "rejected"
    PENDING_NEW = "pending_new"
    STOPPED = "stopped"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    CALCULATED = "calculated"
    SUSPENDED = "suspended"
    ORDER_REPLACE_REJECTED = "order_replace_rejected"
    ORDER_CANCEL_REJECTED = "order_cancel_rejected"
    ACCEPTED = "accepted"


class ReportEvent(str, Enum):
    """What an execution report says happened to an order. The trade_updates events keep
    Alpaca's spelling; the engine adds its own steps (journalled, sent, outcome unknown) and
    STATUS for a state learned from a REST lookup or reconciliation. Whether the order is
    finished is never read from the event: ask `pyrt.domain.orders.is_terminal_status` of
    the report's `status`."""

    PENDING_NEW = "pending_new"  # journalled, not yet sent
    SUBMITTED = "submitted"  # sent to the broker
    ACCEPTED = "accepted"  # the broker acknowledged the POST
    UNKNOWN = "unknown"  # sent, outcome being resolved by lookup
    NEW = "new"
    FILL = "fill"
    PARTIAL_FILL = "partial_fill"
    CANCELED = "canceled"
    EXPIRED = "expired"
    DONE_FOR_DAY = "done_for_day"
    REPLACED = "replaced"
    REJECTED = "rejected"
    STOPPED = "stopped"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    CALCULATED = "calculated"
    SUSPENDED = "suspended"
    ORDER_REPLACE_REJECTED = "order_replace_rejected"
    ORDER_CANCEL_REJECTED = "order_cancel_rejected"
    STATUS = "status"  # a state from a lookup, a reconciliation or a local decision
    SNAPSHOT = "snapshot"  # an open order listed in answer to a snapshot request


class TradingState(str, Enum):
    """What new orders may do. REDUCING and HALTED are also the two modes of an active
    circuit breaker."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"  # only orders that reduce exposure pass
    HALTED = "HALTED"  # no order passes


class BreakerTrigger(str, Enum):
    """Why the circuit breaker tripped. The values are the keys of the
    `[circuit_breaker.modes]` table of risk_limits.toml and the `trigger` label of the
    activation metric; `default_mode` is the mode a trigger trips into unless that table
    says otherwise."""

    DAILY_LOSS = "daily_loss"
    DRAWDOWN = "drawdown"
    CONSECUTIVE_LOSSES = "consecutive_losses"
    MAX_TRADES_PER_DAY = "max_trades_per_day"
    CONSECUTIVE_REJECTIONS = "consecutive_rejections"
    ERROR_RATE = "error_rate"
    MARKET_DATA_STALE = "market_data_stale"
    INTEGRITY = "integrity"  # overfill, broker-position mismatch
    MANUAL = "manual"

    @property
    def default_mode(self) -> TradingState:
        """Losses stop adding risk but let positions be closed (REDUCING); an unhealthy
        system, an integrity violation or an operator stops everything (HALTED)."""
        return TradingState.REDUCING if self in _LOSS_TRIGGERS else TradingState.HALTED


_LOSS_TRIGGERS = frozenset(
    {
        BreakerTrigger.DAILY_LOSS,
        BreakerTrigger.DRAWDOWN,
        BreakerTrigger.CONSECUTIVE_LOSSES,
        BreakerTrigger.MAX_TRADES_PER_DAY,
    }
)
