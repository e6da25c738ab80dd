"""The two tokens of the control API: the operator's (data/api_token) and the viewer's
(data/api_read_token), each created 0600 on first use unless its variable is set."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from pyrt.ops.auth import load_tokens, read_token_path, token_path


def cfg(tmp_path: Path, admin: str | None = None, viewer: str | None = None) -> Any:
    return SimpleNamespace(
        system=SimpleNamespace(paths=SimpleNamespace(data_dir=tmp_path / "data")),
        secrets=SimpleNamespace(
            api_token=SecretStr(admin) if admin else None, api_read_token=SecretStr(viewer) if viewer else None
        ),
    )


def test_both_files_are_created_private_on_first_start_and_read_after(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    first = load_tokens(c, create=True)
    for path in (token_path(c), read_token_path(c)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_token_path(c).parent == token_path(c).parent
    assert first.admin != first.read_only and len(first.read_only or "") >= 32
    again = load_tokens(c, create=False)
    assert (again.admin, again.read_only) == (first.admin, first.read_only)
    assert first.identify(first.admin) == "admin" and first.identify(first.read_only) == "read-only"
    assert first.identify("") is None and first.identify("x" * 43) is None


def test_the_variables_win_and_no_viewer_file_is_needed(tmp_path: Path) -> None:
    c = cfg(tmp_path, admin="A" * 40, viewer="V" * 40)
    tokens = load_tokens(c, create=True)
    assert (tokens.admin, tokens.read_only, tokens.from_env) == ("A" * 40, "V" * 40, True)
    assert not read_token_path(c).exists()


def test_without_create_a_missing_viewer_file_means_no_viewer(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    token_path(c).parent.mkdir(parents=True)
    token_path(c).write_text("a" * 40 + "\n")
    token_path(c).chmod(0o600)
    assert load_tokens(c, create=False).read_only is None


def test_a_short_or_shared_viewer_file_is_refused_with_its_name(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    load_tokens(c, create=True)
    path = read_token_path(c)
    path.write_text("short\n")
    with pytest.raises(ValueError, match="api_read_token: token too short"):
        load_tokens(c)
    path.write_text("v" * 40)
    path.chmod(0o644)
    with pytest.raises(PermissionError, match="api_read_token is readable by others"):
        load_tokens(c)
