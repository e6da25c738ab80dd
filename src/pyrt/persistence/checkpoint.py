"""WAL checkpoints off the write path.

SQLite in WAL mode copies the log back into the database ("checkpoint") by default inside
whichever commit crosses 1,000 pages, and that commit then pays for it: milliseconds, with
fsyncs of the database file. An order commit must not. The writer sets
``PRAGMA wal_autocheckpoint=0`` and this thread runs PASSIVE checkpoints (they never block
the writer or readers) on its own connection every ``interval_s``."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class WalCheckpointer:
    def __init__(self, path: Path, name: str, interval_s: float = 1.0) -> None:
        self.path = path
        self.interval_s = interval_s
        self.checkpoints = 0
        self.last: tuple[int, int, int] | None = None  # (busy, frames in the WAL, frames copied)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    self.last = tuple(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
                    self.checkpoints += 1
                except sqlite3.Error:
                    pass  # busy or locked: the next round does it
        finally:
            conn.close()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
