"""Log lines: one greppable line per event in logs/<service>.log and stderr, and secrets
redacted (secret-named keys, registered secret strings) with a canary value."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from pyrt.observability.logging import is_secret_key, register_secret, reset_logging, setup_logging

CANARY = "CANARY-4f9a-logsecret"
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARNING|ERROR|CRITICAL) \S+ .+$")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    reset_logging()
    structlog.reset_defaults()
    logging.getLogger().setLevel(level)


def read(logs: Path, service: str) -> list[str]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return (logs / f"{service}.log").read_text().splitlines()


def test_each_event_is_one_greppable_line_in_the_service_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = setup_logging("market_data", tmp_path / "logs")
    log.info("websocket disconnected", reason="connection reset", attempt=3)
    log.error("websocket error", detail="line1\nline2")
    lines = read(tmp_path / "logs", "market_data")
    assert len(lines) == 2
    assert all(LINE.match(line) for line in lines), lines
    assert ' INFO  market_data websocket disconnected reason="connection reset" attempt=3' in lines[0]
    assert re.search("websocket.*disconnect", lines[0]) and re.search("websocket.*error", lines[1])
    assert 'ERROR market_data Error: MarketDataError: websocket error detail="line1\\nline2"' in lines[1]
    assert capsys.readouterr().err.splitlines() == lines


@pytest.mark.parametrize("service", ["market_data", "risk_manager", "execution_engine", "signal_bridge"])
def test_log_file_per_service(tmp_path: Path, service: str) -> None:
    setup_logging(service, tmp_path).warning("circuit breaker activated", trigger="manual")
    assert f"WARNING {service} circuit breaker activated trigger=manual" in read(tmp_path, service)[0]


def test_stdlib_loggers_and_levels(tmp_path: Path) -> None:
    setup_logging("execution_engine", tmp_path, level="WARNING")
    logging.getLogger("alpaca.common").warning("order %s rejected", "abc")
    logging.getLogger("alpaca.common").info("not shown")
    structlog.get_logger().debug("not shown either")
    lines = read(tmp_path, "execution_engine")
    assert len(lines) == 1 and "order abc rejected logger=alpaca.common" in lines[0]


def test_exceptions_stay_on_one_line(tmp_path: Path) -> None:
    log = setup_logging("execution_engine", tmp_path)
    try:
        raise RuntimeError("Error: broker unavailable")
    except RuntimeError:
        log.exception("order submit failed", symbol="AAPL")
    (line,) = read(tmp_path, "execution_engine")
    assert LINE.match(line) and "ERROR execution_engine Error: RuntimeError: order submit failed symbol=AAPL" in line
    assert "RuntimeError - Error - broker unavailable" in line


def test_json_format(tmp_path: Path) -> None:
    setup_logging("risk_manager", tmp_path, json=True).info("risk violation", reason="MAX_ORDER_VALUE")
    record = json.loads(read(tmp_path, "risk_manager")[0])
    assert record["level"] == "INFO" and record["service"] == "risk_manager"
    assert (record["event"], record["reason"]) == ("risk violation", "MAX_ORDER_VALUE")


def test_setup_twice_does_not_duplicate_lines(tmp_path: Path) -> None:
    setup_logging("market_data", tmp_path)
    setup_logging("market_data", tmp_path).info("once")
    assert len(read(tmp_path, "market_data")) == 1


@pytest.mark.parametrize("json_format", [False, True])
def test_canary_secret_is_redacted_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_format: bool
) -> None:
    register_secret(CANARY)
    log = setup_logging("execution_engine", tmp_path, json=json_format)
    log.info("auth sent", frame={"action": "auth", "key": "PK123", "secret": CANARY})
    log.info(
        "headers",
        headers={"APCA-API-KEY-ID": "PK123", "APCA-API-SECRET-KEY": CANARY, "Authorization": f"Bearer {CANARY}"},
    )
    log.info("config", api_secret_key=CANARY, password="hunter22", token="t0ken-value")
    log.info(f"message text with {CANARY} inside", note=f"also in a value: {CANARY}", items=[CANARY])  # noqa: G004 - a secret in the message is under test
    logging.getLogger("websockets.client").debug("unused")
    logging.getLogger("websockets.client").warning('> TEXT \'{"action":"auth","secret":"%s"}\'', CANARY)

    class Leaky:
        def __repr__(self) -> str:
            return f"Leaky({CANARY})"

    log.info("object", obj=Leaky())
    try:
        raise ValueError(f"bad secret {CANARY}")
    except ValueError:
        log.exception("traceback")
    text = "\n".join(read(tmp_path, "execution_engine"))
    assert CANARY not in text and CANARY not in capsys.readouterr().err
    assert "hunter22" not in text and "t0ken-value" not in text and "PK123" not in text
    assert text.count("***") >= 10


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("api_key", True), ("APCA-API-SECRET-KEY", True), ("Authorization", True), ("auth_token", True),
        ("password", True), ("smtp_password", True), ("apikey", True), ("secret", True),
        ("symbol", False), ("reason", False), ("monkey_business", False), ("authenticated", False), ("qty", False),
    ],
)  # fmt: skip
def test_secret_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_short_strings_are_not_registered(tmp_path: Path) -> None:
    register_secret("ab")
    register_secret("")
    register_secret(None)
    setup_logging("signal_bridge", tmp_path).info("about abc")
    assert "about abc" in read(tmp_path, "signal_bridge")[0]
