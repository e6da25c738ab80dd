"""Historical bars for a backtest through alpaca-py's StockHistoricalDataClient (the sim
broker's `/v2/stocks/bars` or Alpaca's data API), cached as Parquet so a second run with the
same (symbol, timeframe, start, end, feed) needs no network.

A cache file is written whole or not at all (temporary file, then rename), with the
timeframe in its schema metadata so `load_bars` knows it even for a single bar. The keys
come from the caller and never reach a log, an error or a file name."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pyrt.backtest.bar_files import TIMEFRAME_META_KEY
from pyrt.domain.calendar import NEW_YORK
from pyrt.domain.errors import Retryable

TIMEFRAMES = ("1Min", "5Min", "15Min", "1Hour", "1Day")


class BarFetchError(Retryable, RuntimeError):
    """Downloading historical bars failed (the message names the symbol and the URL)."""


def cache_path(cache_dir: Path, symbol: str, timeframe: str, start: date, end: date, feed: str) -> Path:
    return Path(cache_dir) / f"{symbol.upper()}_{timeframe}_{start.isoformat()}_{end.isoformat()}_{feed}.parquet"


def fetch_alpaca_bars(
    symbols: Sequence[str],
    start: date,
    end: date,
    timeframe: str,
    *,
    data_url: str,
    key_id: str,
    secret_key: str,
    feed: str,
    cache_dir: Path,
) -> list[Path]:
    """One Parquet file per symbol with its bars whose New York date is in [start, end];
    files already in `cache_dir` are used as they are (no request)."""
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"timeframe {timeframe!r}: expected one of {', '.join(TIMEFRAMES)}")
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    wanted = list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
    if not wanted:
        raise ValueError("no symbols to download")
    paths = [cache_path(cache_dir, s, timeframe, start, end, feed) for s in wanted]
    missing = [(s, p) for s, p in zip(wanted, paths, strict=True) if not p.exists()]
    if missing:
        client = _client(data_url, key_id, secret_key)
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        for symbol, path in missing:
            bars = _download(client, data_url, symbol, start, end, timeframe, feed)
            _write(path, symbol, timeframe, bars)
    return paths


def _client(data_url: str, key_id: str, secret_key: str) -> Any:
    from alpaca.data.historical.stock import StockHistoricalDataClient

    from pyrt.venues.alpaca.adapter import configure_client

    client = StockHistoricalDataClient(key_id, secret_key, raw_data=True, url_override=data_url)
    configure_client(client, data_url, 30.0)
    client._retry = 0  # noqa: SLF001 - fail fast; the caller may run again (the cache keeps what came)
    return client


def _ny_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=NEW_YORK).astimezone(UTC)


def _download(
    client: Any, data_url: str, symbol: str, start: date, end: date, timeframe: str, feed: str
) -> list[dict[str, Any]]:
    from alpaca.common.exceptions import APIError
    from alpaca.data.enums import DataFeed
    from alpaca.data.requests import StockBarsRequest
    from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
    from requests import RequestException

    amount, unit = {
        "1Min": (1, TimeFrameUnit.Minute),
        "5Min": (5, TimeFrameUnit.Minute),
        "15Min": (15, TimeFrameUnit.Minute),
        "1Hour": (1, TimeFrameUnit.Hour),
        "1Day": (1, TimeFrameUnit.Day),
    }[timeframe]
    request = StockBarsRequest(
        symbol_or_symbols=symbol,
        timeframe=TimeFrame(amount, unit),
        start=_ny_midnight(start),
        end=_ny_midnight(end + timedelta(days=1)) - timedelta(microseconds=1),
        feed=DataFeed(feed),
    )
    try:
        answer = client.get_stock_bars(request)
    except APIError as err:
        raise BarFetchError(f"{symbol} {timeframe} bars from {data_url}: HTTP {err.status_code}: {err}") from None
    except (RequestException, OSError) as err:
        raise BarFetchError(f"{symbol} {timeframe} bars from {data_url}: {type(err).__name__}: {err}") from None
    rows = answer.get(symbol, []) if isinstance(answer, dict) else []
    return list(rows)


def _write(path: Path, symbol: str, timeframe: str, bars: list[dict[str, Any]]) -> None:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    def col(key: str) -> list[Any]:
        return [b.get(key) for b in bars]

    stamps = [datetime.fromisoformat(str(b["t"])) for b in bars]
    table = pa.table(
        {
            "timestamp": pa.array(stamps, type=pa.timestamp("ns", tz="UTC")),
            "symbol": pa.array([symbol] * len(bars), type=pa.string()),
            "open": pa.array(col("o"), type=pa.float64()),
            "high": pa.array(col("h"), type=pa.float64()),
            "low": pa.array(col("l"), type=pa.float64()),
            "close": pa.array(col("c"), type=pa.float64()),
            "volume": pa.array(col("v"), type=pa.float64()),
            "vwap": pa.array(col("vw"), type=pa.float64()),
            "trade_count": pa.array(col("n"), type=pa.float64()),
        }
    ).replace_schema_metadata({TIMEFRAME_META_KEY: timeframe.encode()})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
