"""What a venue's trade-event stream tells its owner, as types: an event, a malformed event
(dropped and counted by the owner), and the stream going up or down. There is no replay in
Alpaca's trade_updates, so every (re)connect must make the owner reconcile over the gap."""

from __future__ import annotations

from dataclasses import dataclass

from pyrt.venues.port import TradeUpdateReport


@dataclass(frozen=True, slots=True)
class TradeUpdateSeen:
    update: TradeUpdateReport


@dataclass(frozen=True, slots=True)
class MalformedTradeUpdate:
    detail: str


@dataclass(frozen=True, slots=True)
class StreamUp:
    pass


@dataclass(frozen=True, slots=True)
class StreamDown:
    reason: str


StreamEvent = TradeUpdateSeen | MalformedTradeUpdate | StreamUp | StreamDown
