"""Metric names as the operations guide greps them, per-service registries, /metrics server."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client import generate_latest

from pyrt.domain.enums import BreakerTrigger
from pyrt.observability.metrics import (
    common_metrics,
    market_data_metrics,
    new_registry,
    serve_metrics,
    service_metrics,
)

GUIDE_NAMES = {
    "market_data": [
        "market_data_websocket_connected 0.0",
        'market_data_messages_received_total{type="quote"} 0.0',
        "market_data_latency_seconds_bucket",
        "market_data_symbols 0.0",
    ],
    "risk_manager": [
        "risk_checks_performed_total 0.0",
        "# TYPE risk_checks_failed_total counter",
        "# TYPE risk_max_position_size gauge",  # per symbol, beside the risk book's trading_position_size
        "risk_circuit_breaker_active 0.0",
        'risk_circuit_breaker_activations_total{trigger="daily_loss"} 0.0',
    ],
    "execution_engine": [
        "execution_orders_submitted_total 0.0",
        "execution_orders_filled_total 0.0",
        "trading_open_positions 0.0",
        "trading_realized_pnl_total 0.0",
        "# TYPE trading_realized_pnl_total gauge",
        "trading_unrealized_pnl 0.0",
        "# TYPE trading_position_size gauge",
    ],
    "signal_bridge": ["# TYPE signal_bridge_signals_generated_total counter"],
}
COMMON = [
    'trading_messages_processed_total{service="%s"} 0.0',
    'trading_processing_latency_seconds_bucket{le="1e-05"} 0.0',
    'trading_processing_latency_seconds_bucket{le="1.0"} 0.0',
    "# TYPE trading_errors_total counter",
    "# TYPE bus_messages_dropped_total counter",
    "bus_seq_gaps_total 0.0",
    'config_reload_total{status="success"} 0.0',
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
]


@pytest.mark.parametrize("service", sorted(GUIDE_NAMES))
def test_guide_names_are_exposed_from_the_start(service: str) -> None:
    text = generate_latest(service_metrics(service).registry).decode()
    lines = text.splitlines()
    for expected in GUIDE_NAMES[service] + [c % service if "%s" in c else c for c in COMMON]:
        assert any(line.startswith(expected) for line in lines), expected


def test_the_guide_greps_match_a_zero_line() -> None:
    for service, name in (
        ("market_data", "market_data_websocket_connected"),
        ("risk_manager", "risk_circuit_breaker_active"),
    ):
        text = generate_latest(service_metrics(service).registry).decode()
        assert f"\n{name} 0" in text


def test_values_show_up() -> None:
    metrics = service_metrics("risk_manager")
    assert metrics.risk is not None
    metrics.risk.circuit_breaker_active.set(1)
    metrics.risk.circuit_breaker_activations.labels(trigger="manual").inc()
    metrics.risk.checks_failed.labels(reason="MAX_ORDER_VALUE").inc()
    metrics.common.error("bus")
    metrics.common.messages_processed.inc(3)
    text = generate_latest(metrics.registry).decode()
    assert "risk_circuit_breaker_active 1.0" in text
    assert 'risk_circuit_breaker_activations_total{trigger="manual"} 1.0' in text
    assert 'risk_checks_failed_total{reason="MAX_ORDER_VALUE"} 1.0' in text
    assert 'trading_errors_total{kind="bus",service="risk_manager"} 1.0' in text
    assert 'trading_messages_processed_total{service="risk_manager"} 3.0' in text


def test_every_breaker_trigger_is_pre_labelled() -> None:
    text = generate_latest(service_metrics("risk_manager").registry).decode()
    for trigger in (t.value for t in BreakerTrigger):
        assert f'risk_circuit_breaker_activations_total{{trigger="{trigger}"}} 0.0' in text


def test_pnl_gauge_can_go_down() -> None:
    metrics = service_metrics("execution_engine")
    assert metrics.trading is not None
    metrics.trading.realized_pnl.set(-125.5)
    metrics.trading.position_size.labels(symbol="AAPL").set(-10)
    text = generate_latest(metrics.registry).decode()
    assert "trading_realized_pnl_total -125.5" in text
    assert 'trading_position_size{symbol="AAPL"} -10.0' in text


def test_registries_are_independent() -> None:
    a, b = service_metrics("market_data"), service_metrics("market_data")
    assert a.market_data is not None and b.market_data is not None
    a.market_data.symbols.set(5)
    assert "market_data_symbols 0.0" in generate_latest(b.registry).decode()
    assert "market_data_symbols 5.0" in generate_latest(a.registry).decode()


def test_a_name_is_declared_once_per_registry() -> None:
    registry = new_registry(process_metrics=False)
    market_data_metrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        market_data_metrics(registry)


def test_without_process_metrics() -> None:
    registry = new_registry(process_metrics=False)
    common_metrics(registry, "x")
    assert "process_cpu_seconds_total" not in generate_latest(registry).decode()


def test_unknown_service_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown service"):
        service_metrics("nope")


def test_serve_metrics_on_an_ephemeral_port() -> None:
    metrics = service_metrics("market_data")
    assert metrics.market_data is not None
    metrics.market_data.websocket_connected.set(1)
    server = serve_metrics(metrics.registry, "127.0.0.1", 0)
    try:
        assert server.port > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as response:
            body = response.read().decode()
        assert "market_data_websocket_connected 1.0" in body
    finally:
        server.close()


def test_market_data_symbols_shows_which_symbols() -> None:
    from pyrt.observability.metrics import market_data_metrics, new_registry

    registry = new_registry()
    md = market_data_metrics(registry)
    md.set_symbols(["AAPL", "MSFT", "GOOGL"])
    md.set_symbols(["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"])  # the guide's edit, then a reload
    md.set_symbols(["AAPL", "MSFT", "GOOGL", "NVDA"])  # and one removed again
    lines = [line for line in generate_latest(registry).decode().splitlines() if line.startswith("market_data_symbols")]
    assert lines == [
        "market_data_symbols 4.0",
        *(f'market_data_symbols_streaming{{symbol="{s}"}} 1.0' for s in ("AAPL", "GOOGL", "MSFT", "NVDA")),
    ]
