"""The pure half of `pyrt health`: uptime and line formats, the verdict from collected
facts, memory parsing."""

from __future__ import annotations

import pytest

from pyrt.ops.health import (
    DEGRADED,
    HEALTHY,
    UNHEALTHY,
    HealthFacts,
    HealthReport,
    ServiceFacts,
    ServiceHealth,
    Thresholds,
    assess,
    connect_address,
    memory_percent,
    parse_kb_field,
    publisher_of_topic,
    report_dict,
    report_lines,
    service_line,
)
from pyrt.ops.status import uptime_text

SERVICES = ("market_data", "risk_manager", "execution_engine", "signal_bridge")
GOOD_METRICS = {"market_data_websocket_connected": 1.0, "market_data_messages_received_total": 10.0}


def live(name: str, **kw: object) -> ServiceFacts:
    base = dict(
        running=True,
        pid=123,
        ready={"service": name},
        uptime_s=187_200.0,
        metrics_port=9091,
        metrics=dict(GOOD_METRICS) if name == "market_data" else {"x": 1.0},
        heartbeat_status="ok",
        heartbeat_age_s=0.4,
        rss_bytes=100 * 2**20,
        cpu_percent=2.0,
    )
    base.update(kw)
    return ServiceFacts(name, **base)  # type: ignore[arg-type]


def facts(**overrides: ServiceFacts) -> HealthFacts:
    services = {n: overrides.get(n, live(n)) for n in SERVICES}
    return HealthFacts(
        services,
        probe_s=2.0,
        streams_seen=dict.fromkeys(SERVICES, True),
        md_messages=3,
        gateway_port=9090,
        metric_points=1234,
        mem_total_bytes=16 * 2**30,
    )


def by_name(report: HealthReport, name: str) -> ServiceHealth:
    return next(s for s in report.services if s.service == name)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (2 * 86400 + 4 * 3600 + 59, "2d 4h"),
        (3 * 3600 + 12 * 60 + 5, "3h 12m"),
        (5 * 60 + 10, "5m 10s"),
        (7, "7s"),
        (None, "-"),
    ],
)
def test_uptime_formats_like_the_guide(seconds: float | None, text: str) -> None:
    assert uptime_text(seconds) == text


def test_all_healthy_prints_the_guide_lines() -> None:
    report = assess(facts())
    assert report.healthy and report.status == "healthy"
    assert report_lines(report) == [
        "✓ Market Data Service: HEALTHY (uptime: 2d 4h)",
        "✓ Risk Manager: HEALTHY (uptime: 2d 4h)",
        "✓ Execution Engine: HEALTHY (uptime: 2d 4h)",
        "✓ Signal Bridge: HEALTHY (uptime: 2d 4h)",
        "✓ ZeroMQ Connections: 4/4 active",
        "✓ Prometheus Metrics: 1234 data points",
    ]


def test_unhealthy_and_degraded_lines() -> None:
    assert (
        service_line(ServiceHealth("execution_engine", UNHEALTHY, ["not running"]))
        == "✗ Execution Engine: UNHEALTHY (not running)"
    )
    assert (
        service_line(ServiceHealth("market_data", DEGRADED, ["stale symbols", "x"]))
        == "⚠ Market Data Service: DEGRADED (stale symbols; x)"
    )


def test_not_running_is_unhealthy_and_fails() -> None:
    report = assess(facts(execution_engine=ServiceFacts("execution_engine", running=False)))
    s = by_name(report, "execution_engine")
    assert (s.state, s.reasons) == (UNHEALTHY, ["not running"])
    assert not report.healthy and report.status == "unhealthy"


def test_missing_or_stale_heartbeat_is_unhealthy() -> None:
    report = assess(facts(risk_manager=live("risk_manager", heartbeat_age_s=None, heartbeat_status=None)))
    assert by_name(report, "risk_manager").reasons == ["no heartbeat on the bus in 2.0s"]
    report = assess(facts(risk_manager=live("risk_manager", heartbeat_age_s=4.25)))
    assert by_name(report, "risk_manager").reasons == ["last heartbeat 4.2s ago"]
    assert assess(
        facts(risk_manager=live("risk_manager", heartbeat_age_s=4.0)), Thresholds(heartbeat_max_age_s=5)
    ).healthy


