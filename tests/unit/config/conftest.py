"""Fixtures: a temporary deployment root holding copies of the shipped config files."""

from __future__ import annotations

import json
import shutil
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

SHIPPED = Path(__file__).resolve().parents[3] / "config"
DELETE = "<delete>"  # as a value in edit_system: remove the key


class ConfigDir:
    """A config directory under a temporary root, with helpers to edit its files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "config"
        self.path.mkdir()
        for name in ("system.json", "risk_limits.toml"):
            shutil.copy(SHIPPED / name, self.path / name)

    def system(self) -> dict[str, Any]:
        return json.loads((self.path / "system.json").read_text())

    def edit_system(self, **changes: Any) -> None:
        """Set dotted fields (`a__b__c=value`; the value "<delete>" removes the key) in system.json."""
        data = self.system()
        for dotted, value in changes.items():
            _set(data, dotted.split("__"), value)
        (self.path / "system.json").write_text(json.dumps(data))

    def edit_risk(self, replacements: dict[str, str]) -> None:
        """Textual replacements in risk_limits.toml (a line per key = value)."""
        text = (self.path / "risk_limits.toml").read_text()
        for old, new in replacements.items():
            assert old in text, old
            text = text.replace(old, new)
        (self.path / "risk_limits.toml").write_text(text)

    def risk(self) -> dict[str, Any]:
        return tomllib.loads((self.path / "risk_limits.toml").read_text(), parse_float=Decimal)


def _set(data: Any, path: list[str], value: Any) -> None:
    for name in path[:-1]:
        data = data[int(name)] if isinstance(data, list) else data.setdefault(name, {})
    last = path[-1]
    if value == DELETE:
        del data[last]
    elif isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


@pytest.fixture
def cfg(tmp_path: Path) -> ConfigDir:
    return ConfigDir(tmp_path)
