"""docker/: the compose file (parsed with PyYAML: there is no docker engine here), the
container configuration it mounts (loaded with pyrt.config.load_config as each container
sees it), the Prometheus targets, the Dockerfile and its health check script."""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from pyrt.config import load_config
from pyrt.config.types import zmq_tcp_host_port
from pyrt.observability.metrics import new_registry, serve_metrics
from pyrt.ops.status import canonical_target
from tests.integration.deploy.conftest import REPO, run, tool

DOCKER = REPO / "docker"
COMPOSE = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
SYSTEM = json.loads((DOCKER / "config" / "system.json").read_text())
PROMETHEUS = yaml.safe_load((REPO / "monitoring" / "prometheus" / "prometheus.yml").read_text())

TRADING = {  # compose service -> pyrt target
    "sim_broker_service": "sim_broker",
    "market_data_service": "market_data",
    "risk_manager_service": "risk_manager",
    "execution_engine_service": "execution_engine",
    "signal_bridge_service": "signal_bridge",
    "control_service": "control",
}
START_ORDER = ["market_data_service", "risk_manager_service", "execution_engine_service",
               "signal_bridge_service", "control_service"]
# Which process binds each ZeroMQ address (the others connect to it), from the services' code.
ZMQ_BINDER = {
    ("market_data", "zmq_publish_address"): "market_data",
    ("risk", "intent_endpoint"): "risk_manager",
    ("risk", "publish_address"): "risk_manager",
    ("execution", "order_endpoint"): "execution_engine",
    ("execution", "report_publish_address"): "execution_engine",
    ("signals", "publish_address"): "signal_bridge",
    ("signals", "control_endpoint"): "signal_bridge",
}
COMPOSE_OF = {target: name for name, target in TRADING.items()}


def metrics_port(target: str) -> int:
    return int(SYSTEM["metrics"]["gateway" if target == "control" else target])


def published(service: str) -> dict[int, int]:
    """{container port: host port} of a compose service; asserts every port is loopback-bound."""
    found = {}
    for spec in SERVICES[service].get("ports", []):
        assert isinstance(spec, str) and spec.startswith("127.0.0.1:"), f"{service}: {spec!r} is not 127.0.0.1-bound"
        _, host_port, container_port = spec.split(":")
        found[int(container_port)] = int(host_port)
    return found


# ----------------------------------------------------------------------------- compose
def test_compose_has_the_trading_services_prometheus_and_grafana() -> None:
    assert set(TRADING) | {"prometheus", "grafana", "alertmanager"} == set(SERVICES)
    for name, target in TRADING.items():
        assert SERVICES[name]["container_name"] == f"trading_{target}"  # `docker inspect trading_market_data`


@pytest.mark.parametrize("name", list(TRADING))
def test_trading_service_runs_pyrt(name: str) -> None:
    svc = SERVICES[name]
    command = svc["command"]
    assert command[0] == "run" and command[2:] == ["--config-dir", "/app/config"]
    assert canonical_target(command[1]) == TRADING[name]
    assert svc["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert svc["image"] == "py_rt:latest"
    assert svc["stop_signal"] == "SIGTERM"
    assert svc["stop_grace_period"].endswith("s") and int(svc["stop_grace_period"][:-1]) >= 10
    assert svc["restart"] == "unless-stopped"
    assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]


@pytest.mark.parametrize("name", list(TRADING))
def test_trading_service_volumes(name: str) -> None:
    targets = {}
    for spec in SERVICES[name]["volumes"]:
        source, target, *mode = spec.split(":")
        targets[target] = (source, mode)
    assert targets["/app/config/system.json"] == ("./config/system.json", ["ro"])
    assert targets["/app/config/risk_limits.toml"] == ("../config/risk_limits.toml", ["ro"])
    for state in ("logs", "data", "cache", "backups"):
        source, mode = targets[f"/app/{state}"]
        assert source in COMPOSE["volumes"] and mode == []  # named volume, writable
    for source, _ in targets.values():
        if source.startswith("."):
            assert (DOCKER / source).resolve().is_file(), source
    env_files = SERVICES[name]["env_file"]
    assert env_files == [{"path": "../.env", "required": False}]  # keys from .env, not from compose