def test_no_ready_file_and_silent_metrics_are_unhealthy() -> None:
    report = assess(facts(signal_bridge=live("signal_bridge", ready=None, metrics=None, metrics_port=9094)))
    s = by_name(report, "signal_bridge")
    assert s.state == UNHEALTHY
    assert s.reasons == ["not ready", "metrics endpoint :9094 not answering"]


def test_market_data_checks() -> None:
    down = live("market_data", metrics={**GOOD_METRICS, "market_data_websocket_connected": 0.0})
    assert by_name(assess(facts(market_data=down)), "market_data").reasons == ["feed websocket disconnected"]

    f = facts()
    f.md_messages = 0  # nothing on the bus and the counter did not move: degraded
    f.services["market_data"].metrics_later = dict(GOOD_METRICS)
    s = by_name(assess(f), "market_data")
    assert (s.state, s.reasons) == (DEGRADED, ["no market data flowing in 2.0s"])
    f.services["market_data"].metrics_later = {**GOOD_METRICS, "market_data_messages_received_total": 11.0}
    assert by_name(assess(f), "market_data").state == HEALTHY

    stale = live("market_data", heartbeat_status="degraded")
    assert by_name(assess(facts(market_data=stale)), "market_data").reasons == ["stale symbols"]


def test_halted_execution_is_degraded_with_the_reason_and_passes() -> None:
    halted = live("execution_engine", heartbeat_status="halted", ready={"halted": "overfill on AAPL"})
    report = assess(facts(execution_engine=halted))
    s = by_name(report, "execution_engine")
    assert (s.state, s.reasons) == (DEGRADED, ["halted: overfill on AAPL"])
    assert report.healthy and report.status == "degraded"
    assert "⚠ Execution Engine: DEGRADED (halted: overfill on AAPL)" in report_lines(report)

    f = facts(execution_engine=live("execution_engine", heartbeat_status="halted", ready={}))
    f.alerts = ["overfill AAPL: filled 200 of 100"]
    assert by_name(assess(f), "execution_engine").reasons == ["halted: overfill AAPL: filled 200 of 100"]

    stream = live("execution_engine", metrics={"execution_trade_stream_connected": 0.0})
    assert by_name(assess(facts(execution_engine=stream)), "execution_engine").reasons == [
        "broker trade stream disconnected"
    ]


def test_breaker_safe_mode_memory_and_cpu_are_warnings() -> None:
    f = facts(
        signal_bridge=live("signal_bridge", heartbeat_status="safe_mode"),
        execution_engine=live("execution_engine", rss_bytes=int(0.78 * 16 * 2**30)),
        market_data=live("market_data", metrics=dict(GOOD_METRICS), cpu_percent=97.0),
    )
    f.risk_state = {"trading_state": "HALTED", "reason": "daily loss limit", "circuit_breaker_active": True}
    report = assess(f)
    assert report.healthy and report.status == "blocked" and report.exit_code == 4  # the breaker blocks trading
    assert report_lines(report)[6:] == [
        "⚠ Warning: Circuit breaker active (daily loss limit)",
        "⚠ Warning: Signal bridge in safe mode (no new orders)",
        "⚠ Warning: High CPU usage on market-data (97%)",
        "⚠ Warning: High memory usage on execution-engine (78%)",
        "✗ Trading blocked: circuit breaker active (daily loss limit)",
        '→ Next: once the cause is fixed: pyrt breaker deactivate --reason "<why it is safe>"',
    ]
    assert assess(f, Thresholds(memory_percent=80, cpu_percent=99)).warnings[2:] == []


def test_breaker_from_the_metric_when_no_state_was_seen() -> None:
    f = facts(risk_manager=live("risk_manager", metrics={"risk_circuit_breaker_active": 1.0}))
    assert assess(f).warnings == ["Circuit breaker active"]


