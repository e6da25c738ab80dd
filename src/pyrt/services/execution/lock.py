"""One execution engine per account: an exclusive flock on the lock file, held for the
life of the process (the kernel releases it when the process dies, even by SIGKILL)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from pyrt.domain.errors import NeedsOperator


class AccountLockHeld(NeedsOperator, RuntimeError):
    pass


class AccountLock:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise AccountLockHeld(f"another execution engine holds {path}: only one may trade an account") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
