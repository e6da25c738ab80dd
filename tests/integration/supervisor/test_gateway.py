"""The metrics gateway over HTTP, scraping two fake services' /metrics (and one that is down)."""

from __future__ import annotations

import urllib.request

from prometheus_client import Counter, Gauge
from prometheus_client.parser import text_string_to_metric_families

from pyrt.observability.metrics import new_registry, serve_metrics
from pyrt.ops.gateway import MetricsGateway, ScrapeTarget
from tests.support.deploy import free_port


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.read().decode()


def test_gateway_merges_two_services_and_reports_the_one_that_is_down() -> None:
    servers = []
    for name, value in (("alpha", 1), ("beta", 2.5)):
        registry = new_registry(process_metrics=True)
        Gauge(f"{name}_x", "unique to one service", registry=registry).set(1)
        Gauge("shared_level", "in both services", registry=registry).set(value)
        Counter("shared_events", "in both services", ["service"], registry=registry).labels(service=name).inc(4)
        servers.append((name, serve_metrics(registry, "127.0.0.1", 0)))
    targets = [ScrapeTarget(name, f"http://127.0.0.1:{server.port}/metrics") for name, server in servers]
    targets.append(ScrapeTarget("gamma", f"http://127.0.0.1:{free_port()}/metrics"))
    try:
        with MetricsGateway(lambda: targets, "127.0.0.1", 0, timeout_s=1.0) as gateway:
            text = _get(f"http://127.0.0.1:{gateway.port}/metrics")
    finally:
        for _, server in servers:
            server.close()
    lines = text.splitlines()
    assert "alpha_x 1" in lines and "beta_x 1" in lines
    assert "alpha_x 1.0" not in lines
    assert 'shared_level{service="alpha"} 1' in lines
    assert 'shared_level{service="beta"} 2.5' in lines
    assert 'shared_events_total{service="beta"} 4' in lines
    assert lines.count("# TYPE shared_level gauge") == 1
    assert lines.count("# TYPE process_cpu_seconds_total counter") == 1
    assert any(line.startswith('process_cpu_seconds_total{service="alpha"}') for line in lines)
    assert 'pyrt_gateway_scrape_up{service="gamma"} 0' in lines
    assert 'pyrt_gateway_scrape_up{service="alpha"} 1' in lines
    names = [f.name for f in text_string_to_metric_families(text)]
    assert len(names) == len(set(names))