def test_zmq_and_prometheus_summary() -> None:
    f = facts()
    f.streams_seen["signal_bridge"] = False
    report = assess(f)
    assert "✗ ZeroMQ Connections: 3/4 active" in report_lines(report)
    assert not report.healthy

    f = facts()
    f.metric_points, f.service_points = None, {"market_data": 100, "risk_manager": 50}
    lines = report_lines(assess(f))
    assert "⚠ Prometheus Metrics: 150 data points (gateway :9090 not answering; sum over services)" in lines
    f.service_points = {}
    report = assess(f)
    assert "✗ Prometheus Metrics: no metrics endpoint answering" in report_lines(report)
    assert not report.healthy


def test_json_has_the_same_content() -> None:
    data = report_dict(assess(facts()))
    assert data["status"] == "healthy" and data["healthy"] is True
    assert data["services"]["market_data"]["name"] == "Market Data Service"
    assert data["services"]["market_data"]["uptime"] == "2d 4h"
    assert data["zmq"] == {"active": 4, "total": 4}
    assert data["metrics"] == {"data_points": 1234, "source": "gateway"}
    assert data["lines"][0] == "✓ Market Data Service: HEALTHY (uptime: 2d 4h)"


MEMINFO = "MemTotal:       24683656 kB\nMemFree:        22517796 kB\nHugePages_Total:       0\n"


def test_memory_parsing() -> None:
    assert parse_kb_field(MEMINFO, "MemTotal") == 24683656 * 1024
    assert parse_kb_field(MEMINFO, "HugePages_Total") == 0
    assert parse_kb_field(MEMINFO, "VmRSS") is None
    assert parse_kb_field("VmRSS:\tgarbage kB\n", "VmRSS") is None
    assert memory_percent(78 * 2**20, 100 * 2**20) == pytest.approx(78.0)
    assert memory_percent(None, 100) is None and memory_percent(5, 0) is None


def test_topics_and_addresses() -> None:
    assert publisher_of_topic("hb.execution_engine") == "execution_engine"
    assert publisher_of_topic("hb.other") is None
    assert publisher_of_topic("md.quote.AAPL") == "market_data"
    assert publisher_of_topic("sig.ema.AAPL") == "signal_bridge"
    assert publisher_of_topic("risk.state") == "risk_manager"
    assert publisher_of_topic("exec.report.ema") == "execution_engine"
    assert connect_address("tcp://0.0.0.0:5555") == "tcp://127.0.0.1:5555"
    assert connect_address("tcp://*:5555") == "tcp://127.0.0.1:5555"
    assert connect_address("tcp://10.0.0.5:5555") == "tcp://10.0.0.5:5555"
    assert connect_address("tcp://[::]:5555") == "tcp://[::1]:5555"
    assert connect_address("ipc:///tmp/md") == "ipc:///tmp/md"


def test_a_halted_engine_and_a_tripped_breaker_exit_4_naming_the_command() -> None:
    reason = "position mismatch with the broker at start-up: AAPL: ours 0 broker 5 (diff 5)"
    f = facts(execution_engine=live("execution_engine", heartbeat_status="halted", ready={"halted": reason}))
    f.risk_state = {
        "trading_state": "HALTED",
        "reason": "position_mismatch: AAPL: ours 0 broker 5",
        "circuit_breaker_active": True,
    }
    report = assess(f)
    assert report.healthy and report.exit_code == 4
    lines = report_lines(report)
    blocked = next(line for line in lines if line.startswith("✗ Trading blocked: "))
    assert "circuit breaker active (position_mismatch" in blocked and "Execution Engine degraded: halted" in blocked
    assert lines[-1] == "→ Next: adopt the broker's positions: python scripts/reconcile_positions.py --apply --yes"
    assert report_dict(report)["exit_code"] == 4


def test_a_manual_breaker_names_the_deactivate_command_and_safe_mode_alone_passes() -> None:
    f = facts()
    f.risk_state = {"trading_state": "HALTED", "reason": "manual: maintenance", "circuit_breaker_active": True}
    report = assess(f)
    assert report.exit_code == 4 and report.next_steps == [
        'once the cause is fixed: pyrt breaker deactivate --reason "<why it is safe>"'
    ]
    safe = assess(facts(signal_bridge=live("signal_bridge", heartbeat_status="safe_mode")))
    assert safe.exit_code == 0 and not safe.blocked
    assert assess(facts(risk_manager=live("risk_manager", running=False))).exit_code == 1
