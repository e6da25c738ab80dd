"""The bus key pair: created once (also by processes starting together), private, checked
at load, and never shown (repr, errors, backups)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pyrt.bus import security
from pyrt.bus.security import BusSecurityError, ensure_keys, load_keys
from pyrt.ops.backup import is_secret_file


def test_keys_are_created_private_and_loaded(tmp_path: Path) -> None:
    keys_dir = tmp_path / "data" / "bus_keys"
    keys = ensure_keys(keys_dir)
    assert stat.S_IMODE((keys_dir / security.SECRET_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    assert load_keys(keys_dir) == keys and ensure_keys(keys_dir) == keys  # created once, then reused
    assert keys.secret.decode() not in repr(keys) and keys.secret.decode() not in repr(security.BusSecurity(keys))
    assert [p.name for p in tmp_path.joinpath("data").iterdir()] == ["bus_keys"]  # no temporary left behind


def test_processes_starting_together_agree_on_one_pair(tmp_path: Path) -> None:
    keys_dir = tmp_path / "bus_keys"
    code = (
        "import sys; from pathlib import Path; from pyrt.bus.security import ensure_keys; "
        "print(ensure_keys(Path(sys.argv[1])).public.decode())"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(keys_dir)], stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    publics = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert publics == {load_keys(keys_dir).public.decode()}


def test_a_secret_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    keys = ensure_keys(tmp_path / "bus_keys")
    secret_file = tmp_path / "bus_keys" / security.SECRET_FILE
    os.chmod(secret_file, 0o644)
    with pytest.raises(BusSecurityError, match="chmod 600") as err:
        load_keys(tmp_path / "bus_keys")
    assert str(secret_file) in str(err.value) and keys.secret.decode() not in str(err.value)


def test_missing_or_mismatched_keys_are_refused_naming_the_file(tmp_path: Path) -> None:
    ensure_keys(tmp_path / "a")
    ensure_keys(tmp_path / "b")
    os.replace(tmp_path / "b" / security.SECRET_FILE, tmp_path / "a" / security.SECRET_FILE)
    with pytest.raises(BusSecurityError, match="do not match"):
        load_keys(tmp_path / "a")
    with pytest.raises(BusSecurityError, match=f"{tmp_path / 'b' / security.SECRET_FILE} is missing"):
        load_keys(tmp_path / "b")
    (tmp_path / "c").mkdir(mode=0o700)
    (tmp_path / "c" / security.SECRET_FILE).write_text("garbage\n")
    os.chmod(tmp_path / "c" / security.SECRET_FILE, 0o600)
    with pytest.raises(BusSecurityError, match="malformed"):
        load_keys(tmp_path / "c")


def test_backups_leave_the_keys_out() -> None:
    assert is_secret_file("data/bus_keys/bus.key_secret") and is_secret_file("data/bus_keys/bus.key")
    assert is_secret_file("data/bus_keys/README") and not is_secret_file("data/journal.db")
