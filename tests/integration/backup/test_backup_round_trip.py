"""Backup and restore of a deployment, through `pyrt` processes and the scripts/ wrappers.

A thread stands in for the running execution engine (appending journal transactions of three
records) and the sim broker (committing to its db) while `pyrt backup` runs: the archived
journal must pass the integrity check and be a prefix of the live one that ends on a
transaction boundary. Then the data and config change, a restore refuses while a py_rt
process holds a pid file, succeeds once it is gone, and the restored journal equals the
archived one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from pyrt.config import load_config
from pyrt.domain.intents import OrderIntent
from pyrt.ops.backup import Layout, is_secret_file
from pyrt.persistence.journal import Journal
from pyrt.simbroker.store import SimStore
from tests.support.deploy import REPO, make_deployment, wait_for

PYRT = str(REPO / ".venv" / "bin" / "pyrt") if (REPO / ".venv" / "bin" / "pyrt").exists() else "pyrt"
TOKEN = "t" * 40
BATCH = 3


def pyrt(*args: str, config_dir: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYRT, *args, "--config-dir", str(config_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def script(name: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO / "scripts" / name), *args],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def rows(path: Path) -> list[tuple[int, int, str, str, dict]]:
    with Journal(path, read_only=True) as journal:
        return [(r.seq, r.ts_ns, r.kind, r.client_order_id, r.payload) for r in journal.iter_records()]


class Engine(threading.Thread):
    """Appends BATCH audit records per transaction and commits to the sim broker db until stopped."""

    def __init__(self, layout: Layout) -> None:
        super().__init__(daemon=True)
        self.layout = layout
        self.stop = threading.Event()
        self.last_seq = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            store = SimStore(self.layout.sim_broker_dir)
            with Journal(self.layout.journal_path, synchronous="NORMAL") as journal:
                n = 0
                while not self.stop.wait(0.002):  # about the pace of a busy engine, not a tight loop
                    n += 1
                    records = journal.append_records([("audit", "", {"batch": n, "i": i}) for i in range(BATCH)])
                    store.set_meta("batch", str(n))
                    self.last_seq = records[-1].seq
            store.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, Layout]]:
    config_dir = make_deployment(tmp_path)
    env_file = tmp_path / ".env"
    env_file.write_text(f"PYRT_API_TOKEN={TOKEN}\n")
    os.chmod(env_file, 0o600)
    (config_dir / ".env.local").write_text(f"PYRT_API_READ_TOKEN={TOKEN}\n")
    os.chmod(config_dir / ".env.local", 0o600)
    layout = Layout.from_config(load_config(config_dir))
    # an order that left a position, and the risk manager's matching saved state
    with Journal(layout.journal_path) as journal:
        intent = OrderIntent(
            intent_id="a",
            strategy="s",
            symbol="AAPL",
            side="buy",  # type: ignore[arg-type]
            qty=D(10),
        )
        journal.append("intent", "s-a-0", intent)
        journal.append("submit_sent", "s-a-0", {})
        journal.append("fill", "s-a-0", {"execution_id": "x1", "qty": "10", "price": "100", "position_qty": "10"})
    layout.risk_state_path.write_text(json.dumps({"book": {"positions": {"AAPL": {"qty": "10"}}}}))
    layout.logs_dir.mkdir(parents=True, exist_ok=True)
    (layout.logs_dir / "execution_engine.log").write_text("order s-a-0 filled\n" * 200)
    yield config_dir, layout


def test_backup_while_running_then_restore(site: tuple[Path, Layout], tmp_path: Path) -> None:
    config_dir, layout = site
    engine = Engine(layout)
    engine.start()
    fake = None
    try:
        wait_for(lambda: engine.last_seq >= 3 + 20 * BATCH, timeout=10, what="journal writes")
        before = engine.last_seq
        done = script("backup_system.sh", "--config-dir", str(config_dir), "--keep", "5")
        assert done.returncode == 0, done.stderr
        after = engine.last_seq
        wait_for(lambda: engine.last_seq > after, timeout=10, what="writes after the backup")
    finally:
        engine.stop.set()
        engine.join(10)
    assert engine.error is None, engine.error
    archive = Path(done.stdout.split("backup written: ", 1)[1].split(" (", 1)[0])
    assert archive.parent == layout.backups_dir and archive.is_file()

    # the archived journal: intact, a prefix of the live one, cut on a transaction boundary
    extracted = tmp_path / "extracted"
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(extracted, filter="data")
        names = tar.getnames()
    manifest = json.loads((extracted / "MANIFEST").read_text())
    last = manifest["journal"]["last_seq"]
    assert before < after, "the engine wrote while the backup ran"
    assert before <= last <= after and (last - 3) % BATCH == 0
    with Journal(extracted / "data" / "journal.db", read_only=True) as copy:
        assert copy.integrity_check() == []
    backed_up = rows(extracted / "data" / "journal.db")
    assert backed_up == rows(layout.journal_path)[:last] and len(backed_up) == last
    assert "data/sim_broker/sim_broker.db" in names and "logs/execution_engine.log.gz" in names
    assert not [n for n in names if is_secret_file(n)]

    # the data and the config change after the backup
    with Journal(layout.journal_path) as journal:
        journal.append("audit", "", {"what": "after the backup"})
    original_limits = (extracted / "configs" / "risk_limits.toml").read_text()
    (config_dir / "risk_limits.toml").write_text(original_limits.replace("max_shares", "# edited\nmax_shares", 1))
    changed = rows(layout.journal_path)
    day = manifest["created_at"][:10]

    # a running py_rt process: refused, nothing touched
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "pyrt-fake-execution-engine"])
    try:
        layout.run_dir.mkdir(parents=True, exist_ok=True)
        (layout.run_dir / "execution_engine.pid").write_text(f"{fake.pid}\n")
        refused = script("restore_from_backup.sh", "--config-dir", str(config_dir), "--date", day, "--yes")
        assert refused.returncode != 0
        assert "execution_engine" in refused.stderr and "Stop the system first" in refused.stderr
        assert rows(layout.journal_path) == changed and "# edited" in (config_dir / "risk_limits.toml").read_text()
        assert not list(layout.root.glob(".pre-restore-*"))
    finally:
        fake.kill()
        fake.wait(10)

    # stopped (the stale pid file stays): no TTY and no --yes refuses; --yes restores
    unconfirmed = pyrt("restore", "--date", day, config_dir=config_dir)
    assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr
    restored = script("restore_from_backup.sh", "--config-dir", str(config_dir), "--date", day, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert archive.name in restored.stdout and "moved aside" in restored.stdout
    assert rows(layout.journal_path) == backed_up
    assert (config_dir / "risk_limits.toml").read_text() == original_limits
    assert (config_dir / ".env.local").read_text() == f"PYRT_API_READ_TOKEN={TOKEN}\n"  # secrets kept in place
    assert (layout.root / ".env").is_file()
    [aside] = layout.root.glob(".pre-restore-*")
    assert rows(aside / "data" / "journal.db") == changed
    assert "# edited" in (aside / "config" / "risk_limits.toml").read_text()

    checked = script("verify_data_integrity.sh", "--config-dir", str(config_dir), "--backup", str(archive))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "✓ risk state positions = journal positions" in checked.stdout
    assert checked.stdout.rstrip().endswith("OK")


def test_verify_data_while_writing(site: tuple[Path, Layout]) -> None:
    config_dir, layout = site
    engine = Engine(layout)
    engine.start()
    try:
        wait_for(lambda: engine.last_seq >= 30, timeout=10, what="journal writes")
        checked = pyrt("verify-data", config_dir=config_dir)
    finally:
        engine.stop.set()
        engine.join(10)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "✓ journal seq continuity" in checked.stdout and "✓ sim broker db integrity" in checked.stdout


def test_verify_config_script_exit_codes(site: tuple[Path, Layout]) -> None:
    config_dir, layout = site
    ok = script("verify_config.sh", "--config-dir", str(config_dir))
    assert ok.returncode == 0 and ok.stdout.strip().endswith("configuration OK"), ok.stdout + ok.stderr
    os.chmod(config_dir / ".env.local", 0o644)
    warned = script("verify_config.sh", "--config-dir", str(config_dir))
    assert warned.returncode == 0 and "warning:" in warned.stdout and ".env.local" in warned.stdout
    limits = (config_dir / "risk_limits.toml").read_text()
    (config_dir / "risk_limits.toml").write_text("not_a_limit = 1\n" + limits)
    bad = script("verify_config.sh", "--config-dir", str(config_dir))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    lines = bad.stdout.splitlines()
    assert any(line.startswith("config/risk_limits.toml: not_a_limit: ") for line in lines), bad.stdout
