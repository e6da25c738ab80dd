"""Fuzz the configuration loaders on real files: `load_system` (config/system.json, with
environment overrides `PYRT_<SECTION>__<FIELD>`) and `load_risk_limits`
(config/risk_limits.toml). Documents are the shipped files with values dropped, retyped or
set to hurtful values (re-serialised), the shipped text with lines dropped, duplicated or
cut and stray tokens inserted, bytes that are not UTF-8, sections of the shipped file on
their own, random small documents, and for system.json random override variables.

Pass: each document loads, or the loader raises `ConfigError` whose every problem line
names the file (`config/system.json: ...`) or the variable (`env PYRT_...`); never another
exception. A full-size document costs 1-3 ms to parse and validate (tomllib is pure
Python), so most inputs are smaller documents; every kind of input is in every batch."""

from __future__ import annotations

import json
import random
import tempfile
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from pyrt.config import ConfigError, load_risk_limits, load_system
from pyrt.config.loader import RISK_FILE, SYSTEM_FILE
from tests.fuzz.harness import fuzz
from tests.fuzz.mutate import NASTY, mutate_bytes, mutate_text, mutate_value

SHIPPED = Path(__file__).resolve().parents[2] / "config"
SYSTEM_TEXT = (SHIPPED / SYSTEM_FILE).read_text(encoding="utf-8")
RISK_TEXT = (SHIPPED / RISK_FILE).read_text(encoding="utf-8")
SYSTEM_DOC = json.loads(SYSTEM_TEXT, parse_float=Decimal)
RISK_DOC = tomllib.loads(RISK_TEXT, parse_float=Decimal)

# ------------------------------------------------------------------ serialising


def _toml_key(key: str) -> str:
    return key if key and all(c.isalnum() or c in "_-" for c in key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return (
            "nan"
            if value != value
            else ("inf" if value > 0 else "-inf")
            if value in (float("inf"), float("-inf"))
            else repr(value)
        )
    if isinstance(value, str):
        return json.dumps(value)  # TOML basic strings take JSON's escapes (but not lone surrogates)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value)) if value is not None else '""'  # TOML has no null


def to_toml(doc: Any) -> str:
    """A TOML document of a dict: scalars first, then one [table] per nested dict."""
    if not isinstance(doc, dict):
        return f"value = {_toml_value(doc)}\n"
    lines: list[str] = []

    def table(prefix: str, d: dict[str, Any]) -> None:
        subs = [(k, v) for k, v in d.items() if isinstance(v, dict) and v]
        for k, v in d.items():
            if not (isinstance(v, dict) and v):
                lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v in subs:
            name = f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k)
            lines.append(f"\n[{name}]")
            table(name, v)

    table("", doc)
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_json(doc: Any) -> str:
    return json.dumps(_plain(doc))  # NaN and Infinity as JSON's extensions (the loader refuses them)


