"""`pyrt positions | pnl | orders | fills`: the tables and the JSON, over a facade that
answers like the real one (the rows it returns are the API's shapes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pyrt.ops import cli
from pyrt.ops.commands import common

POSITIONS = [
    {
        "symbol": "MSFT",
        "qty": "3",
        "avg_entry_price": "400",
        "market_value": "1230",
        "unrealized_pl": "30",
        "current_price": "410",
    },
    {
        "symbol": "AAPL",
        "qty": "-2",
        "avg_entry_price": "200",
        "market_value": "-390",
        "unrealized_pl": "10",
        "current_price": "195",
    },
]
ORDERS = [
    {
        "id": "b2",
        "client_order_id": "pyrt-ema-2",
        "symbol": "AAPL",
        "side": "sell",
        "type": "limit",
        "time_in_force": "day",
        "status": "new",
        "qty": "2",
        "filled_qty": "0",
        "filled_avg_price": None,
        "limit_price": "250",
        "submitted_at": "2026-12-03T14:00:00Z",
    },
    {
        "id": "b1",
        "client_order_id": "pyrt-ema-1",
        "symbol": "MSFT",
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "status": "filled",
        "qty": "3",
        "filled_qty": "3",
        "filled_avg_price": "400",
        "limit_price": None,
        "submitted_at": "2026-12-01T14:00:00Z",
    },
]


class FakeFacade:
    def __init__(self) -> None:
        self.asked: list[tuple[str, Any]] = []

    def positions(self) -> list[dict[str, Any]]:
        return POSITIONS

    def orders(self, status: str, limit: int) -> list[dict[str, Any]]:
        self.asked.append(("orders", (status, limit)))
        return [o for o in ORDERS if status != "open" or o["status"] == "new"]

    def fills(self, limit: int) -> list[dict[str, Any]]:
        self.asked.append(("fills", limit))
        return [
            {
                "time": "2026-12-01T14:00:00.100Z",
                "symbol": "MSFT",
                "side": "buy",
                "qty": "3",
                "price": "400",
                "strategy": "ema",
                "client_order_id": "pyrt-ema-1",
                "execution_id": "x",
            }
        ]

    def pnl(self, days: int) -> list[dict[str, str]]:
        self.asked.append(("pnl", days))
        return [
            {"day": "2026-12-02", "realized": "0.00", "unrealized": "", "fills": "0", "notional": "0.00"},
            {"day": "2026-12-03", "realized": "12.50", "unrealized": "40.00", "fills": "2", "notional": "1210.00"},
        ][-days:]


@pytest.fixture
def facade(monkeypatch: pytest.MonkeyPatch) -> FakeFacade:
    fake = FakeFacade()
    monkeypatch.setattr(common, "open_facade", lambda config_dir, notify=False: fake)
    return fake


def run(*args: str) -> str:
    res = CliRunner().invoke(cli.app, [*args, "--config-dir", str(Path("unused"))])
    assert res.exit_code == 0, res.output
    return res.output


def test_positions_table_has_every_column_and_the_totals(facade: FakeFacade) -> None:
    out = run("positions")
    lines = out.splitlines()
    assert "Positions" in lines[0]
    header = next(line for line in lines if "symbol" in line)
    for column in ("qty", "avg_entry_price", "current_price", "market_value", "unrealized_pl"):
        assert column in header
    aapl = next(line for line in lines if "AAPL" in line)
    assert lines.index(aapl) < lines.index(next(line for line in lines if "MSFT" in line))  # sorted
    total = next(line for line in lines if "total" in line)
    assert "840.00" in total and "40.00" in total


def test_positions_json(facade: FakeFacade) -> None:
    data = json.loads(run("positions", "--json"))
    assert [r["symbol"] for r in data["rows"]] == ["AAPL", "MSFT"]
    assert data["totals"] == {"market_value": "840.00", "unrealized_pl": "40.00"}


def test_orders_open_since_and_json(facade: FakeFacade) -> None:
    out = run("orders")
    assert "pyrt-ema-1" in out and "pyrt-ema-2" in out
    assert out.index("pyrt-ema-1") < out.index("pyrt-ema-2")  # oldest first
    assert facade.asked[-1] == ("orders", ("all", 100))
    out = run("orders", "--open")
    assert "Open orders" in out and "pyrt-ema-1" not in out
    assert facade.asked[-1] == ("orders", ("open", 100))
    data = json.loads(run("orders", "--since", "2026-12-02", "--json"))
    assert [o["client_order_id"] for o in data] == ["pyrt-ema-2"]
    assert data[0]["limit_price"] == "250"


def test_orders_bad_since_is_a_usage_error(facade: FakeFacade) -> None:
    res = CliRunner().invoke(cli.app, ["orders", "--since", "last week"])
    assert res.exit_code == 2
    assert "--since" in res.output and "not an ISO date" in res.output


def test_fills_table_and_json(facade: FakeFacade) -> None:
    out = run("fills", "--limit", "5")
    assert "Fills" in out and "pyrt-ema-1" in out and "400" in out
    assert facade.asked[-1] == ("fills", 5)
    assert json.loads(run("fills", "--json"))[0]["execution_id"] == "x"


def test_pnl_days(facade: FakeFacade) -> None:
    out = run("pnl", "--days", "2")
    assert "2026-12-02" in out and "12.50" in out and "40.00" in out
    assert facade.asked[-1] == ("pnl", 2)
    assert json.loads(run("pnl", "--json")) == [
        {"day": "2026-12-03", "realized": "12.50", "unrealized": "40.00", "fills": "2", "notional": "1210.00"}
    ]
    assert CliRunner().invoke(cli.app, ["pnl", "--days", "0"]).exit_code == 2


def test_empty_table_says_none() -> None:
    from pyrt.ops.commands.views import render_table

    assert "(none)" in render_table("Fills", ("time", "symbol"), [])
