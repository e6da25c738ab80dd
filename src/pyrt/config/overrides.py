"""Environment overrides of system.json: `PYRT_<SECTION>__<FIELD>[__<FIELD>...]=value`,
e.g. `PYRT_MARKET_DATA__STALE_AFTER_SECONDS=10`, `PYRT_METRICS__MARKET_DATA=0`,
`PYRT_MARKET_DATA__SYMBOLS=AAPL,MSFT` (or a JSON list), `PYRT_VENUE__TRADING_URL=null`.

Values are strings, so they are parsed before validation by the field's type: a boolean
field takes `true` or `false` (any case), a number field a decimal number (`10`, `2.5`,
`1e3`; not `nan`); anything else is an error naming the variable, because the models take
booleans and numbers only as written (see `pyrt.config.types`). A value starting with `[`
or `{` is JSON; list fields also take comma-separated values; `null` or an empty value
clears an optional field; other fields get the string. Variables without a double
underscore (PYRT_ROOT) are not overrides."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, get_origin

from pydantic import BaseModel

from pyrt.config.errors import problem_line
from pyrt.config.types import annotation_members, scalar_kind

ENV_PREFIX = "PYRT_"
_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def is_override_var(name: str) -> bool:
    """True for an environment variable naming a system.json override."""
    return name.startswith(ENV_PREFIX) and "__" in name[len(ENV_PREFIX) :]


def apply_env_overrides(
    data: Mapping[str, Any], env: Mapping[str, str], model: type[BaseModel]
) -> tuple[dict[str, Any], dict[tuple[str, ...], str], list[str]]:
    """Return (data with overrides applied, {field path: "env VAR"}, problem lines).
    `data` is not modified."""
    result: dict[str, Any] = copy.deepcopy(dict(data))
    labels: dict[tuple[str, ...], str] = {}
    problems: list[str] = []
    for var in sorted(v for v in env if is_override_var(v)):
        label = f"env {var}"
        path = tuple(var[len(ENV_PREFIX) :].lower().split("__"))
        try:
            annotation = _field_annotation(model, path)
            value = _parse(env[var], annotation)
        except ValueError as exc:
            problems.append(problem_line(label, path, str(exc)))
            continue
        _set(result, path, value)
        labels[path] = label
    return result, labels, problems


def _field_annotation(model: type[BaseModel], path: tuple[str, ...]) -> Any:
    current: Any = model
    for depth, name in enumerate(path):
        model_cls = _model_in(current)
        if model_cls is None:
            raise ValueError(f"{'.'.join(path[:depth])} is not a section")
        field = model_cls.model_fields.get(name)
        if field is None:
            raise ValueError("unknown setting")
        current = field.annotation
    return current


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for member in annotation_members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _parse(raw: str, annotation: Any) -> Any:
    text = raw.strip()
    members = annotation_members(annotation)
    if text in ("", "null") and type(None) in members:
        return None
    kind = scalar_kind(annotation)
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError(f"must be true or false (got {raw!r})")
        return text.lower() == "true"
    if kind == "number":
        if _INTEGER.match(text):
            return int(text)
        if _DECIMAL.match(text):
            return Decimal(text)  # like a float in the file (parse_float=Decimal)
        raise ValueError(f"must be a number (got {raw!r})")
    if text[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg}") from None
    if any(get_origin(m) in (list, tuple, set, frozenset) for m in members):
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for name in path[:-1]:
        child = node.get(name)
        if not isinstance(child, dict):
            child = {}
            node[name] = child
        node = child
    node[path[-1]] = value
