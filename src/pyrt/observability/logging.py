"""Logging set-up of a service: structlog on top of stdlib logging, one greppable line per
event, written to `<logs_dir>/<service>.log` and stderr:

    2026-11-25T08:00:00.123Z INFO  market_data websocket disconnected reason=timeout attempt=3

Secrets never reach a log line: values of keys named like key/secret/token/password/
authorization are replaced by `***` (also inside nested dicts), and every string
registered with `register_secret` is replaced by `***` wherever it appears in a line,
including lines from other libraries and rendered tracebacks.

Errors carry a kind: a line at ERROR or above (or any line given an `error_kind`) starts its
message with `Error: <Kind>: `, so the guide's `grep -o "Error: [^:]*" logs/*.log | sort |
uniq -c` counts them by type. The kind is the `error_kind` given to the call
(`log.error(..., extra={"error_kind": "JournalWriteFailed"})`, or a structlog key), else the
class of the exception being logged, else the component's (`pyrt.execution.core` ->
`ExecutionError`).

No control character reaches a log line raw: a NUL, an ESC or a line separator in a
message, a field name or a value (a strategy name, a broker's error text) could truncate,
forge or split lines, or drive the terminal of whoever tails the file. The formatter
escapes every one in the finished line, whatever logger or renderer produced it: C0 and C1
controls, DEL and U+2028/U+2029 become `\\n`, `\\r`, `\\t` or `\\uXXXX`, which are also valid
JSON escapes, so a JSON line still decodes to the original text."""

from __future__ import annotations

import json as jsonlib
import logging
import logging.handlers
import re
import sys
import threading
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import structlog

REDACTED = "***"
MIN_SECRET_LENGTH = 4
_SECRET_WORDS = frozenset(
    {"key", "keys", "secret", "secrets", "token", "tokens", "password", "passwd", "pwd", "passphrase",
     "authorization", "auth", "credential", "credentials", "apikey", "secretkey", "keyid", "cookie"}
)  # fmt: skip
_SECRET_SUFFIXES = ("secret", "token", "password")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_PLAIN_VALUE = re.compile(r'^[^\s"=]+$')
_HANDLER_MARK = "_pyrt_handler"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

_secrets: tuple[str, ...] = ()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Redact every later occurrence of `value` in log output (too short values are ignored:
    they would mangle ordinary text)."""
    global _secrets
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        if value not in _secrets:
            _secrets = tuple(sorted((*_secrets, value), key=len, reverse=True))


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by ***."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def escape_controls(text: str) -> str:
    """`text` with every control character (C0, DEL, C1, U+2028/2029) escaped as \\n, \\r, \\t
    or \\uXXXX."""
    return _CONTROL.sub(lambda m: _SHORT_ESCAPES.get(m[0]) or f"\\u{ord(m[0]):04x}", text)


def is_secret_key(key: object) -> bool:
    """True for names like api_key, APCA-API-SECRET-KEY, Authorization, auth_token."""
    words = [w for w in _WORD_SPLIT.split(str(key).lower()) if w]
    return any(w in _SECRET_WORDS or w.endswith(_SECRET_SUFFIXES) for w in words)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if is_secret_key(k) else _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_redact_value(v) for v in value]
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> dict[str, Any]:
    """structlog processor: redact secret-named keys and registered secret strings."""
    return {
        k: REDACTED if k not in ("event", "level") and is_secret_key(k) else _redact_value(v)
        for k, v in event_dict.items()
    }


def _add_time_and_logger(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    record = event_dict.get("_record")
    created = record.created if record is not None else time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    event_dict["timestamp"] = f"{stamp}.{int(created * 1000) % 1000:03d}Z"
    if record is not None and not event_dict.get("_from_structlog"):
        event_dict["logger"] = record.name
    return event_dict


ERROR_KIND = "error_kind"
_KIND_WORD = re.compile(r"[^A-Za-z0-9]+")


def _component_kind(logger_name: str) -> str:
    """`pyrt.execution.core` -> `ExecutionError`, `pyrt.market_data` -> `MarketDataError`."""
    parts = [p for p in logger_name.split(".") if p and p != "pyrt"]
    words = _KIND_WORD.split(parts[0]) if parts else ["Unknown"]
    return "".join(w[:1].upper() + w[1:] for w in words if w) + "Error"


def add_error_kind(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Prefix the message of an error (or of any event given an `error_kind`) with
    `Error: <Kind>: `."""
    record = event_dict.get("_record")
    kind = event_dict.pop(ERROR_KIND, None) or (getattr(record, ERROR_KIND, None) if record is not None else None)
    level = str(event_dict.get("level", "")).lower()
    if kind is None and level not in ("error", "critical", "exception", "fatal"):
        return event_dict
    exc_info = event_dict.get("exc_info") or (record.exc_info if record is not None else None)
    if exc_info is True:  # structlog's log.exception(): the exception being handled
        exc_info = sys.exc_info()
    if kind is None and isinstance(exc_info, tuple) and exc_info[0] is not None:
        kind = exc_info[0].__name__
    elif kind is None and isinstance(exc_info, BaseException):
        kind = type(exc_info).__name__
    if kind is None:
        kind = _component_kind(str(event_dict.get("logger") or (record.name if record is not None else "")))
    event_dict["event"] = f"{_TOKEN}{_KIND_WORD.sub('', str(kind))}{_TOKEN_END}{event_dict.get('event', '')}"
    return event_dict


