"""Every alert rule in monitoring/prometheus/alerts.yml stays quiet on a healthy system.

The whole system runs (processes, the sim broker, strategies trading); its metrics are
scraped per job as Prometheus would (each service's own /metrics, the control process's
pyrt_gateway_* only, `up` 1 for a target that answered), a few seconds apart. Those real
series become a promtool rule test: counters keep the rate they were seen to grow at,
gauges keep their value, for 45 minutes (longer than any rule's `for:`), and every rule of
alerts.yml must have no alert at several evaluation times. A metric that lies on a healthy
system (say execution_rate_limit_remaining left at 0) makes its rule fire and this fail."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from pyrt.config import load_config
from pyrt.ops.gateway import parse_exposition
from tests.support.deploy import REPO, wait_for

from .conftest import System
from .test_emergency import Operator

PROM = REPO / "monitoring" / "prometheus"
JOBS = ("market_data", "risk_manager", "execution_engine", "signal_bridge")
SCRAPES, EVERY_S = 3, 5.0
MINUTES = 45


def scrape(url: str, keep: str = "") -> dict[str, tuple[str, float]]:
    """series selector -> (family type, value) of one /metrics page."""
    out: dict[str, tuple[str, float]] = {}
    for family in parse_exposition(requests.get(url, timeout=5).text):
        for s in family.samples:
            if keep and not s.name.startswith(keep):
                continue
            value = float(s.value)
            if math.isfinite(value):
                labels = ",".join(f'{k}="{v}"' for k, v in s.labels)
                out[f"{s.name}{{{labels}}}" if labels else s.name] = (family.type or "untyped", value)
    return out


def with_target(series: str, job: str) -> str:
    """The series as Prometheus stores it: job and instance labels added."""
    extra = f'job="{job}",instance="{job}:0"'
    if series.endswith("}"):
        name, labels = series[:-1].split("{", 1)
        return f"{name}{{{labels},{extra}}}" if labels else f"{name}{{{extra}}}"
    return f"{series}{{{extra}}}"


def promtool_input(samples: list[dict[str, dict[str, tuple[str, float]]]]) -> list[dict[str, str]]:
    """promtool input_series, one value a minute for MINUTES: counters grow at the rate
    seen between the first and the last scrape, the rest keeps its last value."""
    first, last = samples[0], samples[-1]
    span_min = (SCRAPES - 1) * EVERY_S / 60
    series = []
    for job, page in last.items():
        series.append({"series": f'up{{job="{job}",instance="{job}:0"}}', "values": f"1x{MINUTES}"})
        for name, (kind, value) in page.items():
            start = first[job].get(name, (kind, value))[1]
            if kind in ("counter", "histogram", "summary") and not name.split("{")[0].endswith("_created"):
                per_min = max(0.0, value - start) / span_min
                values = f"{start:.6g}+{per_min:.6g}x{MINUTES}"
            else:
                values = f"{value:.6g}x{MINUTES}"
            series.append({"series": with_target(name, job), "values": values})
    return series


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool missing: scripts/dev/install_tools.sh")
def test_no_alert_fires_on_a_healthy_system(deployment: System, tmp_path: Path) -> None:
    system = deployment
    op = Operator(system)
    system.script("start_trading_system.sh", timeout=120)
    wait_for(lambda: op.intents() >= 2, 90, "the strategies to trade", 0.5)
    cfg = load_config(system.config_dir)
    m = cfg.system.metrics
    urls = {job: f"http://127.0.0.1:{m.port_for(job)}/metrics" for job in JOBS}
    samples = []
    for i in range(SCRAPES):
        page = {job: scrape(url) for job, url in urls.items()}
        page["control"] = scrape(f"http://127.0.0.1:{m.gateway}/metrics", keep="pyrt_gateway_")
        samples.append(page)
        if i < SCRAPES - 1:
            time.sleep(EVERY_S)  # the rates are measured over this real interval
    assert samples[-1]["execution_engine"]["execution_rate_limit_remaining"][1] > 10

    rules = [r["alert"] for g in yaml.safe_load((PROM / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    assert len(rules) > 20
    test = {
        "rule_files": [str(PROM / "alerts.yml")],
        "evaluation_interval": "30s",
        "tests": [
            {
                "interval": "1m",
                "input_series": promtool_input(samples),
                "alert_rule_test": [
                    {"eval_time": f"{t}m", "alertname": name, "exp_alerts": []} for t in (5, 15, 40) for name in rules
                ],
            }
        ],
    }
    path = tmp_path / "healthy_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run(
        ["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout[-4000:] + result.stderr[-4000:]
