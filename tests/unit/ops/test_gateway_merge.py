"""Metrics gateway: parsing, merging and formatting Prometheus text expositions."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pyrt.observability.metrics import service_metrics
from pyrt.ops.gateway import (
    format_value,
    merge_expositions,
    parse_exposition,
    parse_sample,
)

A = """\
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 6.0
# HELP x A gauge only A has.
# TYPE x gauge
x{kind="a"} 1.0
# HELP lat Latency.
# TYPE lat histogram
lat_bucket{le="0.5"} 1.0
lat_bucket{le="+Inf"} 2.0
lat_count 2.0
lat_sum 0.75
# HELP msgs_total Messages.
# TYPE msgs_total counter
msgs_total{service="a"} 5.0
"""
B = """\
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 9.0
# HELP lat Latency.
# TYPE lat histogram
lat_bucket{le="0.5"} 0.0
lat_bucket{le="+Inf"} 0.0
lat_count 0.0
lat_sum 0.0
# HELP msgs_total Messages.
# TYPE msgs_total counter
msgs_total{service="b"} 1.0
y 2.5
"""


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("1.0", "1"),
        ("0.0", "0"),
        ("-3.0", "-3"),
        ("20000.0", "20000"),
        ("4.9627136e+07", "49627136"),
        ("0.56", "0.56"),
        ("1e-05", "1e-05"),
        ("0.5700000000000001", "0.5700000000000001"),
        ("1.795595005793894e+09", "1.795595005793894e+09"),
        ("+Inf", "+Inf"),
        ("NaN", "NaN"),
        ("1e+300", "1e+300"),
    ],
)
def test_integral_values_lose_their_fraction_and_others_stay_exact(raw: str, shown: str) -> None:
    assert format_value(raw) == shown


def test_sample_labels_may_hold_quotes_commas_braces_and_spaces() -> None:
    sample = parse_sample(r'm{a="x \"q\", {y}",b="2"} 3.0 1700000000000')
    assert sample.name == "m"
    assert sample.labels == [("a", r"x \"q\", {y}"), ("b", "2")]
    assert (sample.value, sample.timestamp) == ("3.0", "1700000000000")
    assert parse_sample("plain 7").labels == []


def test_histogram_samples_belong_to_their_family_and_stray_samples_get_their_own() -> None:
    families = {f.name: f for f in parse_exposition(B)}
    assert [s.name for s in families["lat"].samples] == ["lat_bucket", "lat_bucket", "lat_count", "lat_sum"]
    assert families["y"].type is None and families["y"].samples[0].value == "2.5"


def test_shared_families_get_a_service_label_unique_ones_stay_unchanged() -> None:
    text = merge_expositions({"a": A, "b": B})
    lines = text.splitlines()
    assert 'process_open_fds{service="a"} 6' in lines
    assert 'process_open_fds{service="b"} 9' in lines
    assert 'x{kind="a"} 1' in lines  # only in a: unchanged
    assert "y 2.5" in lines
    assert 'lat_bucket{service="a",le="0.5"} 1' in lines
    assert 'lat_sum{service="a"} 0.75' in lines
    assert 'msgs_total{service="b"} 1' in lines  # had a service label already: not doubled
    meta = [line for line in lines if line.startswith("#")]
    assert len(meta) == len(set(meta))
    assert meta.count("# TYPE lat histogram") == 1
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert len(families["lat"].samples) == 8
    assert 'pyrt_gateway_scrape_up{service="a"} 1' in lines


def test_a_service_that_is_down_is_skipped_and_reported() -> None:
    lines = merge_expositions({"a": A, "b": None}).splitlines()
    assert "process_open_fds 6" in lines  # now only one service has it
    assert 'pyrt_gateway_scrape_up{service="b"} 0' in lines
    assert 'pyrt_gateway_scrape_up{service="a"} 1' in lines


def test_the_real_service_registries_merge_into_a_valid_exposition() -> None:
    texts = {}
    for service in ("market_data", "risk_manager", "execution_engine", "signal_bridge"):
        metrics = service_metrics(service)
        if metrics.market_data is not None:
            metrics.market_data.websocket_connected.set(1)
        texts[service] = generate_latest(metrics.registry).decode()
    text = merge_expositions(texts)
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("market_data_websocket_connected")] == [
        "market_data_websocket_connected 1"
    ]
    assert "risk_circuit_breaker_active 0" in lines
    assert "execution_orders_submitted_total 0" in lines
    assert 'trading_messages_processed_total{service="signal_bridge"} 0' in lines
    meta = [line for line in lines if line.startswith("#")]
    assert len(meta) == len(set(meta))
    names = [f.name for f in text_string_to_metric_families(text)]
    assert len(names) == len(set(names))
