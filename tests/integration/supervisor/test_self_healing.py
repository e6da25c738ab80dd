"""The supervisor heals (fake services as real processes): a killed process is restarted and
counted (`pyrt status`, the gateway's `supervisor_restarts_total`), one that keeps crashing
stops the system with an alert after the limit, and `pyrt start|stop|restart SERVICE` work
on a detached system."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from typing import Any

from tests.integration.notify.receivers import WebhookReceiver
from tests.integration.supervisor.conftest import Deployment
from tests.support.deploy import wait_for


def _status(dep: Deployment) -> dict[str, dict[str, object]]:
    report = json.loads(dep.pyrt("status", "--json").stdout)
    return {s["name"]: s for s in report["services"]}


def _restarted(dep: Deployment, name: str, old_pid: int) -> bool:
    try:
        return dep.pid(name) != old_pid and dep.ready(name)
    except (FileNotFoundError, ValueError):
        return False


def _system(dep: Deployment) -> dict[str, Any]:
    return dict(json.loads((dep.config_dir / "system.json").read_text()))


def _post(url: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=b"{}", method="POST", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_killed_service_is_restarted_and_counted(deployment: Deployment) -> None:
    dep = deployment
    dep.set_system(supervisor={"restart_delay_s": 0.1})
    proc = dep.spawn_up("--grace", "3")  # foreground, as `make run`
    wait_for(lambda: proc.poll() is None and dep.ready("control"), 30, "the whole system to be ready")

    old = dep.pid("risk_manager")
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: _restarted(dep, "risk_manager", old), 20, "risk_manager to be restarted")
    assert proc.poll() is None, "the supervisor must keep running"

    by_name = _status(dep)
    assert by_name["risk_manager"]["restarts"] == 1 and by_name["risk_manager"]["running"]
    assert {n: s["restarts"] for n, s in by_name.items() if n != "risk_manager"} == dict.fromkeys(
        ("market_data", "execution_engine", "signal_bridge", "control"), 0
    )
    assert "RESTARTS" in dep.pyrt("status").stdout
    port = _system(dep)["metrics"]["gateway"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    assert 'supervisor_restarts_total{service="risk_manager"} 1' in lines
    assert 'supervisor_restarts_total{service="market_data"} 0' in lines

    assert dep.pyrt("down", "--grace", "3").returncode == 0
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, out + err
    assert "EXITED UNEXPECTEDLY: killed by SIGKILL" in err and "restarting risk_manager in 0.1s" in err
    assert [s for kind, s in dep.event_list() if kind == "start"].count("risk_manager") == 2


def test_a_service_that_keeps_crashing_stops_the_system_with_an_alert(deployment: Deployment) -> None:
    dep = deployment
    hook = WebhookReceiver()
    try:
        dep.set_system(
            supervisor={"restart_delay_s": 0.05, "restart_limit": 2, "restart_window_s": 60},
            notifications={"webhook_url": hook.url()},
        )
        dep.env["FAKE_CRASH"] = "signal_bridge"
        up = dep.up("--grace", "3", timeout=60)
        assert up.returncode == 1, up.stdout + up.stderr
        assert up.stderr.count("signal_bridge") and up.stderr.count("EXITED UNEXPECTEDLY: exited with code 1") == 3
        assert "giving up: signal_bridge died again after 2 restarts within 60s (limit 2)" in up.stderr
        assert "stopping the whole system" in up.stderr
        assert [s for kind, s in dep.event_list() if kind == "start"].count("signal_bridge") == 3
        assert dep.pid_files() == []
        wait_for(lambda: hook.posts, 5, "the alert")
        (path, body), *more = hook.posts
        assert not more and path == "/hook"
        text = json.dumps(body)
        assert "signal_bridge keeps crashing: system stopped" in text and "exited with code 1" in text
    finally:
        hook.close()


def test_stop_start_restart_one_service_of_a_detached_system(deployment: Deployment) -> None:
    dep = deployment
    dep.set_system(supervisor={"restart_delay_s": 0.05})
    up = dep.up("--detach", "--grace", "3")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "system running detached" in up.stdout

    # the background supervisor heals too
    old = dep.pid("execution_engine")
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: _restarted(dep, "execution_engine", old), 20, "execution_engine to be restarted")

    stop = dep.pyrt("stop", "market-data")
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert "market_data" in stop.stdout and "held down until `pyrt start market_data`" in stop.stdout
    assert ("term", "market_data") in dep.event_list() and not dep.ready("market_data")

    bridge = dep.pid("signal_bridge")
    restart = dep.pyrt("restart", "signal-bridge")
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert (
        "signal_bridge started" in restart.stdout and dep.pid("signal_bridge") != bridge and dep.ready("signal_bridge")
    )
    by_name = _status(dep)
    assert not by_name["market_data"]["running"] and by_name["market_data"]["supervised"] == "held"
    assert "stopped (held)" in dep.pyrt("status").stdout
    assert by_name["signal_bridge"]["restarts"] == 0  # asked for: not a crash
    assert by_name["execution_engine"]["restarts"] == 1

    start = dep.pyrt("start", "market-data")
    assert start.returncode == 0, start.stdout + start.stderr
    assert dep.ready("market_data") and _status(dep)["market_data"]["running"]

    # the same through the control API (one facade under both)
    api = f"http://127.0.0.1:{_system(dep)['api']['port']}/api/v1/services"
    token = (dep.root / "data" / "api_token").read_text().strip()
    bridge = dep.pid("signal_bridge")
    code, body = _post(f"{api}/signal-bridge/restart", token)
    assert code == 200 and body["service"] == "signal_bridge" and dep.pid("signal_bridge") != bridge, body
    code, body = _post(f"{api}/signal-brige/restart", token)
    assert code == 422 and "valid services: market-data" in body["detail"], body

    unknown = dep.pyrt("restart", "signal-brige")
    assert unknown.returncode == 2
    assert "valid services: market-data, risk-manager, execution-engine, signal-bridge, control" in unknown.stderr

    assert dep.pyrt("down", "--grace", "3").returncode == 0
    gone = dep.pyrt("restart", "signal-bridge")
    assert gone.returncode == 1 and "the system is not running under `pyrt up`" in gone.stderr  # refused: 409
