"""Secrets never go into a backup, and a restore keeps the ones in place."""

from __future__ import annotations

import gzip
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pyrt.ops.backup import create_backup, is_secret_file, restore_backup
from tests.unit.backup.helpers import SECRET_VALUE, add_secrets, make_layout


@pytest.mark.parametrize(
    "name",
    [
        ".env",
        ".env.local",
        "prod.env",
        "alpaca.pem",
        "tls.key",
        "api_token.txt",
        "SECRETS.json",
        "credentials.toml",
        "smtp_password",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_file(name)


@pytest.mark.parametrize("name", ["system.json", "risk_limits.toml", "journal.db", "risk_state.json", "env.md"])
def test_ordinary_names(name: str) -> None:
    assert not is_secret_file(name)


def test_backup_holds_no_secret_file_or_value(tmp_path: Path) -> None:
    layout = make_layout(tmp_path)
    add_secrets(layout)
    result = create_backup(layout, now=datetime(2025, 10, 21, tzinfo=UTC))
    raw = gzip.decompress(result.path.read_bytes())
    assert SECRET_VALUE.encode() not in raw
    with tarfile.open(result.path, "r:gz") as tar:
        names = tar.getnames()
    assert not [n for n in names if is_secret_file(n)], names
    assert "configs/system.json" in names
    assert result.path.stat().st_mode & 0o077 == 0  # the archive itself is private


def test_restore_keeps_secret_files_of_the_config_dir(tmp_path: Path) -> None:
    layout = make_layout(tmp_path)
    secrets = add_secrets(layout)
    archive = create_backup(layout, now=datetime(2025, 10, 21, tzinfo=UTC)).path
    result = restore_backup(layout, archive)
    for path in secrets:
        if path.parent in (layout.config_dir, layout.root):
            assert SECRET_VALUE in path.read_text(), path
            assert path.stat().st_mode & 0o077 == 0
    assert (result.aside / "data" / "prod.env").is_file()  # moved aside with its data dir, not lost
