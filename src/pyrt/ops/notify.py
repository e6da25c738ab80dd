"""Alert notifications (breaker tripped, emergency stop, watchdog fired, reconciliation
mismatch ...) to a Slack-compatible webhook and to e-mail over SMTP.

Notifying is best effort: a failure is logged (never with a secret: no SMTP password, and
of the webhook URL only its host) and counted in `notifications_sent_total`, and never
raised to the caller. Every delivery has a deadline (`timeout_s`, default 5 s); channels
are tried in parallel, so `send` returns within about one timeout. Identical alerts within
`dedup_window_s` (default 30 s) are sent once, so a flapping condition does not spam.

    notifier = notifier_from_config(app_config)
    notifier.send_async(Alert("circuit_breaker", "critical", "Circuit breaker tripped",
                              "daily loss limit reached", {"loss_usd": "5012.40"}))
    ...
    notifier.flush(timeout_s=5)  # before exiting
"""

from __future__ import annotations

import json
import logging
import queue
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from prometheus_client import Counter

    from pyrt.config import AppConfig
    from pyrt.config.system import NotificationsConfig, SmtpConfig

log = logging.getLogger("pyrt.notify")

Severity = Literal["critical", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")
Outcome = Literal["ok", "error", "deduplicated", "dropped"]

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_DEDUP_WINDOW_S = 30.0
ASYNC_QUEUE_SIZE = 100
SMTPS_PORT = 465  # implicit TLS; any other port is plain SMTP, upgraded when `starttls`
REDACTED = "***"


@dataclass(frozen=True)
class Alert:
    """Something a human should know about. `kind` is a stable machine name
    ("circuit_breaker", "emergency_stop", ...); `fields` are shown as `key: value` lines."""

    kind: str
    severity: Severity
    title: str
    detail: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    ts: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    def dedup_key(self) -> tuple[Any, ...]:
        """What makes two alerts identical: everything but the time."""
        fields = tuple(sorted((str(k), str(v)) for k, v in self.fields.items()))
        return (self.kind, self.severity, self.title, self.detail, fields)

    def subject(self) -> str:
        """One line: `[py_rt][CRITICAL] Circuit breaker tripped`."""
        return _one_line(f"[py_rt][{self.severity.upper()}] {self.title}")

    def body(self) -> str:
        """Plain text: subject, detail, then kind, severity, time and the fields as `key: value` lines."""
        lines = [self.subject()]
        if self.detail:
            lines += ["", self.detail]
        lines += ["", f"kind: {self.kind}", f"severity: {self.severity}", f"time: {self.ts.isoformat()}"]
        lines += [f"{_one_line(str(k))}: {_one_line(str(v))}" for k, v in self.fields.items()]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        """The structured alert (JSON-ready)."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "title": self.title,
            "detail": self.detail,
            "fields": {str(k): str(v) for k, v in self.fields.items()},
            "ts": self.ts.isoformat(),
        }


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one alert on one channel ("webhook" or "email"). `error` is a short
    reason without secrets; `elapsed_s` is the time spent trying."""

    channel: str
    outcome: Outcome
    error: str | None = None
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True if the channel accepted the alert."""
        return self.outcome == "ok"


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """Slack-compatible JSON: `text` for humans, `pyrt` (ignored by Slack) for machines."""
    return {"text": alert.body().rstrip("\n"), "pyrt": alert.as_dict()}


def email_message(alert: Alert, from_addr: str, to_addrs: tuple[str, ...]) -> EmailMessage:
    """The alert as a plain-text e-mail."""
    message = EmailMessage()
    message["Subject"] = alert.subject()
    message["From"] = from_addr
    message["To"] = ", ".join(to_addrs)
    message["Date"] = format_datetime(alert.ts if alert.ts.tzinfo else alert.ts.replace(tzinfo=UTC))
    message["Message-ID"] = make_msgid(domain=from_addr.rpartition("@")[2])
    message.set_content(alert.body())
    return message


class Notifier:
    """Sends alerts to the configured channels. No channel configured: a no-op that says so
    once at info. Thread-safe; never raises on a failed delivery.

    `smtp_password` is used for AUTH when `smtp.username` is set. `metrics` is the
    `notifications_sent` counter (labels channel, outcome), e.g. `CommonMetrics.notifications_sent`.
    `clock` (monotonic seconds) is only used for the dedup window."""

    def __init__(
        self,
        cfg: NotificationsConfig,
        smtp_password: str | None,
        metrics: Counter | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        dedup_window_s: float = DEFAULT_DEDUP_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._webhook_url = cfg.webhook_url
        self._smtp = cfg.smtp
        self._password = smtp_password
        self._metrics = metrics
        self.timeout_s = timeout_s
        self.dedup_window_s = dedup_window_s
        self._clock = clock
        self._secrets = _secret_parts(self._webhook_url, smtp_password)
        self._lock = threading.Lock()
        self._last_sent: dict[tuple[Any, ...], float] = {}
        self._said_unconfigured = False
        self._queue: queue.Queue[Alert] = queue.Queue(maxsize=ASYNC_QUEUE_SIZE)
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        """The configured channels, in the order they are reported."""
        return (("webhook",) if self._webhook_url else ()) + (("email",) if self._smtp else ())

    def send(self, alert: Alert) -> list[DeliveryResult]:
        """Deliver `alert` now on every channel, in parallel, and wait at most about
        `timeout_s`. One result per channel; [] when no channel is configured."""
        if not self._admit(alert):
            return [self._count(DeliveryResult(c, "deduplicated")) for c in self.channels]
        try:
            return self._deliver(alert)
        except Exception as exc:  # e.g. no thread can start at interpreter exit: report, never raise
            log.warning("alert %r not sent: %s", alert.kind, type(exc).__name__)
            return [self._count(DeliveryResult(c, "error", type(exc).__name__)) for c in self.channels]

    def send_async(self, alert: Alert) -> None:
        """Queue `alert` for a background thread and return at once. Use `flush` to wait
        for queued alerts (e.g. before the process exits)."""
        if not self._admit(alert):
            for channel in self.channels:
                self._count(DeliveryResult(channel, "deduplicated"))
            return
        with self._lock:
            try:
                if self._worker is None:
                    worker = threading.Thread(target=self._work, name="pyrt-notify", daemon=True)
                    worker.start()
                    self._worker = worker
                self._queue.put_nowait(alert)
            except (queue.Full, RuntimeError) as exc:  # RuntimeError: no thread can start at interpreter exit
                reason = "queue full" if isinstance(exc, queue.Full) else type(exc).__name__
                log.warning("alert %r dropped: %s", alert.kind, reason)
                for channel in self.channels:
                    self._count(DeliveryResult(channel, "dropped", reason))
                return
            self._pending += 1

    def flush(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
        """Wait up to `timeout_s` for alerts queued by `send_async`; True if none is left."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning("%d alert(s) still unsent after %.1f s", self._pending, timeout_s)
                    return False
                self._idle.wait(remaining)
        return True

    # ------------------------------------------------------------------ internals
    def _admit(self, alert: Alert) -> bool:
        """False for an unconfigured notifier or an alert identical to one sent within the window."""
        with self._lock:
            if not self.channels:
                if not self._said_unconfigured:
                    self._said_unconfigured = True
                    log.info(
                        "no notification channel configured (system.notifications): alerts are not sent (first: %r)",
                        alert.title,
                    )
                return False
            now = self._clock()
            self._last_sent = {k: t for k, t in self._last_sent.items() if now - t < self.dedup_window_s}
            key = alert.dedup_key()
            if key in self._last_sent:
                log.debug("alert %r suppressed: identical one sent %.1f s ago", alert.kind, now - self._last_sent[key])
                return False
            self._last_sent[key] = now
            return True

    def _work(self) -> None:
        while True:
            alert = self._queue.get()
            try:
                self._deliver(alert)
            except Exception:  # a bug here must not kill the worker
                log.exception("alert delivery failed unexpectedly")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, alert: Alert) -> list[DeliveryResult]:
        """Run each channel on its own daemon thread and collect what finished by the
        deadline; a channel still running counts as timed out (its thread ends with its
        socket timeout, and it can never hold up the process exit)."""
        senders: dict[str, Callable[[], None]] = {}
        if self._webhook_url:
            senders["webhook"] = lambda: self._post_webhook(alert)
        if self._smtp:
            smtp = self._smtp
            senders["email"] = lambda: self._send_email(alert, smtp)
        started = time.monotonic()
        results: dict[str, DeliveryResult] = {}
        threads = []
        for channel, sender in senders.items():
            thread = threading.Thread(
                target=self._attempt,
                args=(channel, sender, started, results),
                name=f"pyrt-notify-{channel}",
                daemon=True,
            )
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join(max(0.0, started + self.timeout_s - time.monotonic()))
        reported = []
        with self._lock:
            for channel in senders:
                result = results.get(channel) or DeliveryResult(
                    channel, "error", f"timed out after {self.timeout_s:g} s", time.monotonic() - started
                )
                results[channel] = result  # a late finisher is ignored from now on
                reported.append(result)
        for result in reported:
            self._count(result)
            self._log(alert, result)
        return reported

    def _attempt(
        self, channel: str, sender: Callable[[], None], started: float, results: dict[str, DeliveryResult]
    ) -> None:
        try:
            sender()
            result = DeliveryResult(channel, "ok", None, time.monotonic() - started)
        except Exception as exc:  # every failure is reported, none raised
            result = DeliveryResult(channel, "error", self._describe(exc), time.monotonic() - started)
        with self._lock:
            results.setdefault(channel, result)

    def _post_webhook(self, alert: Alert) -> None:
        assert self._webhook_url is not None
        if urlsplit(self._webhook_url).scheme not in ("http", "https"):
            raise ValueError("webhook_url must be http(s)")
        request = urllib.request.Request(
            self._webhook_url,
            data=json.dumps(webhook_payload(alert)).encode(),
            headers={"Content-Type": "application/json", "User-Agent": "py_rt-notifier"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            response.read(1024)

    def _send_email(self, alert: Alert, cfg: SmtpConfig) -> None:
        if cfg.username and not self._password:
            raise ValueError("smtp.username is set but there is no SMTP password (smtp.password_env)")
        message = email_message(alert, cfg.from_addr, cfg.to_addrs)
        tls = ssl.create_default_context()
        if cfg.port == SMTPS_PORT:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=self.timeout_s, context=tls)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=self.timeout_s)
        with smtp:
            smtp.ehlo()
            if cfg.starttls and cfg.port != SMTPS_PORT:
                smtp.starttls(context=tls)
                smtp.ehlo()
            if cfg.username and self._password:
                smtp.login(cfg.username, self._password)
            smtp.send_message(message, cfg.from_addr, list(cfg.to_addrs))

    def _describe(self, exc: BaseException) -> str:
        """A short reason for `exc`, with every secret removed."""
        if isinstance(exc, urllib.error.HTTPError):
            text = f"HTTP {exc.code}"
        elif isinstance(exc, urllib.error.URLError):
            text = f"{type(exc).__name__}: {exc.reason}"
        else:
            text = f"{type(exc).__name__}: {exc}"
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text[:300]

    def _log(self, alert: Alert, result: DeliveryResult) -> None:
        target = self._target(result.channel)
        if result.ok:
            log.info("alert %r sent by %s to %s in %.2f s", alert.kind, result.channel, target, result.elapsed_s)
        else:
            log.warning("alert %r not sent by %s to %s: %s", alert.kind, result.channel, target, result.error)

    def _target(self, channel: str) -> str:
        """Where a channel goes, safe to log: the webhook host, the SMTP host:port."""
        if channel == "webhook" and self._webhook_url:
            return urlsplit(self._webhook_url).hostname or "?"
        if channel == "email" and self._smtp:
            return f"{self._smtp.host}:{self._smtp.port}"
        return "?"

    def _count(self, result: DeliveryResult) -> DeliveryResult:
        if self._metrics is not None:
            self._metrics.labels(channel=result.channel, outcome=result.outcome).inc()
        return result


def notifier_from_config(app_config: AppConfig, metrics: Counter | None = None, **options: Any) -> Notifier:
    """The Notifier of a loaded configuration (`system.notifications` and the SMTP password
    from the secrets); `options` are passed on (timeout_s, dedup_window_s, clock)."""
    password = app_config.secrets.smtp_password
    return Notifier(
        app_config.system.notifications,
        password.get_secret_value() if password is not None else None,
        metrics,
        **options,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _secret_parts(webhook_url: str | None, password: str | None) -> list[str]:
    """Strings never to show: the password, and the webhook URL beyond its host (path,
    query and user info carry its token), longest first."""
    parts = [password] if password else []
    if webhook_url:
        url = urlsplit(webhook_url)
        parts += [webhook_url, url.path, url.query, url.username or "", url.password or ""]
        parts += [segment for segment in url.path.split("/") if len(segment) >= 6]
    return sorted({p for p in parts if p and p != "/"}, key=len, reverse=True)