def test_every_published_port_is_loopback_only() -> None:
    for name in SERVICES:
        published(name)


def test_published_ports_match_the_container_config() -> None:
    for name, target in TRADING.items():
        ports = published(name)
        if target == "sim_broker":
            assert ports == {SYSTEM["sim_broker"]["port"]: SYSTEM["sim_broker"]["port"]}
        elif target == "control":
            assert ports == {metrics_port("control"): 9190, SYSTEM["api"]["port"]: 8080}
        else:
            assert ports[metrics_port(target)] == metrics_port(target)
    assert published("prometheus") == {9090: 9090}  # the guide: Prometheus at localhost:9090
    assert published("grafana") == {3000: 3000}
    host_ports = [p for name in SERVICES for p in published(name).values()]
    assert len(host_ports) == len(set(host_ports))


def test_start_order_uses_healthchecks() -> None:
    for earlier, later in zip(START_ORDER, START_ORDER[1:]):
        deps = SERVICES[later]["depends_on"]
        assert deps[earlier] == {"condition": "service_healthy"}, later
    for client in ("market_data_service", "execution_engine_service"):  # the optional venue
        assert SERVICES[client]["depends_on"]["sim_broker_service"] == {"condition": "service_healthy",
                                                                         "required": False}


def test_grafana_password_comes_from_a_secret_never_admin_admin() -> None:
    grafana = SERVICES["grafana"]
    env = grafana["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    secret_path = env["GF_SECURITY_ADMIN_PASSWORD__FILE"]
    assert secret_path.startswith("/run/secrets/")
    secret = secret_path.removeprefix("/run/secrets/")
    assert secret in grafana["secrets"]
    assert COMPOSE["secrets"][secret]["file"].startswith("./secrets/")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    passwords = [v for svc in SERVICES.values() for k, v in (svc.get("environment") or {}).items()
                 if "PASSWORD" in k and not k.endswith("__FILE")]
    assert passwords == []  # no password in the compose file, admin/admin least of all
    gitignore = (DOCKER / "secrets" / ".gitignore").read_text().split()
    assert "*" in gitignore  # the secret is never committed


def test_init_secrets_writes_a_password_once(tmp_path: Path) -> None:
    shutil.copy(DOCKER / "init-secrets.sh", tmp_path)
    first = run(["bash", str(tmp_path / "init-secrets.sh")])
    assert first.returncode == 0, first.stderr
    password = (tmp_path / "secrets" / "grafana_admin_password").read_text().strip()
    assert len(password) >= 24 and password != "admin"
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    again = run(["bash", str(tmp_path / "init-secrets.sh")])
    assert again.returncode == 0 and "kept" in again.stdout
    assert (tmp_path / "secrets" / "grafana_admin_password").read_text().strip() == password


def test_monitoring_mounts_exist() -> None:
    for name in ("prometheus", "alertmanager", "grafana"):
        for spec in SERVICES[name]["volumes"]:
            source = spec.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).resolve().exists(), f"{name}: {source}"


# ------------------------------------------------------- docker-compose config (real tool)
def compose_copy(tmp_path: Path) -> Path:
    """The compose file and what it references, copied without any .env (so no real key can
    end up in the rendered model or a failure message). Returns the copied compose file."""
    for folder in ("docker", "monitoring", "config"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("secrets", "__pycache__"))
    return tmp_path / "docker" / "docker-compose.yml"