# ------------------------------------------------------------------ inputs

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.sampled_from(NASTY[:30]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


def recipes(shipped: dict[str, Any]) -> st.SearchStrategy[Any]:
    sections = sorted(shipped)
    small = st.dictionaries(st.sampled_from(sections) | st.text(max_size=6), json_values, max_size=3)
    return st.tuples(
        st.lists(small, min_size=1, max_size=3), st.lists(st.sampled_from(sections), min_size=1, max_size=2)
    )


def expand_docs(
    shipped: dict[str, Any], text: str, dump: Any, recipe: Any, rng: random.Random, n: int
) -> Iterator[bytes]:
    small_docs, picked = recipe
    for _ in range(n):
        op = rng.randrange(40)
        if op == 0:
            out = text
        elif op < 5:  # the whole shipped document, structurally edited
            out = dump(mutate_value(shipped, rng))
        elif op < 8:  # the shipped text, edited
            out = mutate_text(text, rng)
        elif op < 9:
            yield mutate_bytes(text.encode(), rng)
            continue
        elif op < 24:  # one or two shipped sections on their own, edited
            doc = {k: shipped[k] for k in picked}
            out = dump(mutate_value(doc, rng) if rng.random() < 0.8 else doc)
        elif op < 36:  # a random small document
            out = dump(mutate_value(rng.choice(small_docs), rng) if rng.random() < 0.5 else rng.choice(small_docs))
        else:
            out = mutate_text(dump({k: shipped[k] for k in picked}), rng)
        yield out.encode("utf-8", "surrogatepass")


def _named(exc: ConfigError, label: str) -> None:
    assert exc.problems, "a ConfigError without problems"
    for line in exc.problems:
        assert line.startswith((f"{label}: ", "env PYRT_")), f"problem not naming {label}: {line!r}"


# ------------------------------------------------------------------ risk_limits.toml


class RiskCheck:
    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / RISK_FILE
        self.label = f"{config_dir.name}/{RISK_FILE}"

    def __call__(self, document: bytes) -> bool:
        self.path.write_bytes(document)
        try:
            load_risk_limits(self.path)
        except ConfigError as exc:
            _named(exc, self.label)
            return False
        return True


@pytest.fixture
def config_dir() -> Iterator[Path]:
    """A fresh config directory, in memory (/dev/shm) where there is one: a million file
    writes and reads on a disk shared with others would cost more than the parsing."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="pyrt-fuzz-", dir=shm if shm.is_dir() else None) as tmp:
        path = Path(tmp) / "config"
        path.mkdir()
        yield path


def test_fuzz_risk_limits_toml(config_dir: Path) -> None:
    fuzz("config risk_limits.toml (loader)", recipes(RISK_DOC),
         lambda r, rng, n: expand_docs(RISK_DOC, RISK_TEXT, to_toml, r, rng, n), RiskCheck(config_dir))  # fmt: skip


def test_shipped_config_files_load(config_dir: Path) -> None:
    """The fuzz starts from documents that load (or it would only ever test rejections)."""
    assert RiskCheck(config_dir)(RISK_TEXT.encode()) is True
    assert RiskCheck(config_dir)(to_toml(RISK_DOC).encode()) is True
    assert SystemCheck(config_dir)((SYSTEM_TEXT.encode(), {})) is True
    assert SystemCheck(config_dir)((to_json(SYSTEM_DOC).encode(), {})) is True


# ------------------------------------------------------------------ system.json + overrides

OVERRIDES = ["PYRT_EXECUTION__REQUEST_BUDGET_PER_MINUTE", "PYRT_MARKET_DATA__SYMBOLS", "PYRT_MARKET_DATA__STALE_AFTER_SECONDS",
             "PYRT_METRICS__MARKET_DATA", "PYRT_VENUE__TRADING_URL", "PYRT_API__PORT", "PYRT_LOGGING__LEVEL",
             "PYRT_SIM_BROKER__SYMBOLS", "PYRT_NOPE__X", "PYRT_API__PORT__X", "PYRT_EXECUTION__", "PYRT___"]  # fmt: skip
OVERRIDE_VALUES = ["", "null", "true", "FALSE", "10", "-1", "2.5", "1e3", "nan", "inf", "1e999999", "[", "[1, 2]",
                   '{"a": 1}', "AAPL,MSFT", ",,", "http://127.0.0.1:1", "\x00", "é" * 3, "9" * 400]  # fmt: skip


def expand_system(recipe: Any, rng: random.Random, n: int) -> Iterator[tuple[bytes, dict[str, str]]]:
    for document in expand_docs(SYSTEM_DOC, SYSTEM_TEXT, to_json, recipe, rng, n):
        env: dict[str, str] = {}
        if rng.random() < 0.2:
            env = {rng.choice(OVERRIDES): rng.choice(OVERRIDE_VALUES) for _ in range(rng.randint(1, 3))}
        yield document, env


class SystemCheck:
    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.path = config_dir / SYSTEM_FILE
        self.label = f"{config_dir.name}/{SYSTEM_FILE}"

    def __call__(self, case: tuple[bytes, dict[str, str]]) -> bool:
        document, env = case
        self.path.write_bytes(document)
        try:
            load_system(self.config_dir, env, self.config_dir.parent)
        except ConfigError as exc:
            _named(exc, self.label)
            return False
        return True


def test_fuzz_system_json(config_dir: Path) -> None:
    fuzz("config system.json (loader+env)", recipes(SYSTEM_DOC), expand_system, SystemCheck(config_dir))
