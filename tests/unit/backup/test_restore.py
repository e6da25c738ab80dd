"""Restore mechanics: the live dirs are moved aside, never deleted; a failure half-way puts
them back; a running system or an unsupported layout is refused up front."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pyrt.ops import backup
from pyrt.ops.backup import BackupError, SystemRunning, create_backup, restore_backup
from pyrt.persistence.journal import Journal
from tests.unit.backup.helpers import make_layout

CREATED = datetime(2025, 10, 21, 14, 0, tzinfo=UTC)


def test_restore_moves_the_live_dirs_aside(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, records=4)
    archive = create_backup(layout, now=CREATED).path
    with Journal(layout.journal_path) as journal:
        journal.append("audit", "", {"after": True})
    (layout.config_dir / "risk_limits.toml").write_text("max_shares = 1\n")
    result = restore_backup(layout, archive, now=CREATED)
    assert result.aside == tmp_path / ".pre-restore-20251021T140000Z"
    with Journal(layout.journal_path, read_only=True) as journal:
        assert journal.last_seq() == 4
    with Journal(result.aside / "data" / "journal.db", read_only=True) as journal:
        assert journal.last_seq() == 5
    assert (layout.config_dir / "risk_limits.toml").read_text() == "max_shares = 500\n"
    assert (result.aside / "config" / "risk_limits.toml").read_text() == "max_shares = 1\n"
    assert (layout.models_dir / "model.onnx").is_file()  # models left alone without include_models
    again = restore_backup(layout, archive, now=CREATED)  # same second: a second aside dir
    assert again.aside.name == ".pre-restore-20251021T140000Z-2"


def test_failure_half_way_puts_everything_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = make_layout(tmp_path)
    archive = create_backup(layout, now=CREATED).path
    (layout.config_dir / "risk_limits.toml").write_text("max_shares = 1\n")
    real_move = shutil.move

    def failing_move(src: str, dst: str) -> str:
        if Path(src).name == "data" and ".restore-staging-" in src:
            raise OSError("disk full")
        return real_move(src, dst)

    monkeypatch.setattr(backup.shutil, "move", failing_move)
    with pytest.raises(OSError, match="disk full"):
        restore_backup(layout, archive)
    assert (layout.config_dir / "risk_limits.toml").read_text() == "max_shares = 1\n"
    with Journal(layout.journal_path, read_only=True) as journal:
        assert journal.last_seq() == 5
    assert not list(tmp_path.glob(".restore-staging-*")) and not list(tmp_path.glob(".pre-restore-*"))


def test_refused_while_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = make_layout(tmp_path)
    archive = create_backup(layout, now=CREATED).path
    monkeypatch.setattr(backup, "running_processes", lambda run_dir: [("risk_manager", 4242)])
    with pytest.raises(SystemRunning, match="Stop the system first"):
        restore_backup(layout, archive)
    assert not list(tmp_path.glob(".pre-restore-*"))


def test_unsupported_layouts_are_refused(tmp_path: Path) -> None:
    layout = make_layout(tmp_path / "site")
    with pytest.raises(BackupError, match="inside"):
        create_backup(layout, dest=layout.data_dir / "backups")
    outside = tmp_path / "elsewhere" / "journal.db"
    outside.parent.mkdir()
    shutil.copy(layout.journal_path, outside)
    with pytest.raises(BackupError, match="outside the data dir"):
        create_backup(replace(layout, journal_path=outside))


def _venue_state(layout: backup.Layout, text: str) -> Path:
    path = layout.sim_broker_dir / "broker.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_venue_and_the_api_token_survive_a_restore(tmp_path: Path) -> None:
    layout = make_layout(tmp_path)
    token = layout.data_dir / "api_token"
    token.write_text("old-token-" + "x" * 32 + "\n")
    token.chmod(0o600)
    venue_db = _venue_state(layout, "fills before the backup")
    archive = create_backup(layout, now=CREATED).path
    token.write_text("current-token-" + "y" * 32 + "\n")  # rotated after the backup
    venue_db.write_text("fills before and after the backup")
    result = restore_backup(layout, archive, now=CREATED)
    assert token.read_text().startswith("current-token-") and token.stat().st_mode & 0o777 == 0o600
    assert str(token) in result.kept_secrets
    assert venue_db.read_text() == "fills before and after the backup"  # the venue does not forget
    assert result.kept_venue == str(layout.sim_broker_dir)
    assert not (result.aside / "data" / "sim_broker").exists()  # moved back, not copied


def test_the_venue_is_rolled_back_only_when_asked(tmp_path: Path) -> None:
    layout = make_layout(tmp_path)
    venue_db = _venue_state(layout, "at the backup")
    archive = create_backup(layout, now=CREATED).path
    venue_db.write_text("later")
    result = restore_backup(layout, archive, now=CREATED, include_venue=True)
    assert venue_db.read_text() == "at the backup" and result.kept_venue is None
    assert (result.aside / "data" / "sim_broker" / "broker.db").read_text() == "later"
