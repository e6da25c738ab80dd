"""Bearer tokens for the control API and the operator console. Two roles:

- operator: the admin token, from PYRT_API_TOKEN, else the file data/api_token;
- viewer: the read-only token, from PYRT_API_READ_TOKEN, else the file data/api_read_token.

Both files are created with mode 0600 on first use (the control process's first start) and
read by the scripts and the CLI; a file readable by others is refused, as ssh does. Tokens
are never logged. Comparison is constant-time."""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyrt.config.secrets import MIN_TOKEN_LENGTH

TOKEN_FILE = "api_token"
READ_TOKEN_FILE = "api_read_token"


@dataclass(frozen=True)
class TokenSet:
    admin: str
    read_only: str | None
    from_env: bool

    def identify(self, presented: str | None) -> str | None:
        """The token's name ("admin", "read-only") or None when it matches neither."""
        if not presented:
            return None
        if hmac.compare_digest(presented.encode(), self.admin.encode()):
            return "admin"
        if self.read_only and hmac.compare_digest(presented.encode(), self.read_only.encode()):
            return "read-only"
        return None


def token_path(cfg: Any) -> Path:
    return Path(cfg.system.paths.data_dir) / TOKEN_FILE


def read_token_path(cfg: Any) -> Path:
    """The viewer's (read-only) token file, beside the admin one."""
    return Path(cfg.system.paths.data_dir) / READ_TOKEN_FILE


def _file_token(path: Path, create: bool, env_var: str) -> str | None:
    """The token in `path` (created, 0600, when `create`); None when absent and not created."""
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32) + "\n")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    token = path.read_text().strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"{path}: token too short (at least {MIN_TOKEN_LENGTH} characters; or set {env_var})")
    return token


def load_tokens(cfg: Any, create: bool = True) -> TokenSet:
    """The tokens in force. Without PYRT_API_TOKEN the admin file token is read, without
    PYRT_API_READ_TOKEN the viewer's (each created, 0600, when `create`); a file readable
    by group or others is refused, as ssh does."""
    env_token = cfg.secrets.api_token.get_secret_value() if cfg.secrets.api_token else None
    read_token = cfg.secrets.api_read_token.get_secret_value() if cfg.secrets.api_read_token else None
    if read_token is None:
        read_token = _file_token(read_token_path(cfg), create, "PYRT_API_READ_TOKEN")
    if env_token:
        return TokenSet(env_token, read_token, from_env=True)
    path = token_path(cfg)
    token = _file_token(path, create, "PYRT_API_TOKEN")
    if token is None:
        raise FileNotFoundError(
            f"{path} does not exist: start the control process once (pyrt up) or set PYRT_API_TOKEN"
        )
    return TokenSet(token, read_token, from_env=False)
