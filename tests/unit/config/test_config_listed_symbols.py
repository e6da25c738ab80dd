"""A symbol the venue does not list is refused by the config check (and so by a reload,
which loads through the same check), naming it; a listed one is accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyrt.config import ConfigError, load_config
from pyrt.config.system import SIM_LISTED_SYMBOLS
from tests.support.deploy import make_deployment


def with_symbols(tmp_path: Path, symbols: list[str]) -> Path:
    config_dir = make_deployment(tmp_path)
    path = config_dir / "system.json"
    cfg = json.loads(path.read_text())
    cfg["market_data"]["symbols"] = symbols
    path.write_text(json.dumps(cfg))
    return config_dir


def test_an_unlisted_symbol_is_refused_naming_it(tmp_path: Path) -> None:
    config_dir = with_symbols(tmp_path, ["AAPL", "MSFT", "GOOGL", "ZZZQ"])
    with pytest.raises(ConfigError) as err:
        load_config(config_dir)
    text = str(err.value)
    assert "market_data.symbols" in text and "['ZZZQ'] not listed by the venue" in text and "system.json" in text


def test_the_guides_new_symbols_are_listed(tmp_path: Path) -> None:
    guide = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]  # the guide's "Update Trading Symbols"
    assert set(guide) <= set(SIM_LISTED_SYMBOLS)
    cfg = load_config(with_symbols(tmp_path, guide))
    assert cfg.system.market_data.symbols == tuple(guide)
