"""The MANIFEST: every file's SHA-256 and size; a modified, missing, added or unsafe member is
detected, and a restore of such an archive changes nothing."""

from __future__ import annotations

import gzip
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pyrt.ops.backup import (
    MANIFEST_NAME,
    BackupError,
    create_backup,
    file_sha256,
    restore_backup,
    verify_archive,
)
from pyrt.persistence.journal import Journal
from tests.unit.backup.helpers import make_layout, rewrite_archive

CREATED = datetime(2025, 10, 21, 14, 0, tzinfo=UTC)


def read_manifest(archive: Path) -> dict:
    with tarfile.open(archive, "r:gz") as tar:
        return json.loads(tar.extractfile(MANIFEST_NAME).read())  # type: ignore[union-attr]


def test_manifest_lists_every_file_with_hash(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, records=7)
    result = create_backup(layout, now=CREATED)
    assert result.path == layout.backups_dir / "pyrt-backup-20251021T140000Z.tar.gz"
    assert result.size == result.path.stat().st_size
    manifest = read_manifest(result.path)
    assert manifest == result.manifest
    assert manifest["created_at"] == "2025-10-21T14:00:00Z"
    assert manifest["journal"] == {"path": "data/journal.db", "last_seq": 7}
    assert manifest["hostname"] and manifest["pyrt_version"]
    paths = [f["path"] for f in manifest["files"]]
    assert paths == [
        "configs/risk_limits.toml",
        "configs/system.json",
        "data/journal.db",
        "data/risk_state.json",
        "logs/execution_engine.log.gz",
        "models/model.onnx",
    ]
    with tarfile.open(result.path, "r:gz") as tar:
        names = tar.getnames()
        assert sorted(names) == sorted([MANIFEST_NAME, *paths])
        log = gzip.decompress(tar.extractfile("logs/execution_engine.log.gz").read())  # type: ignore[union-attr]
        assert log == (layout.logs_dir / "execution_engine.log").read_bytes()
        config = tar.extractfile("configs/system.json").read()  # type: ignore[union-attr]
    entry = next(f for f in manifest["files"] if f["path"] == "configs/system.json")
    assert entry["sha256"] == file_sha256(layout.config_dir / "system.json") and entry["size"] == len(config)
    check = verify_archive(result.path)
    assert check.ok, check.problems


def test_second_backup_in_the_same_second_gets_its_own_name(tmp_path: Path) -> None:
    layout = make_layout(tmp_path)
    first, second = create_backup(layout, now=CREATED), create_backup(layout, now=CREATED)
    assert first.path != second.path and second.path.name.endswith("-2.tar.gz")


def test_backup_copy_of_journal_is_self_contained(tmp_path: Path) -> None:
    layout = make_layout(tmp_path, records=3)
    result = create_backup(layout, now=CREATED)
    out = tmp_path / "x"
    with tarfile.open(result.path, "r:gz") as tar:
        tar.extractall(out, filter="data")
    assert not (out / "data" / "journal.db-wal").exists()
    with Journal(out / "data" / "journal.db", read_only=True) as copy:
        assert copy.integrity_check() == [] and copy.last_seq() == 3


@pytest.mark.parametrize("tamper", ["modify", "drop", "add", "unsafe", "manifest"])
def test_tampered_archive_is_detected_and_not_restored(tmp_path: Path, tamper: str) -> None:
    layout = make_layout(tmp_path / "site")
    good = create_backup(layout, now=CREATED).path
    bad = tmp_path / "bad.tar.gz"
    change: dict[str, bytes | None] = {}
    add: dict[str, bytes] = {}
    if tamper == "modify":
        change["configs/risk_limits.toml"] = b"max_shares = 50000\n"
    elif tamper == "drop":
        change["data/risk_state.json"] = None
    elif tamper == "add":
        add["configs/extra.json"] = b"{}"
    elif tamper == "unsafe":
        add["../escape.txt"] = b"x"
    else:
        change[MANIFEST_NAME] = b"not json"
    rewrite_archive(good, bad, change, add)
    check = verify_archive(bad)
    assert not check.ok and check.problems
    before = {p: p.read_bytes() for p in (layout.config_dir / "risk_limits.toml", layout.journal_path)}
    with pytest.raises(BackupError, match="failed verification"):
        restore_backup(layout, bad)
    assert {p: p.read_bytes() for p in before} == before
    assert not list(layout.root.glob(".pre-restore-*")) and not (tmp_path / "escape.txt").exists()


def test_truncated_archive_is_detected(tmp_path: Path) -> None:
    layout = make_layout(tmp_path)
    good = create_backup(layout, now=CREATED).path
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert not verify_archive(cut).ok
