"""Every metric name in the alert rules and the Grafana dashboards is one the services
expose (src/pyrt/observability/metrics.py, or process_*/python_* from the process
collectors, or Prometheus' own `up`), and label matchers use labels those metrics have."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.unit.deploy.promql import TARGET_LABELS, exposed_metrics, metric_names, selector_labels

REPO = Path(__file__).resolve().parents[3]
DASHBOARDS = REPO / "monitoring" / "grafana-dashboards"
ALERTS = REPO / "monitoring" / "prometheus" / "alerts.yml"


def alert_exprs() -> list[tuple[str, str]]:
    data = yaml.safe_load(ALERTS.read_text())
    return [(f"alert {r['alert']}", r["expr"]) for g in data["groups"] for r in g["rules"]]


def dashboard_exprs() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                found.append((f"{path.name}: {panel['title']}", target["expr"]))
    return found


EXPRS = alert_exprs() + dashboard_exprs()


def test_the_parser_finds_names_and_skips_the_rest() -> None:
    expr = ('histogram_quantile(0.99, sum by (job, le) (rate(execution_submit_latency_seconds_bucket{job="x"}[5m])))'
            ' > 800e6 and on (job) up == 1 or max(abs(trading_position_size)) / on () group_left () risk_max_position_size')
    assert metric_names(expr) == {"execution_submit_latency_seconds_bucket", "up", "trading_position_size",
                                  "risk_max_position_size"}
    assert metric_names('time() - process_start_time_seconds{job=~"a|b"}') == {"process_start_time_seconds"}
    assert selector_labels('x_total{status="failed", job=~"a"}') == [("x_total", {"status", "job"})]


def test_the_registry_has_the_guide_names() -> None:
    exposed = exposed_metrics()
    for name in ("market_data_websocket_connected", "risk_circuit_breaker_active", "trading_errors_total",
                 "execution_submit_latency_seconds_bucket", "process_resident_memory_bytes",
                 "python_gc_collections_total", "risk_checks_failed_total"):
        assert name in exposed
    assert {"service", "kind"} <= exposed["trading_errors_total"]
    assert "reason" in exposed["risk_checks_failed_total"]
    assert "no_such_metric_total" not in exposed


def test_there_is_something_to_check() -> None:
    assert len(alert_exprs()) >= 20
    assert len(dashboard_exprs()) >= 50


@pytest.mark.parametrize(("where", "expr"), EXPRS, ids=[w for w, _ in EXPRS])
def test_metric_names_exist(where: str, expr: str) -> None:
    exposed = exposed_metrics()
    names = metric_names(expr)
    assert names, f"{where}: no metric in {expr!r}"
    unknown = sorted(n for n in names if n not in exposed)
    assert not unknown, f"{where}: {unknown} not exposed by any py_rt service ({expr})"
    for name, labels in selector_labels(expr):
        missing = labels - exposed[name] - TARGET_LABELS
        assert not missing, f"{where}: {name} has no label {sorted(missing)}"
