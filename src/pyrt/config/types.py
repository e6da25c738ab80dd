"""Field types shared by the config models: the strict base model, tickers, ports, bus
addresses, URLs and paths that resolve against the deployment root."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, instances are immutable and
    defaults go through validation too (so default paths are resolved like given ones)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


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
