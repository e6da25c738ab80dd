"""Alert formatting, the dedup window (injected clock), the unconfigured no-op, and no
secret in log output. Channels point at a local port nobody listens on, so a delivery
fails at once and no server is needed."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from pyrt.config import load_config
from pyrt.config.system import NotificationsConfig
from pyrt.observability.metrics import new_registry, notification_metrics
from pyrt.ops.notify import Alert, Notifier, email_message, notifier_from_config, webhook_payload

REPO = Path(__file__).resolve().parents[3]
CANARY_PASSWORD = "CANARY-pw-7d1e93"
WEBHOOK_TOKEN = "CANARYtok3n9xq"
TS = datetime(2025, 3, 4, 14, 30, 5, tzinfo=UTC)
ALERT = Alert(
    "circuit_breaker",
    "critical",
    "Circuit breaker tripped",
    "daily loss limit reached",
    {"loss_usd": "5012.40", "trigger": "daily_loss"},
    TS,
)


class FakeClock:
    """Monotonic seconds that only move when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A local port that refuses connections (bound, never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def config(port: int, webhook: bool = True, email: bool = True) -> NotificationsConfig:
    data: dict[str, object] = {}
    if webhook:
        data["webhook_url"] = f"http://127.0.0.1:{port}/services/T0/B0/{WEBHOOK_TOKEN}"
    if email:
        data["smtp"] = {
            "host": "127.0.0.1",
            "port": port,
            "from_addr": "pyrt@localhost",
            "to_addrs": ["ops@example.com", "risk@example.com"],
            "username": "alerts",
            "starttls": False,
        }
    return NotificationsConfig.model_validate(data)


def test_subject_and_body() -> None:
    assert ALERT.subject() == "[py_rt][CRITICAL] Circuit breaker tripped"
    assert ALERT.body().splitlines() == [
        "[py_rt][CRITICAL] Circuit breaker tripped",
        "",
        "daily loss limit reached",
        "",
        "kind: circuit_breaker",
        "severity: critical",
        "time: 2025-03-04T14:30:05+00:00",
        "loss_usd: 5012.40",
        "trigger: daily_loss",
    ]


def test_a_title_with_newlines_stays_one_subject_line() -> None:
    alert = Alert("x", "warning", "two\nlines\r\n here", ts=TS)
    assert alert.subject() == "[py_rt][WARNING] two lines here"
    assert email_message(alert, "a@b.c", ("d@e.f",))["Subject"] == "[py_rt][WARNING] two lines here"


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="severity"):
        Alert("x", "fatal", "t")  # type: ignore[arg-type]


def test_webhook_payload_is_slack_text_plus_the_structured_alert() -> None:
    payload = webhook_payload(ALERT)
    assert set(payload) == {"text", "pyrt"}
    assert payload["text"].startswith("[py_rt][CRITICAL] Circuit breaker tripped\n")
    assert payload["pyrt"] == {
        "kind": "circuit_breaker",
        "severity": "critical",
        "title": "Circuit breaker tripped",
        "detail": "daily loss limit reached",
        "fields": {"loss_usd": "5012.40", "trigger": "daily_loss"},
        "ts": "2025-03-04T14:30:05+00:00",
    }


def test_email_message_headers_and_body() -> None:
    message = email_message(ALERT, "pyrt@localhost", ("ops@example.com", "risk@example.com"))
    assert message["Subject"] == "[py_rt][CRITICAL] Circuit breaker tripped"
    assert message["From"] == "pyrt@localhost"
    assert message["To"] == "ops@example.com, risk@example.com"
    assert message["Date"] == "Tue, 04 Mar 2025 14:30:05 +0000"
    assert message.get_content_type() == "text/plain"
    assert "loss_usd: 5012.40" in message.get_content()


def test_dedup_key_ignores_time_only() -> None:
    later = Alert(ALERT.kind, ALERT.severity, ALERT.title, ALERT.detail, dict(ALERT.fields), datetime.now(UTC))
    assert later.dedup_key() == ALERT.dedup_key()
    other = Alert(ALERT.kind, ALERT.severity, ALERT.title, ALERT.detail, {"loss_usd": "6000"}, TS)
    assert other.dedup_key() != ALERT.dedup_key()


