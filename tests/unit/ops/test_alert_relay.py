"""Which bus messages become notifications."""

from decimal import Decimal

from pyrt.bus import schema as wire
from pyrt.ops.alert_relay import AlertRelay, alert_for


class FakeNotifier:
    def __init__(self) -> None:
        self.alerts = []

    def send_async(self, alert) -> None:
        self.alerts.append(alert)


def state(active: bool) -> wire.RiskState:
    return wire.RiskState(
        "HALTED" if active else "ACTIVE", "daily loss 5200 > 5000" if active else "", active, Decimal(-5200)
    )


def test_breaker_trip_is_alerted_once_per_transition():
    relay = AlertRelay.__new__(AlertRelay)
    relay.notifier, relay.breaker_active, relay.sent = FakeNotifier(), None, 0
    relay.handle(state(False))
    relay.handle(state(True))
    relay.handle(state(True))
    relay.handle(state(False))
    relay.handle(state(True))
    titles = [a.title for a in relay.notifier.alerts]
    assert titles == ["Circuit breaker tripped", "Circuit breaker tripped"]
    assert relay.notifier.alerts[0].severity == "critical" and "daily loss" in relay.notifier.alerts[0].detail


def test_a_breaker_already_active_at_start_is_not_news():
    relay = AlertRelay.__new__(AlertRelay)
    relay.notifier, relay.breaker_active, relay.sent = FakeNotifier(), None, 0
    relay.handle(state(True))
    assert relay.notifier.alerts == []


def test_integrity_and_watchdog_alerts():
    a = alert_for(wire.IntegrityAlert("position_mismatch", "AAPL", "ours 0 broker 4"), False)
    assert a is not None and "disagrees" in a.title and a.fields == {"symbol": "AAPL"}
    w = alert_for(wire.IntegrityAlert("watchdog", "", "risk manager silent for 3.2s"), False)
    assert w is not None and w.title.startswith("Watchdog")
    assert alert_for(wire.Heartbeat("x", "ok", 0), False) is None
