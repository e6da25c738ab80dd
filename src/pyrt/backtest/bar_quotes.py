"""The rule by which a bar-driven backtest turns bars into the quotes the matching core
fills against (the core matches quotes only; this is the one place bars become prices):

- at a bar's open: one quote around the open (half the spread each side);
- inside the bar, for orders resting at the venue: the price walks open -> low -> high ->
  close when the bar closes up (close >= open), else open -> high -> low -> close; every
  resting order's limit or stop price the walk crosses becomes a quote at exactly that
  price, in the order the walk reaches it. A limit or stop touched inside the bar so fills
  at its own price; one the open already gapped through filled at the open quote;
- at the close, for decisions filled at the close (`--fill-at close`): a quote around it;
- strategies that read quotes (the shipped ones sample quote mids) get one quote per bar,
  around its close, after the bar itself.

Quotes offer the bar's volume share (or an unlimited size) on both sides."""

from __future__ import annotations

from collections.abc import Iterable

UNLIMITED_SIZE = 1e12


def walk(o: float, h: float, lo: float, c: float) -> tuple[tuple[float, float], ...]:
    """The three legs of the price path inside a bar."""
    if c >= o:
        return ((o, lo), (lo, h), (h, c))
    return ((o, h), (h, lo), (lo, c))


def touched_levels(o: float, h: float, lo: float, c: float, levels: Iterable[float]) -> list[float]:
    """The levels (order prices) the bar's path crosses, in the order it reaches them; a
    level outside [low, high] is never reached. Each level appears once."""
    todo = {lv for lv in levels if lo <= lv <= h}
    out: list[float] = []
    for a, b in walk(o, h, lo, c):
        if not todo:
            break
        up = b >= a
        lo_leg, hi_leg = (a, b) if up else (b, a)
        hits = sorted((lv for lv in todo if lo_leg <= lv <= hi_leg), reverse=not up)
        out.extend(hits)
        todo.difference_update(hits)
    return out


def spread_sides(price: float, spread_bps: float) -> tuple[float, float]:
    """(bid, ask) around `price` for a full spread of `spread_bps`, to the cent, never crossed
    and never below a cent."""
    if not spread_bps:
        return price, price
    half = price * spread_bps / 20_000.0
    bid = max(0.01, round(price - half, 2))
    ask = max(bid, round(price + half, 2))
    return bid, ask
