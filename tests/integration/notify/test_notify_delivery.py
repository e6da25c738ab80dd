"""Delivery over real sockets: a local webhook gets the JSON, a local SMTP server gets the
e-mail; a refusing and a silent endpoint give errors within the timeout, `send_async`
never blocks the caller, `flush` is bounded, and the counters follow."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import Counter, generate_latest

from pyrt.config.system import NotificationsConfig
from pyrt.observability.metrics import common_metrics, new_registry
from pyrt.ops.notify import Alert, Notifier
from tests.integration.notify.receivers import RefusingPort, SilentPort, SmtpReceiver, WebhookReceiver

CANARY_PASSWORD = "CANARY-smtp-pw-51c0e2"
TOKEN = "CANARYhooktok9f3"
ALERT = Alert(
    "circuit_breaker",
    "critical",
    "Circuit breaker tripped",
    "daily loss limit reached",
    {"loss_usd": "5012.40"},
    datetime(2025, 3, 4, 14, 30, 5, tzinfo=UTC),
)
TIMEOUT_S = 0.5


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def silent() -> Iterator[SilentPort]:
    port = SilentPort()
    yield port
    port.close()


@pytest.fixture
def refusing() -> Iterator[RefusingPort]:
    port = RefusingPort()
    yield port
    port.close()


@pytest.fixture
def counter() -> Counter:
    return common_metrics(new_registry(process_metrics=False), "control").notifications_sent


def count(counter: Counter, channel: str, outcome: str) -> float:
    value: float = counter.labels(channel=channel, outcome=outcome)._value.get()
    return value


def smtp_config(port: int, username: str | None = None) -> dict[str, object]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "from_addr": "pyrt@localhost",
        "to_addrs": ["ops@example.com", "risk@example.com"],
        "username": username,
        "starttls": False,
    }


def notifications(
    webhook_url: str | None = None, smtp_port: int | None = None, username: str | None = None
) -> NotificationsConfig:
    smtp = smtp_config(smtp_port, username) if smtp_port is not None else None
    return NotificationsConfig.model_validate({"webhook_url": webhook_url, "smtp": smtp})


def test_webhook_and_email_are_delivered(webhook: WebhookReceiver, smtp: SmtpReceiver, counter: Counter) -> None:
    cfg = notifications(webhook.url(f"/services/T0/B0/{TOKEN}"), smtp.port, username="alerts")
    notifier = Notifier(cfg, CANARY_PASSWORD, counter, timeout_s=5)

    results = notifier.send(ALERT)

    assert [(r.channel, r.outcome, r.error) for r in results] == [("webhook", "ok", None), ("email", "ok", None)]
    [(path, payload)] = webhook.posts
    assert path == f"/services/T0/B0/{TOKEN}"
    assert payload["text"].startswith("[py_rt][CRITICAL] Circuit breaker tripped")
    assert payload["pyrt"]["kind"] == "circuit_breaker"
    assert payload["pyrt"]["fields"] == {"loss_usd": "5012.40"}
    [mail] = smtp.mails
    assert mail.mail_from == "pyrt@localhost"
    assert mail.rcpt_to == ["ops@example.com", "risk@example.com"]
    assert mail.auth == ("alerts", CANARY_PASSWORD)
    assert mail.message["Subject"] == "[py_rt][CRITICAL] Circuit breaker tripped"
    assert mail.message["To"] == "ops@example.com, risk@example.com"
    body = mail.message.get_content()
    assert "daily loss limit reached" in body and "loss_usd: 5012.40" in body
    assert count(counter, "webhook", "ok") == 1 and count(counter, "email", "ok") == 1


def test_email_without_username_skips_auth(smtp: SmtpReceiver) -> None:
    [result] = Notifier(notifications(smtp_port=smtp.port), None, timeout_s=5).send(ALERT)
    assert result.ok
    assert smtp.mails[0].auth is None


def test_send_async_delivers_in_the_background(webhook: WebhookReceiver, smtp: SmtpReceiver, counter: Counter) -> None:
    notifier = Notifier(notifications(webhook.url(), smtp.port), None, counter, timeout_s=5)
    notifier.send_async(ALERT)
    assert notifier.flush(5)
    assert len(webhook.posts) == 1 and len(smtp.mails) == 1
    assert count(counter, "webhook", "ok") == 1 and count(counter, "email", "ok") == 1


def test_an_error_status_is_an_error(counter: Counter) -> None:
    receiver = WebhookReceiver(status=500)
    try:
        [result] = Notifier(notifications(receiver.url(f"/x/{TOKEN}")), None, counter, timeout_s=5).send(ALERT)
    finally:
        receiver.close()
    assert (result.outcome, result.error) == ("error", "HTTP 500")
    assert count(counter, "webhook", "error") == 1


def test_refused_endpoints_fail_fast(refusing: RefusingPort, counter: Counter) -> None:
    notifier = Notifier(notifications(f"http://127.0.0.1:{refusing.port}/h", refusing.port), None, counter, timeout_s=5)
    started = time.monotonic()
    results = notifier.send(ALERT)
    assert time.monotonic() - started < 2
    assert [(r.channel, r.ok) for r in results] == [("webhook", False), ("email", False)]
    assert count(counter, "webhook", "error") == 1 and count(counter, "email", "error") == 1


def test_silent_endpoints_time_out_within_the_timeout(silent: SilentPort, counter: Counter) -> None:
    cfg = notifications(f"http://127.0.0.1:{silent.port}/h", silent.port)
    notifier = Notifier(cfg, None, counter, timeout_s=TIMEOUT_S)
    started = time.monotonic()
    results = notifier.send(ALERT)
    took = time.monotonic() - started
    assert TIMEOUT_S * 0.9 <= took < TIMEOUT_S + 0.5  # channels in parallel: one timeout, not two
    assert [(r.channel, r.ok) for r in results] == [("webhook", False), ("email", False)]
    assert all("timed out" in (r.error or "") for r in results)
    assert count(counter, "webhook", "error") == 1 and count(counter, "email", "error") == 1


def test_send_async_never_blocks_and_flush_is_bounded(silent: SilentPort, counter: Counter) -> None:
    notifier = Notifier(notifications(f"http://127.0.0.1:{silent.port}/h"), None, counter, timeout_s=TIMEOUT_S)
    alerts = [Alert("watchdog", "warning", f"Watchdog fired {i}") for i in range(3)]

    for alert in alerts:  # the first one is taken by the worker and hangs; the others queue
        started = time.monotonic()
        notifier.send_async(alert)
        assert time.monotonic() - started < 0.1

    started = time.monotonic()
    assert notifier.flush(0.1) is False  # three alerts of up to 0.5 s each are still queued
    assert time.monotonic() - started < 0.3

    assert notifier.flush(3 * TIMEOUT_S + 1.5)
    assert count(counter, "webhook", "error") == 3


def test_a_full_queue_drops_and_counts(silent: SilentPort, counter: Counter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pyrt.ops.notify.ASYNC_QUEUE_SIZE", 2)
    notifier = Notifier(notifications(f"http://127.0.0.1:{silent.port}/h"), None, counter, timeout_s=0.2)
    for i in range(6):
        notifier.send_async(Alert("watchdog", "warning", f"Watchdog fired {i}"))
    # one in delivery (or about to be), at most two waiting: the rest are dropped
    assert count(counter, "webhook", "dropped") >= 3
    assert notifier.flush(5)
    assert count(counter, "webhook", "error") + count(counter, "webhook", "dropped") == 6


def test_nothing_secret_in_logs_results_or_metrics(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    registry = new_registry(process_metrics=False)
    counter = common_metrics(registry, "control").notifications_sent
    hostile_smtp = SmtpReceiver(accept_auth=False)  # echoes the password in its refusal
    failing_hook = WebhookReceiver(status=403)
    try:
        cfg = notifications(failing_hook.url(f"/services/T0/B0/{TOKEN}"), hostile_smtp.port, username="alerts")
        results = Notifier(cfg, CANARY_PASSWORD, counter, timeout_s=5).send(ALERT)
    finally:
        hostile_smtp.close()
        failing_hook.close()
    assert [r.ok for r in results] == [False, False]
    assert "535" in (results[1].error or "") and "***" in (results[1].error or "")
    seen = caplog.text + repr(results) + generate_latest(registry).decode()
    assert CANARY_PASSWORD not in seen
    assert TOKEN not in seen
