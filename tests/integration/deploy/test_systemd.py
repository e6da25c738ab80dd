"""deploy/systemd: the units render from the templates, pass `systemd-analyze verify`
(any warning counts as a failure, and a broken unit is shown to fail), run `pyrt run
<service>` from the install root, start in the guide's order and carry the restart,
reload, stop and hardening settings."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pyrt.ops.status import canonical_target
from tests.integration.deploy.conftest import DEPLOY, INSTALL_SH, REPO, render, run, tool
from tests.support.deploy import make_deployment, wait_for

SYSTEMD = DEPLOY / "systemd"
DEFAULT_ROOT = "/opt/RustAlgorithmTrading"
SERVICES = {  # unit name -> (pyrt run argument, ready/log file name)
    "trading-market-data": ("market-data", "market_data"),
    "trading-risk-manager": ("risk-manager", "risk_manager"),
    "trading-execution-engine": ("execution-engine", "execution_engine"),
    "trading-signal-bridge": ("signal-bridge", "signal_bridge"),
    "trading-control": ("control", "control"),
    "trading-sim-broker": ("sim-broker", "sim_broker"),
}
GUIDE_ORDER = ["trading-market-data", "trading-risk-manager", "trading-execution-engine",
               "trading-signal-bridge", "trading-control"]
UNIT_FILES = [f"{name}.service" for name in SERVICES] + ["trading.target"]


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values in order]}} of a unit file (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path}: key outside a section: {line}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit.get(section, {}).get(key, [])
    assert len(values) == 1, f"[{section}] {key}: expected one value, got {values}"
    return values[0]


def words(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> list[str]:
    return [w for value in unit.get(section, {}).get(key, []) for w in value.split()]


def verify(unit_dir: Path, names: list[str]) -> list[str]:
    """Problems `systemd-analyze verify` reports for the units (empty: clean). Warnings such
    as "Unknown key ... ignoring" exit 0 but are problems here."""
    result = run([tool("systemd-analyze"), "verify", "--man=no", *names], cwd=unit_dir)
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    if result.returncode != 0 and not lines:
        lines = [f"systemd-analyze verify exited {result.returncode}"]
    return lines


@pytest.fixture(scope="module")
def repo_units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units rendered with the repository as the install root (so ExecStart is the real
    .venv/bin/pyrt) and the current user, which exists on this machine."""
    dest = tmp_path_factory.mktemp("units")
    render(REPO, dest)
    return dest


def test_shipped_units_are_the_templates_rendered_for_the_guide_root(tmp_path: Path) -> None:
    render(Path(DEFAULT_ROOT), tmp_path / "units", user="trading", group="trading",
           logrotate_dest=tmp_path / "logrotate")
    for name in UNIT_FILES:
        assert (tmp_path / "units" / name).read_text() == (SYSTEMD / name).read_text(), (
            f"deploy/systemd/{name} differs from its template: re-render with deploy/systemd/install.sh "
            f"--root {DEFAULT_ROOT} --user trading --dest deploy/systemd --logrotate-dest deploy/logrotate --no-dirs")
    assert (tmp_path / "logrotate" / "trading-system").read_text() == (DEPLOY / "logrotate" / "trading-system").read_text()
    rendered = {p.name for p in (tmp_path / "units").iterdir()}
    assert rendered == set(UNIT_FILES)


def test_rendered_units_pass_systemd_analyze_verify(repo_units: Path) -> None:
    assert verify(repo_units, UNIT_FILES) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Restart=on-failure", "Restat=on-failure"),  # misspelt key
        ("Restart=on-failure", "Restart=sometimes"),  # invalid value
        ("TimeoutStopSec=30", "TimeoutStopSec=thirty"),
        ("ExecStart=/", "ExecStart=relative/"),  # not an absolute path
        (".venv/bin/pyrt run", ".venv/bin/no-such-pyrt run"),  # missing binary
    ],
)
def test_verify_rejects_a_broken_unit(repo_units: Path, tmp_path: Path, old: str, new: str) -> None:
    text = (repo_units / "trading-risk-manager.service").read_text()
    assert old in text
    (tmp_path / "trading-risk-manager.service").write_text(text.replace(old, new, 1))
    assert verify(tmp_path, ["trading-risk-manager.service"]) != []


