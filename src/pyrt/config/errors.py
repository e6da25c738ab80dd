"""ConfigError and the conversion of pydantic validation errors into problem lines of the
form `<file>: <dotted.field>: <reason>`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from pyrt.domain.errors import NeedsOperator

PROBLEMS_TYPE = "pyrt_problems"
"""Error type of a validator that reports several problems below its own location."""

_SCALARS = (bool, int, float, Decimal, type(None))


class ConfigError(NeedsOperator):
    """The configuration cannot be used. `problems` holds one line per problem, each
    `<file>: <dotted.field>: <reason>`; the message lists them all."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = list(problems)
        count = len(self.problems)
        header = f"invalid configuration ({count} problem{'s' if count != 1 else ''}):"
        super().__init__("\n".join([header, *(f"  {p}" for p in self.problems)]))


def problems_error(problems: Sequence[tuple[str, str]]) -> PydanticCustomError:
    """An error for a validator to raise: each (relative dotted field, reason) pair becomes
    its own problem line below the validator's location ("" means the location itself)."""
    summary = "; ".join(f"{field}: {reason}" if field else reason for field, reason in problems)
    return PydanticCustomError(PROBLEMS_TYPE, "{summary}", {"summary": summary, "problems": tuple(problems)})


def problem_line(label: str, loc: Sequence[str], reason: str) -> str:
    """Format one problem line."""
    return f"{label}: {'.'.join(loc) if loc else '(top level)'}: {reason}"


def error_reason(err: Mapping[str, Any]) -> str:
    """A short human reason for one pydantic error (unknown key, required, ... (got X))."""
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required"
    reason = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    if isinstance(value, _SCALARS) and kind not in ("model_type", "dict_type"):
        reason += f" (got {value if isinstance(value, Decimal) else repr(value)})"
    return reason


def validation_problems(
    exc: ValidationError,
    label: str,
    prefix: Sequence[str] = (),
    labels: Mapping[tuple[str, ...], str] | None = None,
) -> list[str]:
    """Problem lines for every error in `exc`. `prefix` is prepended to each location;
    `labels` maps a location prefix to another label (e.g. the environment variable that
    set that value), the longest matching prefix wins."""
    lines: list[str] = []
    for loc, reason in flatten_errors(exc):
        full = (*prefix, *loc)
        lines.append(problem_line(_label_for(full, label, labels), full, reason))
    return lines


def flatten_errors(exc: ValidationError) -> list[tuple[tuple[str, ...], str]]:
    """(location, reason) for every error in `exc`, expanding multi-problem errors."""
    items: list[tuple[tuple[str, ...], str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(str(p) for p in err["loc"])
        if err["type"] == PROBLEMS_TYPE:
            items.extend((_join(loc, field), reason) for field, reason in err["ctx"]["problems"])
        else:
            items.append((loc, error_reason(err)))
    return items


def _join(loc: tuple[str, ...], field: str) -> tuple[str, ...]:
    return (*loc, *field.split(".")) if field else loc


def _label_for(loc: tuple[str, ...], default: str, labels: Mapping[tuple[str, ...], str] | None) -> str:
    if not labels:
        return default
    best: tuple[str, ...] | None = None
    for key in labels:
        if loc[: len(key)] == key and (best is None or len(key) > len(best)):
            best = key
    return labels[best] if best is not None else default


FILE_FIELD = "(file)"
"""The field name used for problems with a whole file (missing, unreadable, bad syntax)."""


def file_problem(label: str, reason: str) -> str:
    """A problem line about a whole file."""
    return f"{label}: {FILE_FIELD}: {reason}"
