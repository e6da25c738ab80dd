"""monitoring/prometheus: promtool accepts the configs and the rules, the rule unit tests
pass (and fail when a guide rule is weakened), and the guide's three rules are in
alerts.yml exactly as the operations guide writes them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.deploy.conftest import REPO, run, tool

PROM = REPO / "monitoring" / "prometheus"
GUIDE = REPO.parent / "shared" / "spec" / "operations-guide.md"
GUIDE_ALERTS = ("HighErrorRate", "CircuitBreakerActive", "MarketDataDisconnected")


def promtool(*args: str, cwd: Path = PROM) -> str:
    result = run([tool("promtool"), *args], cwd=cwd)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-native.yml"])
def test_promtool_check_config(config: str) -> None:
    out = promtool("check", "config", config)
    assert "1 rule files found" in out


def test_promtool_check_rules() -> None:
    promtool("check", "rules", "alerts.yml")


def test_promtool_rule_unit_tests_pass() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("expr: rate(trading_errors_total[5m]) > 10\n        for: 5m", "expr: rate(trading_errors_total[5m]) > 10\n        for: 1m"),
        ("expr: rate(trading_errors_total[5m]) > 10", "expr: rate(trading_errors_total[5m]) > 1"),
        ("expr: risk_circuit_breaker_active == 1\n        for: 1m", "expr: risk_circuit_breaker_active == 1\n        for: 0m"),
        ("expr: market_data_websocket_connected == 0\n        for: 2m", "expr: market_data_websocket_connected == 0\n        for: 30s"),
        ("expr: market_data_websocket_connected == 0", "expr: market_data_websocket_connected < 1.5"),
    ],
)
def test_rule_unit_tests_catch_a_weakened_guide_rule(tmp_path: Path, old: str, new: str) -> None:
    text = (PROM / "alerts.yml").read_text()
    assert old in text
    (tmp_path / "alerts.yml").write_text(text.replace(old, new, 1))
    shutil.copy(PROM / "alerts_test.yml", tmp_path)
    result = run([tool("promtool"), "test", "rules", "alerts_test.yml"], cwd=tmp_path)
    assert result.returncode != 0, result.stdout


def guide_alert_rules() -> list[dict[str, Any]]:
    """The rules of the guide's "Configure Alert Rules" YAML block."""
    if not GUIDE.is_file():
        pytest.fail(f"the operations guide is expected at {GUIDE}")
    text = GUIDE.read_text()
    start = text.index("Edit monitoring/prometheus/alerts.yml:")
    block = text[start:text.index("Alert Notification Channels", start)]
    block = block[block.index("groups:"):]
    data = yaml.safe_load(block)
    return list(data["groups"][0]["rules"])


def test_guide_rules_are_in_alerts_yml_exactly() -> None:
    ours = yaml.safe_load((PROM / "alerts.yml").read_text())
    group = next(g for g in ours["groups"] if g["name"] == "trading_alerts")
    assert group["interval"] == "30s"
    guide = guide_alert_rules()
    assert [r["alert"] for r in guide] == list(GUIDE_ALERTS)
    by_name = {r["alert"]: r for r in group["rules"]}
    for rule in guide:
        assert by_name[rule["alert"]] == rule


def test_every_alert_has_severity_and_summary() -> None:
    ours = yaml.safe_load((PROM / "alerts.yml").read_text())
    names = []
    for group in ours["groups"]:
        for rule in group["rules"]:
            names.append(rule["alert"])
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]
    assert len(names) == len(set(names))


def test_native_config_mirrors_the_docker_one() -> None:
    docker = yaml.safe_load((PROM / "prometheus.yml").read_text())
    native = yaml.safe_load((PROM / "prometheus-native.yml").read_text())
    system = yaml.safe_load((REPO / "config" / "system.json").read_text())
    assert [j["job_name"] for j in docker["scrape_configs"]] == [j["job_name"] for j in native["scrape_configs"]]
    for job in native["scrape_configs"]:
        (target,) = job["static_configs"][0]["targets"]
        host, port = target.rsplit(":", 1)
        assert host == "127.0.0.1"
        if job["job_name"] in system["metrics"]:
            assert int(port) == system["metrics"][job["job_name"]]
        elif job["job_name"] == "control":
            assert int(port) == system["metrics"]["gateway"]
    assert docker["global"]["scrape_interval"] == native["global"]["scrape_interval"] == "5s"
    assert re.fullmatch(r"\d+s", docker["global"]["evaluation_interval"])
