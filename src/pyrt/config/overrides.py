"""Environment overrides of system.json: `PYRT_<SECTION>__<FIELD>[__<FIELD>...]=value`,
e.g. `PYRT_MARKET_DATA__STALE_AFTER_SECONDS=10`, `PYRT_METRICS__MARKET_DATA=0`,
`PYRT_MARKET_DATA__SYMBOLS=AAPL,MSFT` (or a JSON list), `PYRT_VENUE__TRADING_URL=null`.

Values are strings validated by the model like file values; a value starting with `[` or
`{` is JSON; list fields also take comma-separated values; `null` or an empty value clears
an optional field. Variables without a double underscore (PYRT_ROOT) are not overrides."""

from __future__ import annotations

import copy
import json
import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from pyrt.config.errors import problem_line

ENV_PREFIX = "PYRT_"


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


def _members(annotation: Any) -> list[Any]:
    """The alternatives of a union (Annotated metadata removed)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [annotation]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _parse(raw: str, annotation: Any) -> Any:
    text = raw.strip()
    members = _members(annotation)
    if text in ("", "null") and type(None) in members:
        return None
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