def test_unconfigured_is_a_no_op_that_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pyrt.notify")
    notifier = Notifier(NotificationsConfig(), None)
    assert notifier.channels == ()
    assert notifier.send(ALERT) == []
    notifier.send_async(ALERT)
    assert notifier.send(Alert("other", "info", "Other")) == []
    assert notifier.flush(0.1)
    records = [r for r in caplog.records if r.name == "pyrt.notify"]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert "no notification channel configured" in records[0].getMessage()


def test_identical_alerts_within_the_window_are_sent_once(dead_port: int) -> None:
    clock = FakeClock()
    counter = notification_metrics(new_registry(process_metrics=False))
    notifier = Notifier(config(dead_port, email=False), None, counter, timeout_s=2, dedup_window_s=30, clock=clock)

    first = notifier.send(ALERT)
    assert [(r.channel, r.outcome) for r in first] == [("webhook", "error")]  # tried (nobody listens)

    clock.now += 29.9
    again = Alert(ALERT.kind, ALERT.severity, ALERT.title, ALERT.detail, dict(ALERT.fields))  # a new ts
    assert [(r.channel, r.outcome) for r in notifier.send(again)] == [("webhook", "deduplicated")]
    notifier.send_async(again)  # suppressed before it is queued
    assert notifier.flush(1)

    different = Alert(ALERT.kind, ALERT.severity, ALERT.title, "another detail", dict(ALERT.fields))
    assert [r.outcome for r in notifier.send(different)] == ["error"]

    clock.now += 0.2  # 30.1 s after the first: sent again
    assert [r.outcome for r in notifier.send(ALERT)] == ["error"]

    assert counter.labels(channel="webhook", outcome="deduplicated")._value.get() == 2
    assert counter.labels(channel="webhook", outcome="error")._value.get() == 3


def test_a_zero_window_disables_dedup(dead_port: int) -> None:
    notifier = Notifier(config(dead_port, email=False), None, dedup_window_s=0, clock=FakeClock())
    assert [r.outcome for r in notifier.send(ALERT)] == ["error"]
    assert [r.outcome for r in notifier.send(ALERT)] == ["error"]


def test_failures_are_reported_and_logged_without_secrets(dead_port: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    registry = new_registry(process_metrics=False)
    notifier = Notifier(config(dead_port), CANARY_PASSWORD, notification_metrics(registry), timeout_s=2)

    results = notifier.send(ALERT)

    assert [(r.channel, r.ok) for r in results] == [("webhook", False), ("email", False)]
    assert all(r.error and "refused" in r.error.lower() for r in results)
    warnings = [r.getMessage() for r in caplog.records if r.name == "pyrt.notify" and r.levelno == logging.WARNING]
    assert len(warnings) == 2
    [webhook_warning] = [w for w in warnings if "by webhook" in w]
    assert "127.0.0.1" in webhook_warning and str(dead_port) not in webhook_warning  # the host only
    everything = caplog.text + repr(results) + generate_latest(registry).decode()
    assert CANARY_PASSWORD not in everything
    assert WEBHOOK_TOKEN not in everything
    assert "/services/" not in everything


def test_username_without_password_is_an_error_not_an_exception(dead_port: int) -> None:
    cfg = config(dead_port, webhook=False)
    notifier = Notifier(cfg, None, timeout_s=2)
    [result] = notifier.send(ALERT)
    assert result.channel == "email" and not result.ok
    assert "no SMTP password" in (result.error or "")


def test_notifier_from_config_takes_the_smtp_password_from_the_secrets(
    tmp_path: Path, dead_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "config").mkdir()
    smtp = config(dead_port, webhook=False).smtp
    assert smtp is not None
    system = {
        "notifications": {
            "smtp": {**smtp.model_dump(mode="json"), "password_env": "PYRT_TEST_SMTP_PASSWORD"},
        }
    }
    (tmp_path / "config" / "system.json").write_text(json.dumps(system))
    (tmp_path / "config" / "risk_limits.toml").write_text((REPO / "config" / "risk_limits.toml").read_text())
    app = load_config(tmp_path / "config", env={"PYRT_TEST_SMTP_PASSWORD": CANARY_PASSWORD})
    notifier = notifier_from_config(app, timeout_s=2)
    assert notifier.channels == ("email",)
    [result] = notifier.send(ALERT)
    assert not result.ok
    assert "password" not in (result.error or "").lower()  # it had one: the failure is the connection
    assert CANARY_PASSWORD not in caplog.text
