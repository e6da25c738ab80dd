"""A running sim broker learns a listed symbol when it is first subscribed to (as the guide's
Update Trading Symbols needs: edit the symbols, restart market data, the new ones stream),
and trades it; an unlisted symbol is not served."""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

from alpaca.data.live.stock import StockDataStream
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from pyrt.config.system import SimBrokerConfig
from tests.support.sim import InThreadSimBroker

from .conftest import KEY, SECRET, Sim, wait_for


def test_a_listed_symbol_is_learnt_on_subscription_and_an_unlisted_one_is_not(tmp_path: Path) -> None:
    config = SimBrokerConfig(
        data_dir=tmp_path / "sim", seed=3, symbols=("AAPL",), quotes_per_second=20, rate_limit_per_minute=None
    )
    with InThreadSimBroker(config) as running:
        assert running.broker.symbols == ("AAPL",)
        stream = StockDataStream(KEY, SECRET, raw_data=True, url_override=running.ws_url + "/v2/iex")
        seen: queue.Queue[Any] = queue.Queue()

        async def on_quote(q: Any) -> None:
            seen.put(q["S"])

        stream.subscribe_quotes(on_quote, "NVDA", "ZZZQ")
        thread = threading.Thread(target=stream.run, daemon=True)
        thread.start()
        try:
            got: set[str] = set()

            def nvda_quoted() -> bool:
                while not seen.empty():
                    got.add(seen.get_nowait())
                return "NVDA" in got

            wait_for(nvda_quoted, 15, "quotes of the learnt NVDA", 0.05)
            assert "ZZZQ" not in got
        finally:
            stream.stop()
            thread.join(5)
        assert running.broker.symbols == ("AAPL", "NVDA")
        order = (
            Sim(running)
            .client()
            .submit_order(MarketOrderRequest(symbol="NVDA", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
        )
        assert str(order.status.value) in ("accepted", "new", "filled", "pending_new")