def docker_compose(compose_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_", "PYRT_", "APCA_", "ALPACA_"))}
    return subprocess.run([tool("docker-compose"), "-f", str(compose_file), *args], capture_output=True, text=True,
                          env=env, timeout=30, check=False)


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    result = docker_compose(compose_copy(tmp_path), "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    assert model["name"] == "py_rt"
    assert set(model["services"]) == set(SERVICES)
    for name, svc in model["services"].items():
        for port in svc.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)
    for name in TRADING:  # the anchor's settings reach every py_rt service
        svc = model["services"][name]
        targets = {v["target"] for v in svc["volumes"]}
        assert {"/app/logs", "/app/data", "/app/cache", "/app/backups", "/app/config/system.json",
                "/app/config/risk_limits.toml"} <= targets
        assert svc["read_only"] is True and svc["stop_signal"] == "SIGTERM"
    assert model["services"]["grafana"]["secrets"][0]["source"] == "grafana_admin_password"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("condition: service_healthy", "condition: service_healty"),
        ("stop_grace_period: 60s", "stop_grace_period: sixty"),
        ("    container_name: trading_control", "    container_nam: trading_control"),
    ],
)
def test_docker_compose_rejects_a_broken_file(tmp_path: Path, old: str, new: str) -> None:
    compose = compose_copy(tmp_path)
    text = compose.read_text()
    assert old in text
    compose.write_text(text.replace(old, new, 1))
    assert docker_compose(compose, "config", "--quiet").returncode != 0


# ----------------------------------------------------------------------------- config
def container_config(tmp_path: Path, service: str) -> Any:
    """The config as `service`'s container loads it: docker/config/system.json and
    config/risk_limits.toml in /app/config, the compose environment, no keys."""
    config_dir = tmp_path / service / "config"
    config_dir.mkdir(parents=True)
    shutil.copy(DOCKER / "config" / "system.json", config_dir)
    shutil.copy(REPO / "config" / "risk_limits.toml", config_dir)
    env = {"PYRT_ROOT": str(tmp_path / service)}
    env.update({k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()})
    return load_config(config_dir, env=env)


@pytest.mark.parametrize("name", list(TRADING))
def test_each_container_loads_its_config(tmp_path: Path, name: str) -> None:
    cfg = container_config(tmp_path, name)
    system = cfg.system
    target = TRADING[name]
    assert system.security.allow_non_loopback is True
    assert cfg.secrets.source == "sim-default"  # sim venue: runs without keys
    assert system.metrics.host == "0.0.0.0"  # Prometheus scrapes over the compose network
    venue = urlsplit(cfg.venue.trading_url)
    assert (venue.hostname, venue.port) == ("sim_broker_service", system.sim_broker.port)
    assert not cfg.venue.embedded_sim and not cfg.venue.live
    for (section, field), binder in ZMQ_BINDER.items():
        address = getattr(getattr(system, section), field)
        host_port = zmq_tcp_host_port(address)
        assert host_port is not None, address
        host, port = host_port
        assert port == zmq_tcp_host_port(SYSTEM[section][field])[1]  # type: ignore[index]
        if binder == target:
            assert host == "0.0.0.0", f"{name} binds {section}.{field}: {address}"
        else:
            assert host == COMPOSE_OF[binder], f"{name} connects {section}.{field} to {address}"
    if target == "sim_broker":
        assert system.sim_broker.host == "0.0.0.0"
    if target == "control":
        assert system.api.host == "0.0.0.0"


def test_only_binders_override_zmq_addresses() -> None:
    for name, target in TRADING.items():
        env = SERVICES[name].get("environment") or {}
        expected = {f"PYRT_{section.upper()}__{field.upper()}" for (section, field), binder in ZMQ_BINDER.items()
                    if binder == target}
        assert {k for k in env if k.startswith("PYRT_")} == expected, name


