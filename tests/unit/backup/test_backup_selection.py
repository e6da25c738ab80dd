"""Choosing the backup to restore: archive names, --date/--time/--tz, newest at or before."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pyrt.ops.backup import (
    BackupInfo,
    archive_name,
    list_backups,
    parse_archive_name,
    prune_backups,
    restore_moment,
    select_backup,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_archive_name_round_trip() -> None:
    created = at("2025-10-21T14:00:00")
    assert archive_name(created) == "pyrt-backup-20251021T140000Z.tar.gz"
    assert parse_archive_name(archive_name(created)) == (created, 1)
    assert parse_archive_name(archive_name(created, 3)) == (created, 3)
    for foreign in (
        "pyrt-backup-20251021.tar.gz",
        "config-backup-20251021.tar.gz",
        "pyrt-backup-20251021T140000Z.tar.gz.partial",
    ):
        assert parse_archive_name(foreign) is None


def test_restore_moment_defaults_to_utc_and_end_of_day() -> None:
    assert restore_moment("2025-10-21", "14:00") == at("2025-10-21T14:00:00")
    assert restore_moment("2025-10-21", "14:00:30") == at("2025-10-21T14:00:30")
    assert restore_moment("2025-10-21") == at("2025-10-21T23:59:59.999999")
    # 14:00 in New York (EDT, UTC-4) is 18:00 UTC
    assert restore_moment("2025-10-21", "14:00", "America/New_York") == at("2025-10-21T18:00:00")


@pytest.mark.parametrize(
    ("date", "time", "tz", "hint"),
    [
        ("21/10/2025", None, None, "--date"),
        ("2025-10-21", "2pm", None, "--time"),
        ("2025-10-21", "14:00", "Mars/Olympus", "--tz"),
        ("2025-02-30", None, None, "--date"),
    ],
)
def test_restore_moment_rejects_bad_input(date: str, time: str | None, tz: str | None, hint: str) -> None:
    with pytest.raises(ValueError, match=hint):
        restore_moment(date, time, tz)


def infos(*stamps: str) -> list[BackupInfo]:
    return sorted(BackupInfo(at(s), 1, Path(archive_name(at(s)))) for s in stamps)


def test_select_newest_at_or_before() -> None:
    backups = infos("2025-10-20T22:00:00", "2025-10-21T13:59:59", "2025-10-21T14:00:00", "2025-10-21T14:00:01")
    assert select_backup(backups, at("2025-10-21T14:00:00")).created == at("2025-10-21T14:00:00")  # inclusive
    assert select_backup(backups, at("2025-10-21T13:59:59.5")).created == at("2025-10-21T13:59:59")
    assert select_backup(backups, restore_moment("2025-10-20")).created == at("2025-10-20T22:00:00")
    assert select_backup(backups, at("2025-10-20T21:59:59")) is None
    assert select_backup(backups, None).created == at("2025-10-21T14:00:01")
    assert select_backup([], None) is None


def test_same_second_backups_order_by_index(tmp_path: Path) -> None:
    created = at("2025-10-21T14:00:00")
    for index in (1, 2, 10):
        (tmp_path / archive_name(created, index)).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a backup")
    (tmp_path / "pyrt-backup-20251021T150000Z.tar.gz").mkdir()  # a directory is not an archive
    found = list_backups(tmp_path)
    assert [b.index for b in found] == [1, 2, 10]
    assert select_backup(found, created).index == 10
    assert list_backups(tmp_path / "missing") == []


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    names = [archive_name(at(f"2025-10-2{d}T10:00:00")) for d in range(1, 6)]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "keep-me.tar.gz").write_bytes(b"x")
    removed = prune_backups(tmp_path, 2)
    assert [p.name for p in removed] == names[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[3:], "keep-me.tar.gz"])
    with pytest.raises(ValueError):
        prune_backups(tmp_path, 0)
