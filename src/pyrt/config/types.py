"""Field types shared by the config models: the strict base model, tickers, ports, bus
addresses, URLs and paths that resolve against the deployment root.

Booleans and numbers are taken only as written (review D6): pydantic's lax mode reads
`enabled = "no"` or `0` as False, which silently disabled the circuit breaker. Pydantic's
own strict mode is no answer either: it would also refuse lists for tuples, strings for
paths and the Decimals the file parsers produce for floats. So the base model checks the
raw value of every bool and number field itself, for every model and every field added
later, before the usual (lax) validation runs."""

from __future__ import annotations

import ipaddress
import re
import types
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from pyrt.config.errors import problems_error

ScalarKind = Literal["bool", "number"]
_NUMBERS = (int, float, Decimal)


def annotation_members(annotation: Any) -> list[Any]:
    """The alternatives of a (possibly Annotated, possibly Optional) field type."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return annotation_members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(annotation) for m in annotation_members(arg)]
    return [annotation]


def scalar_kind(annotation: Any) -> ScalarKind | None:
    """ "bool" for a boolean field, "number" for an int/float/Decimal field that takes no
    string, None for anything else (None may be allowed besides)."""
    members = annotation_members(annotation)
    if bool in members:
        return "bool"
    if any(m in _NUMBERS for m in members) and str not in members:
        return "number"
    return None


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return f"a {type(value).__name__}"


def strict_scalar_problem(kind: ScalarKind | None, value: Any) -> str | None:
    """Why `value` is not acceptable as it is for a field of `kind`, or None."""
    if value is None or kind is None:
        return None  # None: the field's own type decides
    if kind == "bool" and not isinstance(value, bool):
        return f"must be true or false, not {_shown(value)}"
    if kind == "number" and isinstance(value, (str, bool)):
        return f"must be a number, not {_shown(value)}"
    return None


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, instances are immutable and
    defaults go through validation too (so default paths are resolved like given ones).
    A bool field takes only true/false and a number field no string and no boolean."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        problem = strict_scalar_problem(scalar_kind(field.annotation) if field else None, value)
        if problem:
            raise problems_error([("", problem)])
        return value


Symbol = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z.]{0,9}$")]
"""An upper-case US equity ticker, 1-10 characters of A-Z and '.' (BRK.B)."""

Port = Annotated[int, Field(ge=0, le=65535)]
"""A TCP port; 0 asks the OS for a free one (tests)."""

Host = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


def non_empty(value: tuple[str, ...]) -> tuple[str, ...]:
    """Reject an empty tuple."""
    if not value:
        raise ValueError("must not be empty")
    return value


Symbols = Annotated[tuple[Symbol, ...], AfterValidator(non_empty)]
"""A non-empty list of tickers (checked after the items, so a bad item is one problem)."""


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    value = value.expanduser()
    root = (info.context or {}).get("root")
    if root is not None and not value.is_absolute():
        return Path(root) / value
    return value


RelPath = Annotated[Path, AfterValidator(_resolve_path)]
"""A path; relative ones are resolved against the deployment root given as validation
context `{"root": Path}` (left relative when validated without context)."""

_ZMQ_TCP = re.compile(r"^tcp://(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+|\*)$")


def _check_zmq(value: str) -> str:
    if value.startswith(("ipc://", "inproc://")) and len(value.split("://", 1)[1]) > 0:
        return value
    match = _ZMQ_TCP.match(value)
    if not match:
        raise ValueError("must be tcp://<host>:<port>, ipc://<path> or inproc://<name>")
    if match["port"] != "*" and not 0 <= int(match["port"]) <= 65535:
        raise ValueError("port must be 0-65535")
    return value


ZmqAddress = Annotated[str, AfterValidator(_check_zmq)]
"""A ZeroMQ endpoint: tcp://host:port (port may be * or 0 for ephemeral), ipc:// or inproc://."""


def zmq_tcp_host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a tcp:// ZeroMQ address, None for ipc/inproc or a wildcard port."""
    match = _ZMQ_TCP.match(address)
    if not match or match["port"] == "*":
        return None
    return match["host"].strip("[]"), int(match["port"])


def check_url(value: str) -> str:
    """Validate an http(s)/ws(s) URL with a host; returns it without a trailing slash."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ValueError("must be an http(s):// or ws(s):// URL with a host")
    return value.rstrip("/")


Url = Annotated[str, AfterValidator(check_url)]
"""An absolute http(s) or ws(s) URL, trailing slash removed."""


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback IP addresses."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
