"""The settings of one backtest run: how orders fill and what they cost. Strategies, risk
limits and the execution engine's settings come from the config directory, as live."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pyrt.domain.errors import BadInput

FillAt = Literal["next_open", "close"]
Session = Literal["auto", "regular", "24h"]


class SettingsError(BadInput, ValueError):
    """A run setting is invalid; the message names it."""


@dataclass(frozen=True)
class BacktestSettings:
    """`fill_at`: market orders decided on a bar fill at the next bar's open (default, no
    look-ahead) or at that bar's close (how NautilusTrader fills on bars).
    `spread_bps`: full bid-ask spread around each bar price (buys pay half above, sells half
    below). `slippage_bps`: added against the order after the spread (the venue's slippage).
    `volume_share`: at most this share of a bar's volume fills (the rest waits: partial fills).
    `fees`: "alpaca" charges Alpaca's regulatory fees on sells (SEC section 31, FINRA TAF),
    plus the commissions given; "none" charges nothing. `session`: "regular" applies Alpaca's
    hours (market orders fill only in regular hours, day orders expire at the close); "24h"
    trades whenever there are bars; "auto" is regular unless the data has bars outside
    regular hours (a 24-hour market). `close_at_end`: positions left at the end of the data
    are closed at the last close."""

    fill_at: FillAt = "next_open"
    cash: Decimal = Decimal(100_000)
    fees: Literal["none", "alpaca"] = "alpaca"
    fee_per_share: Decimal = Decimal(0)
    fee_per_order: Decimal = Decimal(0)
    spread_bps: float = 0.0
    slippage_bps: Decimal = Decimal(0)
    volume_share: float | None = None
    session: Session = "auto"
    allow_shorting: bool = True
    not_shortable: frozenset[str] = field(default_factory=frozenset)
    close_at_end: bool = True
    seed: int = 42

    def __post_init__(self) -> None:
        if self.fill_at not in ("next_open", "close"):
            raise SettingsError(f"fill_at: expected next_open or close, got {self.fill_at!r}")
        if self.fees not in ("none", "alpaca"):
            raise SettingsError(f"fees: expected none or alpaca, got {self.fees!r}")
        if self.session not in ("auto", "regular", "24h"):
            raise SettingsError(f"session: expected auto, regular or 24h, got {self.session!r}")
        if not self.cash > 0:
            raise SettingsError(f"cash: must be > 0, got {self.cash}")
        for name in ("fee_per_share", "fee_per_order", "slippage_bps"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name}: must be >= 0")
        if not 0 <= self.spread_bps < 10_000:
            raise SettingsError(f"spread_bps: must be in [0, 10000), got {self.spread_bps}")
        if self.volume_share is not None and not 0 < self.volume_share <= 1:
            raise SettingsError(f"volume_share: must be in (0, 1], got {self.volume_share}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, stable (for the report's config section)."""
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, Decimal):
                out[k] = str(v)
            elif isinstance(v, frozenset):
                out[k] = sorted(v)
        return out
