"""`pyrt up` / `down` / `status` with fake services as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.supervisor.conftest import FAKE, SERVICES, Deployment
from tests.support.deploy import wait_for

STOP_ORDER = ["control", "signal_bridge", "execution_engine", "risk_manager", "market_data"]


def _started(stdout: str) -> list[str]:
    return [line.split()[1] for line in stdout.splitlines() if line.startswith("started ") and "pid" in line]


def _stopped(stdout: str) -> list[str]:
    return [line.split()[0] for line in stdout.splitlines() if " pid " in line and " in " in line]


def _gateway_port(dep: Deployment) -> int:
    return int(json.loads((dep.config_dir / "system.json").read_text())["metrics"]["gateway"])


def test_up_detached_then_status_gateway_and_down(sim_deployment: Deployment) -> None:
    dep = sim_deployment
    up = dep.up("--detach", "--safe-mode")
    assert up.returncode == 0, up.stdout + up.stderr
    assert _started(up.stdout) == ["sim_broker", *SERVICES, "control"]

    # each service started only after the previous one was ready, with PYRT_SAFE_MODE=1
    events = [e for e in dep.event_list() if e[0] in ("start", "ready")]
    assert events == [(kind, s) for s in SERVICES for kind in ("start", "ready")]
    assert all(line.endswith("safe=1") for line in dep.events.read_text().splitlines() if line.startswith("start"))

    again = dep.up("--detach")
    assert again.returncode == 1 and "already running" in again.stderr

    status = dep.pyrt("status", "--json")
    assert status.returncode == 0, status.stdout
    report = json.loads(status.stdout)
    by_name = {s["name"]: s for s in report["services"]}
    assert list(by_name) == ["sim_broker", *SERVICES, "control"]
    assert all(s["running"] and s["ready"] and s["pid"] for s in report["services"])
    assert by_name["market_data"]["metrics"]["market_data_websocket_connected"] == "1"

    with urllib.request.urlopen(f"http://127.0.0.1:{_gateway_port(dep)}/metrics", timeout=5) as response:
        text = response.read().decode()
    lines = text.splitlines()
    assert "market_data_websocket_connected 1" in lines
    assert "risk_checks_performed_total 7" in lines
    assert "execution_orders_submitted_total 3" in lines
    assert "execution_orders_filled_total 2" in lines
    assert 'trading_messages_processed_total{service="risk_manager"} 5' in lines
    assert any(line.startswith('process_cpu_seconds_total{service="signal_bridge"}') for line in lines)
    assert [f'pyrt_gateway_scrape_up{{service="{s}"}} 1' in lines for s in SERVICES] == [True] * 4
    meta = [line for line in lines if line.startswith(("# HELP", "# TYPE"))]
    assert len(meta) == len(set(meta))
    assert list(text_string_to_metric_families(text))  # valid exposition

    down = dep.pyrt("down", "--grace", "5")
    assert down.returncode == 0, down.stdout + down.stderr
    assert _stopped(down.stdout) == [*STOP_ORDER, "sim_broker"]
    assert "KILLED" not in down.stdout
    assert [s for kind, s in dep.event_list() if kind == "term"] == STOP_ORDER[1:]
    assert dep.pid_files() == []

    again = dep.pyrt("down")
    assert again.returncode == 0 and "nothing running" in again.stdout
    assert dep.pyrt("status").returncode == 3


def test_a_failing_service_stops_the_started_ones(deployment: Deployment) -> None:
    deployment.env["FAKE_FAIL"] = "risk_manager"
    up = deployment.up()
    assert up.returncode == 1
    assert "risk_manager exited with code 3 before it was ready" in up.stderr
    assert "failing on purpose" in up.stderr  # the tail of its output
    assert _started(up.stdout) == ["market_data"]
    assert _stopped(up.stdout) == ["market_data"]
    assert deployment.event_list() == [
        ("start", "market_data"),
        ("ready", "market_data"),
        ("start", "risk_manager"),
        ("term", "market_data"),
        ("exit", "market_data"),
    ]
    assert deployment.pid_files() == []


def test_a_service_that_is_never_ready_times_out(deployment: Deployment) -> None:
    deployment.env["FAKE_HANG"] = "market_data"
    began = time.monotonic()
    up = deployment.up("--ready-timeout", "1.5")
    assert up.returncode == 1
    assert "market_data was not ready within 1.5s" in up.stderr
    assert time.monotonic() - began < 10
    assert ("term", "market_data") in deployment.event_list()
    assert deployment.pid_files() == []


def test_down_stops_hand_started_services_and_kills_one_ignoring_sigterm(deployment: Deployment) -> None:
    deployment.env["FAKE_IGNORE_TERM"] = "execution_engine"
    by_hand = ("market_data", "execution_engine")
    procs = {s: deployment.spawn("run", s.replace("_", "-"), "--module", FAKE) for s in by_hand}
    deployment.wait_ready(*by_hand)

    began = time.monotonic()
    down = deployment.pyrt("down", "--grace", "1")
    assert down.returncode == 0, down.stdout + down.stderr
    assert time.monotonic() - began >= 1.0
    assert _stopped(down.stdout) == ["execution_engine", "market_data"]
    killed = [line.split()[0] for line in down.stdout.splitlines() if "KILLED" in line]
    assert killed == ["execution_engine"]
    assert procs["execution_engine"].wait(5) == -signal.SIGKILL
    assert procs["market_data"].wait(5) == 0
    assert deployment.pid_files() == []


def _wait_all_ready(dep: Deployment, proc: subprocess.Popen[str]) -> None:
    def ready() -> bool:
        assert proc.poll() is None, proc.communicate()
        return dep.ready("control")

    wait_for(ready, 20, "the whole system to be ready")


def test_foreground_up_without_restarts_stops_everything_when_a_child_dies(deployment: Deployment) -> None:
    deployment.set_system(supervisor={"restart": False})
    proc = deployment.spawn_up("--grace", "5")  # foreground, as `make run`
    _wait_all_ready(deployment, proc)
    os.kill(deployment.pid("risk_manager"), signal.SIGKILL)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, out + err
    assert "risk_manager" in err and "EXITED UNEXPECTEDLY: killed by SIGKILL" in err
    assert _stopped(out) == ["control", "signal_bridge", "execution_engine", "market_data"], out
    assert [s for kind, s in deployment.event_list() if kind == "exit"] == [
        "signal_bridge",
        "execution_engine",
        "market_data",
    ]
    assert deployment.pid_files() == []


def test_down_from_another_terminal_stops_a_foreground_up(deployment: Deployment) -> None:
    proc = deployment.spawn_up()
    _wait_all_ready(deployment, proc)
    down = deployment.pyrt("down")  # the supervisor must not take the exits for a crash
    assert down.returncode == 0, down.stdout + down.stderr
    assert _stopped(down.stdout) == STOP_ORDER
    assert "supervisor" in down.stdout
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, out + err
    assert "UNEXPECTEDLY" not in err
    assert [s for kind, s in deployment.event_list() if kind == "term"] == STOP_ORDER[1:]
    assert deployment.pid_files() == []


def test_stale_pid_files_are_detected_and_removed(deployment: Deployment) -> None:
    run = deployment.run_dir
    run.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    stranger = subprocess.Popen(["sleep", "30"])  # alive, but not a pyrt process
    try:
        (run / "market_data.pid").write_text(f"{gone.pid}\n")
        (run / "market_data.ready").write_text(json.dumps({"pid": gone.pid}))
        (run / "risk_manager.pid").write_text(f"{stranger.pid}\n")
        (run / "control.pid").write_text("garbage\n")

        status = deployment.pyrt("status", "--json")
        assert status.returncode == 3
        assert not any(s["running"] for s in json.loads(status.stdout)["services"])
        assert deployment.pid_files() == [] and not (run / "market_data.ready").exists()

        (run / "risk_manager.pid").write_text(f"{stranger.pid}\n")
        down = deployment.pyrt("down")
        assert down.returncode == 0 and "nothing running" in down.stdout
        assert stranger.poll() is None  # never signalled
    finally:
        stranger.kill()
        stranger.wait()
