"""The append-only order journal: SQLite in WAL mode with synchronous=FULL, the durable
source of truth from which order state is replayed (reliability-practices §2.3).

Order of operations in the execution engine: append the `intent` (with its
client_order_id) and let `append` return (committed, fsynced) -> only then send -> append
what the broker said. `append` raises `JournalWriteError` on any failure; the caller must
then not send the order and should go HALTED.

One writing `Journal` per file per process (enforced here); other readers may open it with
`read_only=True`. Rows are never updated or deleted (triggers refuse it).

Failpoints for crash tests: `failpoint(name)` exits the process with status 137 when `name`
is listed in the environment variable PYRT_FAILPOINTS (comma-separated), read once at import.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self

import msgspec

from pyrt.domain.clock import Clock, WallClock
from pyrt.domain.errors import NeedsOperator
from pyrt.domain.events import JournalRecord, RecordKind
from pyrt.persistence.checkpoint import WalCheckpointer

SCHEMA_VERSION = 1
# Payload format: 2 = typed order events (`pyrt.domain.events`). Format 1 (journals written
# before the types existed, no `event_format` in meta) stored the same JSON shapes, so its
# records decode as format 2 unchanged: migrating one is stamping it, on its first writable
# open. A format this code does not know refuses to open.
EVENT_FORMAT = 2
_PAGE_SIZE = 500


class JournalError(NeedsOperator):
    """The journal cannot be used as asked (bad schema, second writer, closed)."""


class JournalWriteError(JournalError):
    """Nothing was made durable. Do not send the order this record was for."""


Payload = Mapping[str, Any] | msgspec.Struct | None

# seq is the rowid: with deletes refused by the trigger below it is always max(seq) + 1, so
# seqs are dense and never reused. (AUTOINCREMENT would add the highest seq ever handed out,
# but updating its counter writes one more page per commit: about half the cost of an
# fsynced order commit. Journals created with it keep it, and verify uses the counter.)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    client_order_id TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_client_order_id ON journal (client_order_id);
CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal
    BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal
    BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
"""

_writers: set[str] = set()
_writers_lock = threading.Lock()
_encoder = msgspec.json.Encoder()
_payload_decoder = msgspec.json.Decoder(dict[str, Any])


