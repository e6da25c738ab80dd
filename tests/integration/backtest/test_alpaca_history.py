"""Historical bars for a backtest through alpaca-py, from a sim broker running as its own
process: downloaded into the Parquet cache, loaded by `load_bars`, and loaded again from
the cache once the broker is gone. The keys never reach the cache, its names or an error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from pyrt.backtest.alpaca_history import BarFetchError, fetch_alpaca_bars
from pyrt.backtest.data import load_bars
from pyrt.config import load_config
from pyrt.domain.errors import Retryable
from tests.support.deploy import make_deployment, wait_for

KEY, SECRET = "HIST-KEY-ID-1234", "hist-secret-abcdef-987"


@pytest.fixture
def sim_url(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    config_dir = make_deployment(tmp_path, system={"sim_broker": {"port": 0}})
    env = {**os.environ, "APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET}
    paths = load_config(config_dir, env=env).system.paths
    out = tmp_path / "sim_broker.out"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyrt", "run", "sim-broker", "--config-dir", str(config_dir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: paths.ready_file("sim_broker").exists() or proc.poll() is not None, 60, "sim broker ready")
        assert proc.poll() is None, out.read_text()[-2000:]
        port = json.loads(paths.ready_file("sim_broker").read_text())["port"]
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(20)


def fetch(url: str, cache: Path, timeframe: str, start: date, end: date, secret: str = SECRET) -> list[Path]:
    return fetch_alpaca_bars(
        ["aapl", "MSFT"],
        start,
        end,
        timeframe,
        data_url=url,
        key_id=KEY,
        secret_key=secret,
        feed="iex",
        cache_dir=cache,
    )


def test_bars_come_from_the_sim_broker_once_and_then_from_the_cache(
    tmp_path: Path, sim_url: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, proc = sim_url
    cache = tmp_path / "cache"
    daily = fetch(url, cache, "1Day", date(2024, 11, 1), date(2024, 11, 30))
    minute = fetch(url, cache, "1Min", date(2024, 11, 25), date(2024, 11, 29))  # more than a page (1,000)
    assert [p.name for p in daily] == [
        "AAPL_1Day_2024-11-01_2024-11-30_iex.parquet",
        "MSFT_1Day_2024-11-01_2024-11-30_iex.parquet",
    ]
    assert all(p.is_file() for p in daily + minute)

    days = load_bars(daily)
    assert days.timeframe == "1Day" and days.symbols == ("AAPL", "MSFT")
    assert [s.rows for s in days.sources] == [20, 20]  # November 2024: 21 weekdays, Thanksgiving closed
    minutes = load_bars(minute)
    assert minutes.timeframe == "1Min" and minutes.regular_hours_only()
    per_symbol = 3 * 390 + 210  # 25th-27th, Thanksgiving closed, the 29th closes at 13:00
    assert [s.rows for s in minutes.sources] == [per_symbol, per_symbol]
    assert len(np.unique(minutes.open_ns)) == per_symbol
    assert np.all(minutes.close_ns - minutes.open_ns == 60_000_000_000)

    with pytest.raises(BarFetchError) as bad_key:
        fetch(url, tmp_path / "other", "1Day", date(2024, 11, 1), date(2024, 11, 5), secret="wrong-secret-xyz")
    assert isinstance(bad_key.value, Retryable) and "401" in str(bad_key.value) and "AAPL" in str(bad_key.value)
    assert "wrong-secret-xyz" not in str(bad_key.value) and KEY not in str(bad_key.value)

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0

    again = load_bars(fetch(url, cache, "1Day", date(2024, 11, 1), date(2024, 11, 30)))
    assert [s.sha256 for s in again.sources] == [s.sha256 for s in days.sources]
    assert np.array_equal(again.close, days.close) and np.array_equal(again.close_ns, days.close_ns)
    for path in cache.iterdir():
        blob = path.read_bytes()
        assert KEY.encode() not in blob and SECRET.encode() not in blob and SECRET not in path.name

    with pytest.raises(BarFetchError) as gone:
        fetch(url, cache, "1Day", date(2024, 12, 1), date(2024, 12, 31))
    assert url in str(gone.value) and SECRET not in str(gone.value)
    assert not list(cache.glob("*2024-12-01*"))