def test_shipped_units_reference_the_guide_install_root() -> None:
    for name in SERVICES:
        unit = parse_unit(SYSTEMD / f"{name}.service")
        assert one(unit, "Service", "ExecStart").startswith(f"{DEFAULT_ROOT}/.venv/bin/pyrt run ")
        assert one(unit, "Service", "User") == "trading"
        assert one(unit, "Service", "Group") == "trading"


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_unit_settings(repo_units: Path, name: str) -> None:
    root = str(REPO)
    target, file_name = SERVICES[name]
    unit = parse_unit(repo_units / f"{name}.service")
    svc = unit["Service"]

    exec_start = one(unit, "Service", "ExecStart")
    assert exec_start == f"{root}/.venv/bin/pyrt run {target} --config-dir {root}/config"
    assert canonical_target(target) == file_name  # `pyrt run` accepts the name
    assert one(unit, "Service", "WorkingDirectory") == root
    assert f"PYRT_ROOT={root}" in svc["Environment"]
    assert one(unit, "Service", "EnvironmentFile") == f"-{root}/.env"
    for value in svc["Environment"]:  # secrets only come from the .env file
        assert not any(word in value.upper() for word in ("KEY", "SECRET", "TOKEN", "PASSWORD")), value

    assert one(unit, "Service", "Restart") == "on-failure"
    assert int(one(unit, "Unit", "StartLimitBurst")) >= 1
    assert int(one(unit, "Unit", "StartLimitIntervalSec")) > 0
    assert one(unit, "Service", "RestartPreventExitStatus") == "2"  # config error: no restart loop
    if name == "trading-sim-broker":  # no SIGHUP handler there: a reload would kill it
        assert "ExecReload" not in svc
    else:
        assert one(unit, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    assert 10 <= int(one(unit, "Service", "TimeoutStopSec")) <= 120

    ready = f"{root}/run/{file_name}.ready"
    assert one(unit, "Service", "ExecStartPre") == f"/bin/rm -f {ready}"
    assert one(unit, "Service", "ExecStartPost").startswith(f"{root}/deploy/systemd/wait-ready.sh {ready} ")
    assert int(one(unit, "Service", "ExecStartPost").split()[-1]) < int(one(unit, "Service", "TimeoutStartSec"))

    assert one(unit, "Service", "NoNewPrivileges") == "yes"
    assert one(unit, "Service", "ProtectSystem") == "strict"
    assert one(unit, "Service", "PrivateTmp") == "yes"
    writable = set(words(unit, "Service", "ReadWritePaths"))
    assert writable == {f"{root}/{d}" for d in ("logs", "data", "cache", "run", "backups")}
    assert one(unit, "Install", "WantedBy") == "multi-user.target"  # `systemctl enable` = at boot
    assert one(unit, "Unit", "PartOf") == "trading.target"


def test_start_order_follows_the_guide(repo_units: Path) -> None:
    """After= puts market-data, risk-manager, execution-engine, signal-bridge, control in the
    guide's order (systemd stops in the reverse order), and Wants= makes starting one unit
    pull in the ones before it."""
    after = {name: set(words(parse_unit(repo_units / f"{name}.service"), "Unit", "After")) for name in SERVICES}
    wants = {name: set(words(parse_unit(repo_units / f"{name}.service"), "Unit", "Wants")) for name in SERVICES}

    def before(a: str, b: str, seen: frozenset[str] = frozenset()) -> bool:
        """True if unit a is ordered (transitively) before unit b."""
        direct = {u.removesuffix(".service") for u in after[b] if u.startswith("trading-")}
        return a in direct or any(before(a, d, seen | {b}) for d in direct - seen if d in after)

    for earlier, later in zip(GUIDE_ORDER, GUIDE_ORDER[1:]):
        assert before(earlier, later), f"{earlier} must start before {later}"
        assert not before(later, earlier), f"ordering cycle between {earlier} and {later}"
    # the optional sim broker (when started too) comes before its clients
    assert before("trading-sim-broker", "trading-market-data")
    assert before("trading-sim-broker", "trading-execution-engine")

    def pulled(name: str) -> set[str]:
        out: set[str] = set()
        for unit in wants[name]:
            base = unit.removesuffix(".service")
            if base in SERVICES and base not in out:
                out |= {base} | pulled(base)
        return out

    assert pulled("trading-signal-bridge") == set(GUIDE_ORDER[:3])
    assert "trading-sim-broker" not in pulled("trading-signal-bridge")  # the sim venue is optional

    target = parse_unit(repo_units / "trading.target")
    assert set(words(target, "Unit", "Wants")) == {f"{n}.service" for n in GUIDE_ORDER}
    assert one(target, "Install", "WantedBy") == "multi-user.target"


# ----------------------------------------------------------------------------- wait-ready
WAIT_READY = SYSTEMD / "wait-ready.sh"


def _wait_ready(ready: Path, limit: int, mainpid: int | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MAINPID"}
    if mainpid is not None:
        env["MAINPID"] = str(mainpid)
    return subprocess.run([str(WAIT_READY), str(ready), str(limit)], env=env, capture_output=True, text=True,
                          timeout=20, check=False)


def test_wait_ready_returns_once_the_ready_file_appears(tmp_path: Path) -> None:
    ready = tmp_path / "market_data.ready"
    sleeper = subprocess.Popen(["sh", "-c", f"sleep 0.5; echo '{{}}' > {ready}; sleep 30"])
    try:
        started = time.monotonic()
        result = _wait_ready(ready, 10, sleeper.pid)
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - started < 5
    finally:
        sleeper.kill()
        sleeper.wait()


def test_wait_ready_fails_when_the_service_exits_first(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    result = _wait_ready(tmp_path / "never.ready", 10, dead.pid)
    assert result.returncode == 1
    assert "exited before" in result.stderr


def test_wait_ready_leaves_a_slow_service_running(tmp_path: Path) -> None:
    result = _wait_ready(tmp_path / "never.ready", 1, os.getpid())
    assert result.returncode == 0
    assert "WARNING" in result.stderr


def test_install_refuses_unsafe_roots_and_names(tmp_path: Path) -> None:
    for args in (["--root", "relative/dir"], ["--root", "/opt/with space"], ["--root", "/opt/a|b"],
                 ["--root", "/opt/x", "--user", "bad user"], ["--root", "/"]):
        result = run(["bash", str(INSTALL_SH), *args, "--dest", str(tmp_path), "--no-logrotate", "--no-dirs"])
        assert result.returncode == 2, args
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ the units' commands, run
@pytest.mark.parametrize("name", ["trading-control", "trading-sim-broker"])
def test_unit_commands_run_as_systemd_would(tmp_path: Path, name: str) -> None:
    """Without a running systemd, do what it would do with the rendered unit for an install
    root: ExecStartPre, ExecStart in WorkingDirectory with Environment=, ExecStartPost with
    $MAINPID (returns once the process is ready), ExecReload, then KillSignal and a clean
    exit within TimeoutStopSec. (The control process and the sim broker need no broker.)"""
    root = tmp_path / "root"
    make_deployment(root)
    (root / ".venv").symlink_to(REPO / ".venv")
    (root / "deploy").symlink_to(REPO / "deploy")
    render(root, tmp_path / "units", dirs=True)
    unit = parse_unit(tmp_path / "units" / f"{name}.service")
    svc = unit["Service"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYRT_", "APCA_", "ALPACA_"))}
    env.update(v.split("=", 1) for v in svc["Environment"])  # type: ignore[arg-type]
    ready = root / "run" / f"{SERVICES[name][1]}.ready"
    ready.write_text("stale")  # left by a killed run: ExecStartPre must remove it

    assert subprocess.run(shlex.split(one(unit, "Service", "ExecStartPre")), env=env, check=False).returncode == 0
    assert not ready.exists()
    log = (tmp_path / "stderr.log").open("w")
    proc = subprocess.Popen(shlex.split(one(unit, "Service", "ExecStart")), cwd=one(unit, "Service", "WorkingDirectory"),
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        post = subprocess.run(shlex.split(one(unit, "Service", "ExecStartPost")), env={**env, "MAINPID": str(proc.pid)},
                              capture_output=True, text=True, timeout=int(one(unit, "Service", "TimeoutStartSec")),
                              check=False)
        assert post.returncode == 0 and "ready" in post.stdout and "WARNING" not in post.stderr, (
            post.stderr + (tmp_path / "stderr.log").read_text())
        assert ready.exists() and proc.poll() is None
        if "ExecReload" in svc:
            reload = one(unit, "Service", "ExecReload").replace("$MAINPID", str(proc.pid))
            assert subprocess.run(shlex.split(reload), check=False).returncode == 0
            wait_for(lambda: "reload" in (root / "logs" / "control.log").read_text().lower(), 10, "reload logged")
            assert proc.poll() is None  # SIGHUP reloads, it does not kill
        assert one(unit, "Service", "KillSignal") == "SIGTERM"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=int(one(unit, "Service", "TimeoutStopSec"))) == 0
        assert not ready.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