_TOKEN, _TOKEN_END = "\x1eError: ", "\x1f: "
"""Mark our token until the line is finished: every other "Error: " in a line (a traceback's
`ValueError: ...`, a broker's text) becomes "Error - ", so the guide's grep counts tokens only."""


def mark_error_tokens(line: str) -> str:
    """The finished line: our token as `Error: <Kind>: `, any other `Error: ` as `Error - `."""
    line = line.replace("Error: ", "Error - ")
    return line.replace("\x1eError - ", "Error: ").replace(_TOKEN_END, ": ")


def _format_value(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return jsonlib.dumps(value, default=str, ensure_ascii=False)
    text = str(value)
    return text if _PLAIN_VALUE.match(text) else jsonlib.dumps(text, ensure_ascii=False)


class _LineRenderer:
    """`<ts> <LEVEL> <service> <event> key=value ...` on one line."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> str:
        ts = event_dict.pop("timestamp", "")
        level = str(event_dict.pop("level", "info")).upper()
        event = str(event_dict.pop("event", ""))  # control characters: escaped by the formatter
        pairs = " ".join(f"{k}={_format_value(v)}" for k, v in event_dict.items())
        return f"{ts} {level:<5} {self.service} {event}" + (f" {pairs}" if pairs else "")


class _JsonRenderer:
    """One JSON object per line."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> str:
        head = {"ts": event_dict.pop("timestamp", ""), "level": str(event_dict.pop("level", "info")).upper(),
                "service": self.service, "event": event_dict.pop("event", "")}  # fmt: skip
        return jsonlib.dumps({**head, **event_dict}, default=str, ensure_ascii=False)


class _ScrubbingFormatter(structlog.stdlib.ProcessorFormatter):
    """Renders through structlog processors, then scrubs registered secrets from the line
    and escapes its control characters (the one place for both, for every logger)."""

    def format(self, record: logging.LogRecord) -> str:
        return escape_controls(scrub(mark_error_tokens(super().format(record))))


class _StderrHandler(logging.StreamHandler[Any]):
    """Writes to whatever sys.stderr is at the time (survives test capture swaps)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(service: str, logs_dir: Path, level: str | int = "INFO", json: bool = False) -> Any:
    """Send this process's logs (structlog and stdlib) to `<logs_dir>/<service>.log` and
    stderr, one line per event (JSON objects if `json`). Calling it again replaces the
    previous set-up. Returns a structlog logger for `service`."""
    reset_logging()
    logs_dir = Path(logs_dir)
    logs_dir.mkdir(parents=True, exist_ok=True)
    renderer = _JsonRenderer(service) if json else _LineRenderer(service)
    formatter = _ScrubbingFormatter(
        processors=[
            structlog.stdlib.add_log_level,
            _add_time_and_logger,
            add_error_kind,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_secrets,
            renderer,
        ],
    )
    file_handler = logging.handlers.WatchedFileHandler(logs_dir / f"{service}.log", encoding="utf-8")
    root = logging.getLogger()
    for handler in (file_handler, _StderrHandler()):
        handler.setFormatter(formatter)
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return structlog.stdlib.get_logger(service)


def reset_logging() -> None:
    """Remove and close the handlers installed by setup_logging."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
            handler.close()
