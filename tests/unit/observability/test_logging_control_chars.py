"""No control character reaches a log file raw (review, Minor): a NUL in a strategy name was
written as is into logs/risk_manager.log. A raw control character can forge or split
lines (\\x85, U+2028 split lines for many readers), rewrite a terminal (ESC) or truncate
a C-string reader (NUL); every one is escaped, in the message, in field names and in values,
in both formats, for structlog and stdlib loggers alike."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from pyrt.observability.logging import reset_logging, setup_logging

NASTY = "ema\x00\x1b[2J\x7f\x85\u2028\u2029x\ty"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # everything but the line's own \n


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    reset_logging()
    structlog.reset_defaults()
    logging.getLogger().setLevel(level)


def _lines(logs: Path, service: str) -> list[str]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    data = (logs / f"{service}.log").read_bytes().decode("utf-8")
    assert data.endswith("\n")
    lines = data[:-1].split("\n")
    for line in lines:
        assert not RAW_CONTROL.search(line), repr(line)
    return lines


def test_text_format_escapes_control_characters_in_message_keys_and_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = setup_logging("risk_manager", tmp_path)
    log.warning(f"order denied for {NASTY}", strategy=NASTY, **{"k\x00ey": 1}, nested={"name": NASTY})  # noqa: G004 - the message itself is under test
    (line,) = _lines(tmp_path, "risk_manager")
    assert "risk_manager order denied for ema\\u0000\\u001b[2J\\u007f\\u0085\\u2028\\u2029x\\ty " in line
    assert 'strategy="ema\\u0000\\u001b[2J\\u007f\\u0085\\u2028\\u2029x\\ty"' in line
    assert "k\\u0000ey=1" in line
    err = capsys.readouterr().err
    assert err == line + "\n"


def test_a_nul_alone_in_a_plain_value_is_escaped(tmp_path: Path) -> None:
    setup_logging("risk_manager", tmp_path).info("strategy registered", strategy="ema\x00cross")
    (line,) = _lines(tmp_path, "risk_manager")
    assert line.endswith("strategy registered strategy=ema\\u0000cross")


def test_json_format_escapes_and_round_trips(tmp_path: Path) -> None:
    log = setup_logging("risk_manager", tmp_path, json=True)
    log.warning(NASTY, strategy=NASTY, details={"name": NASTY, "list": [NASTY]})
    (line,) = _lines(tmp_path, "risk_manager")
    record = json.loads(line)
    assert record["event"] == record["strategy"] == record["details"]["name"] == record["details"]["list"][0] == NASTY


def test_stdlib_logger_messages_and_tracebacks_are_escaped(tmp_path: Path) -> None:
    setup_logging("execution_engine", tmp_path)
    logging.getLogger("alpaca.common").warning("symbol %s\x00 rejected", "AA\x1bPL")
    try:
        raise ValueError("bad\x00value")
    except ValueError:
        logging.getLogger("pyrt.test").exception("failed \x07")
    first, second = _lines(tmp_path, "execution_engine")
    assert "symbol AA\\u001bPL\\u0000 rejected logger=alpaca.common" in first
    assert "failed \\u0007" in second and "ValueError - bad\\u0000value" in second  # only the kind token says Error:
    assert re.findall(r"Error: [^:]*", second) == ["Error: ValueError"]  # the guide's grep finds the kind only
