"""The bar cache files: market data keeps the last bars of each symbol in
`<market_data.cache_dir>/<SYMBOL>.json`, a JSON list of bus bars (`BarMsg`), so they survive
a restart (and fill gaps after it); the signal bridge reads the same files at start to warm
its bar strategies up. This module is the one home of their name and format (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec

from pyrt.bus.schema import BarMsg
from pyrt.domain.errors import BadInput

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(list[BarMsg])


class MalformedBarCache(BadInput, ValueError):
    """A bar cache file whose content is not a list of bars."""


def cache_file(cache_dir: Path | str, symbol: str) -> Path:
    """The cache file of `symbol`."""
    return Path(cache_dir) / f"{symbol}.json"


def encode_bars(bars: Sequence[BarMsg]) -> bytes:
    """A cache file's content."""
    return _encoder.encode(list(bars))


def decode_bars(symbol: str, data: bytes) -> list[BarMsg]:
    """The bars of `symbol` in a cache file's content, oldest first (bars of other symbols
    are left out); MalformedBarCache for content that is not a list of bars."""
    try:
        loaded = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise MalformedBarCache(f"bar cache of {symbol}: {exc}") from None
    return sorted((b for b in loaded if b.symbol == symbol), key=lambda b: b.ts_ns)