class Journal:
    """Append-only journal in one SQLite file. Thread-safe; one writer per file per process."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        read_only: bool = False,
        synchronous: str = "FULL",
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL (survives power loss) or NORMAL (survives process crashes)")
        self.synchronous = synchronous
        self.path = Path(path)
        self.read_only = read_only
        self._clock = clock or WallClock()
        self._lock = threading.Lock()
        self._key = os.path.realpath(self.path)
        self._conn: sqlite3.Connection | None = None
        if not read_only:
            with _writers_lock:
                if self._key in _writers:
                    raise JournalError(f"{self.path} already has a writer in this process")
                _writers.add(self._key)
        self._checkpointer: WalCheckpointer | None = None
        try:
            self._conn = self._open()
        except sqlite3.Error as exc:
            self._release()
            raise JournalWriteError(f"cannot open journal {self.path}: {exc}") from exc
        except BaseException:
            self._release()
            raise
        if not read_only:
            self._checkpointer = WalCheckpointer(self.path, "journal-checkpoint")
            self._checkpointer.start()

    def _open(self) -> sqlite3.Connection:
        if self.read_only:
            uri = f"file:{self.path}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        try:
            if not self.read_only:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise JournalError(f"{self.path}: WAL mode refused (got {mode!r})")
                conn.execute(f"PRAGMA synchronous={self.synchronous}")
                conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints: WalCheckpointer, not a commit
                conn.execute("BEGIN IMMEDIATE")
                _create_schema(conn)
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('event_format', ?)", (str(EVENT_FORMAT),))
                conn.execute("COMMIT")
            fmt = conn.execute("SELECT value FROM meta WHERE key = 'event_format'").fetchone()
            if fmt is not None and fmt[0] not in ("1", str(EVENT_FORMAT)):
                raise JournalError(f"{self.path}: event format {fmt[0]!r} is newer than this py_rt ({EVENT_FORMAT})")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None or row[0] != str(SCHEMA_VERSION):
                raise JournalError(f"{self.path}: schema version {row and row[0]!r}, expected {SCHEMA_VERSION}")
        except BaseException:
            conn.close()
            raise
        return conn

    # --- writing -----------------------------------------------------------------------

    def append(
        self, kind: RecordKind | str, client_order_id: str, payload: Payload = None, ts_ns: int | None = None
    ) -> int:
        """Append one record and commit it durably; return its seq. Raises JournalWriteError."""
        return self._write([self._row(kind, client_order_id, payload, ts_ns)])[0]

    def append_records(self, entries: Iterable[tuple[RecordKind | str, str, Payload]]) -> list[JournalRecord]:
        """Append (kind, client_order_id, payload) records in one transaction (one commit),
        all or nothing; return them exactly as `iter_records` will read them back."""
        rows = [self._row(*entry) for entry in entries]
        seqs = self._write(rows)
        return [
            JournalRecord(seq, r[0], r[1], r[2], msgspec.json.decode(r[3])) for seq, r in zip(seqs, rows, strict=True)
        ]

    def _write(self, rows: list[tuple[int, str, str, str]]) -> list[int]:
        with self._lock:
            conn = self._writable()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    seqs = [
                        conn.execute(
                            "INSERT INTO journal (ts_ns, kind, client_order_id, payload) VALUES (?, ?, ?, ?)",
                            row,
                        ).lastrowid
                        for row in rows
                    ]
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise JournalWriteError(f"journal write failed: {exc}") from exc
        return [int(s) for s in seqs if s is not None]

    def _row(
        self, kind: RecordKind | str, client_order_id: str, payload: Payload, ts_ns: int | None = None
    ) -> tuple[int, str, str, str]:
        try:
            kind_value = RecordKind(kind).value
            body = _encoder.encode({} if payload is None else payload)
            if not body.startswith(b"{"):
                raise TypeError(f"payload must encode to a JSON object, got {body[:20]!r}")
        except (ValueError, TypeError, msgspec.EncodeError) as exc:
            raise JournalWriteError(f"bad journal record: {exc}") from exc
        when = self._clock.now_ns() if ts_ns is None else ts_ns
        return (when, kind_value, client_order_id or "", body.decode())

    def _writable(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalWriteError("journal is closed")
        if self.read_only:
            raise JournalWriteError("journal opened read-only")
        return self._conn

    # --- reading -----------------------------------------------------------------------

    def iter_records(self, since_seq: int = 0) -> Iterator[JournalRecord]:
        """Records with seq > since_seq in order, read in pages (safe while appending)."""
        last = since_seq
        while True:
            with self._lock:
                rows = (
                    self._readable()
                    .execute(
                        "SELECT seq, ts_ns, kind, client_order_id, payload FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
                        (last, _PAGE_SIZE),
                    )
                    .fetchall()
                )
            for seq, ts_ns, kind, coid, payload in rows:
                yield self._record(seq, ts_ns, kind, coid, payload)
            if len(rows) < _PAGE_SIZE:
                return
            last = rows[-1][0]

    def _record(self, seq: int, ts_ns: Any, kind: Any, coid: Any, payload: Any) -> JournalRecord:
        """A row as a record, or JournalError naming the row: the journal only writes JSON
        objects and integer times, so anything else is a damaged or hand-edited file."""
        if type(ts_ns) is not int or not isinstance(kind, str) or not isinstance(coid, str):
            raise JournalError(f"{self.path}: seq {seq}: not a journal row (ts_ns {ts_ns!r:.40}, kind {kind!r:.40})")
        try:
            return JournalRecord(seq, ts_ns, kind, coid, _payload_decoder.decode(payload))
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # not JSON, not an object, not UTF-8
            raise JournalError(f"{self.path}: seq {seq}: payload is not a JSON object: {exc}") from None

    def last_seq(self) -> int:
        """Highest seq written, 0 for an empty journal."""
        with self._lock:
            row = self._readable().execute("SELECT MAX(seq) FROM journal").fetchone()
        return int(row[0] or 0)

    def pragma(self, name: str) -> Any:
        """The value of a read-only PRAGMA (journal_mode, synchronous, ...)."""
        if not name.isidentifier():
            raise ValueError(f"bad pragma name {name!r}")
        with self._lock:
            return self._readable().execute(f"PRAGMA {name}").fetchone()[0]

    def integrity_check(self) -> list[str]:
        """Problems found (empty when healthy): SQLite's integrity check, schema version,
        unknown kinds and payloads that are not JSON objects."""
        problems: list[str] = []
        try:
            with self._lock:
                conn = self._readable()
                problems += [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall() if r[0] != "ok"]
                version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if version is None or version[0] != str(SCHEMA_VERSION):
                problems.append(f"schema version {version and version[0]!r}, expected {SCHEMA_VERSION}")
            kinds = {k.value for k in RecordKind}
            last = 0
            while True:
                with self._lock:
                    rows = (
                        self._readable()
                        .execute(
                            "SELECT seq, kind, payload FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
                            (last, _PAGE_SIZE),
                        )
                        .fetchall()
                    )
                for seq, kind, payload in rows:
                    if kind not in kinds:
                        problems.append(f"seq {seq}: unknown kind {kind!r}")
                    try:
                        if not isinstance(msgspec.json.decode(payload), dict):
                            problems.append(f"seq {seq}: payload is not a JSON object")
                    except msgspec.DecodeError:
                        problems.append(f"seq {seq}: payload is not valid JSON")
                if len(rows) < _PAGE_SIZE:
                    break
                last = rows[-1][0]
        except (sqlite3.Error, JournalError) as exc:
            problems.append(f"sqlite error: {exc}")
        return problems

    def _readable(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError("journal is closed")
        return self._conn

    # --- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._release()

    def _release(self) -> None:
        if not self.read_only:
            with _writers_lock:
                _writers.discard(self._key)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _create_schema(conn: sqlite3.Connection) -> None:
    # executescript would COMMIT the open transaction first, so run statements one by one.
    for statement in _split_sql(_SCHEMA):
        conn.execute(statement)


def _split_sql(script: str) -> list[str]:
    statements: list[str] = []
    current = ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


# --- failpoints -------------------------------------------------------------------------

FAILPOINT_ENV = "PYRT_FAILPOINTS"
KNOWN_FAILPOINTS = frozenset(
    {"after_journal_before_send", "after_send_before_ack_write", "after_fill_before_position_update"}
)
_ARMED: frozenset[str] = frozenset(n.strip() for n in os.environ.get(FAILPOINT_ENV, "").split(",") if n.strip())


def failpoint(name: str) -> None:
    """Crash here (exit status 137, no cleanup) if `name` is armed in PYRT_FAILPOINTS."""
    if _ARMED and name in _ARMED:
        os.write(2, f"pyrt: failpoint {name} hit, exiting 137\n".encode())
        os._exit(137)