# ----------------------------------------------------------------------------- prometheus
def test_prometheus_targets_are_the_compose_services_and_metrics_ports() -> None:
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    scraped = set()
    for target in ("market_data", "risk_manager", "execution_engine", "signal_bridge", "control"):
        (address,) = jobs[target]["static_configs"][0]["targets"]
        host, port = address.rsplit(":", 1)
        assert host == COMPOSE_OF[target] and TRADING[host] == target
        assert int(port) == metrics_port(target)
        scraped.add(host)
    assert scraped == set(TRADING) - {"sim_broker_service"}
    (alertmanager,) = PROMETHEUS["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert alertmanager.split(":")[0] in SERVICES
    prom_cmd = SERVICES["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom_cmd
    assert "../monitoring/prometheus:/etc/prometheus:ro" in SERVICES["prometheus"]["volumes"]


def test_alertmanager_config_is_valid() -> None:
    result = run([tool("amtool"), "check-config", str(REPO / "monitoring" / "alertmanager" / "alertmanager.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------------------------- Dockerfile
def test_dockerfile() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms and all(line.split()[1] == "python:3.11-slim" for line in froms)
    assert "pip install -r /tmp/requirements.lock" in text
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") for line in lines) and "pyrt-healthcheck" in text
    assert 'ENTRYPOINT ["pyrt"]' in lines
    allowed = [line[1:] for line in (DOCKER / "Dockerfile.dockerignore").read_text().split() if line.startswith("!")]
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            source = line.split()[1]
            assert (REPO / source).exists(), source
            assert any(source == a or source.startswith(a.rstrip("/") + "/") for a in allowed), (
                f"{source} is excluded from the build context by Dockerfile.dockerignore")
    assert ".env" not in allowed


# ----------------------------------------------------------------------------- healthcheck
def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pyrt_healthcheck", DOCKER / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def metrics_port_open() -> Iterator[int]:
    server = serve_metrics(new_registry(process_metrics=False), "127.0.0.1", 0)
    try:
        yield server.port
    finally:
        server.close()


@pytest.fixture
def http_404_port() -> Iterator[int]:
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_healthcheck_finds_the_service_from_the_command_line() -> None:
    hc = load_healthcheck()
    assert hc.service_from_cmdline(["/opt/venv/bin/python", "/opt/venv/bin/pyrt", "run", "market-data",
                                    "--config-dir", "/app/config"]) == "market_data"
    assert hc.service_from_cmdline(["python", "-m", "pyrt", "run", "sim-broker"]) == "sim_broker"
    assert hc.service_from_cmdline(["sleep", "run", "x"]) is None


def test_healthcheck_needs_the_ready_file_and_a_metrics_answer(tmp_path: Path, metrics_port_open: int,
                                                                http_404_port: int) -> None:
    hc = load_healthcheck()
    assert "not written yet" in hc.check("market_data", tmp_path)
    (tmp_path / "market_data.ready").write_text(json.dumps({"service": "market_data", "metrics_port": metrics_port_open}))
    assert hc.check("market_data", tmp_path) is None
    (tmp_path / "risk_manager.ready").write_text(json.dumps({"metrics_port": http_404_port}))
    assert "answered 404" in hc.check("risk_manager", tmp_path)
    (tmp_path / "sim_broker.ready").write_text(f"{http_404_port}\n")  # any HTTP answer will do
    assert hc.check("sim_broker", tmp_path) is None
    (tmp_path / "signal_bridge.ready").write_text(json.dumps({"metrics_port": 1}))  # nothing listens
    assert hc.check("signal_bridge", tmp_path) is not None


def test_healthcheck_script_exit_codes(tmp_path: Path, metrics_port_open: int) -> None:
    (tmp_path / "run").mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYRT_ROOT": str(tmp_path), "PYRT_HEALTH_SERVICE": "control"}
    script = [sys.executable, str(DOCKER / "healthcheck.py")]
    down = subprocess.run(script, env=env, capture_output=True, text=True, timeout=20, check=False)
    assert down.returncode == 1 and "control unhealthy" in down.stderr
    (tmp_path / "run" / "control.ready").write_text(json.dumps({"metrics_port": metrics_port_open}))
    up = subprocess.run(script, env=env, capture_output=True, text=True, timeout=20, check=False)
    assert up.returncode == 0 and "control healthy" in up.stdout
