"""Integrity checks of a deployment's data and configuration (`pyrt verify-data`,
`pyrt verify-config`). Everything here only reads, so it is safe while the system runs.

verify-data checks the journal (SQLite integrity, seq continuity, every record decodes),
replays it into the order projection and compares the positions with the ones the risk
manager saved, lists the projection's anomalies, checks the sim broker database and,
optionally, a backup archive."""

from __future__ import annotations

import json
import sqlite3
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pyrt.ops.backup import Layout, is_secret_file, verify_archive
from pyrt.services.risk.state import saved_positions

OK, FAIL, WARN = "ok", "fail", "warn"
_MARK = {OK: "✓", FAIL: "✗", WARN: "⚠"}
_SHOWN = 10  # problems listed per check


@dataclass(frozen=True)
class Check:
    """One line of a report: what was checked, its outcome (ok, fail or warn) and details."""

    name: str
    status: str
    detail: str = ""

    def line(self) -> str:
        head = f"{_MARK[self.status]} {self.name}"
        return f"{head}: {self.detail}" if self.detail else head


def report(checks: list[Check], title: str) -> tuple[str, bool]:
    """The report text (one line per check plus a summary) and whether nothing failed."""
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    verdict = "OK" if not failed else "FAILED"
    summary = f"{title}: {len(checks)} checks, {failed} failed, {warned} warnings: {verdict}"
    return "\n".join([*(c.line() for c in checks), summary]), failed == 0


def _listing(problems: list[str]) -> str:
    more = f" (+{len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
    return "; ".join(problems[:_SHOWN]) + more


def _connect_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)


# --------------------------------------------------------------------------- journal
def seq_problems(seqs: list[int], high_water: int | None) -> list[str]:
    """Gaps and duplicates in journal seqs (expected 1, 2, 3 ...), and records lost at the end
    (`high_water`: the highest seq ever handed out, from SQLite's AUTOINCREMENT counter in
    journals created with one; None otherwise)."""
    problems, expected = [], 1
    for seq in seqs:
        if seq < expected:
            problems.append(f"seq {seq} duplicated or out of order")
            continue
        if seq > expected:
            missing = f"{expected}..{seq - 1}" if seq - 1 > expected else f"{expected}"
            problems.append(f"gap: seq {missing} missing")
        expected = seq + 1
    last = seqs[-1] if seqs else 0
    if high_water is not None and high_water > last:
        lost = f"seq {last + 1}" if high_water == last + 1 else f"seq {last + 1}..{high_water}"
        problems.append(f"{lost} written but gone (records lost at the end)")
    return problems


def check_journal(path: Path) -> tuple[list[Check], Any]:
    """Checks of the journal file and the projection replayed from it (None if unreadable)."""
    from pyrt.domain.events import RecordKind
    from pyrt.persistence.journal import Journal, JournalError
    from pyrt.persistence.projections import replay

    if not path.is_file():
        return [Check("journal", WARN, f"{path} not found (nothing journaled yet?)")], None
    try:
        journal = Journal(path, read_only=True)
    except JournalError as exc:
        return [Check("journal opens", FAIL, str(exc))], None
    checks = []
    with journal:
        problems = journal.integrity_check()
        checks.append(
            Check(
                "journal integrity (PRAGMA integrity_check, schema, kinds, JSON payloads)",
                FAIL if problems else OK,
                _listing(problems) or f"{path}",
            )
        )
        conn = _connect_ro(path)
        try:
            conn.execute("BEGIN")  # one snapshot for the seqs and the AUTOINCREMENT counter
            seqs = [r[0] for r in conn.execute("SELECT seq FROM journal ORDER BY seq")]
            has_counter = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
            ).fetchone()
            row = (
                conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").fetchone()
                if has_counter
                else None
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            return [*checks, Check("journal seq continuity", FAIL, f"sqlite error: {exc}")], None
        finally:
            conn.close()
        gaps = seq_problems(seqs, row[0] if row else None)
        last = seqs[-1] if seqs else 0
        checks.append(
            Check(
                "journal seq continuity",
                FAIL if gaps else OK,
                _listing(gaps) or f"{len(seqs)} records, seq 1..{last}, no gaps or duplicates",
            )
        )
        kinds = {k.value for k in RecordKind}
        records, undecodable = [], []
        try:
            for record in journal.iter_records():
                if record.seq > last:
                    break
                if record.kind not in kinds or not isinstance(record.payload, dict):
                    undecodable.append(f"seq {record.seq}: kind {record.kind!r}")
                records.append(record)
        except Exception as exc:
            undecodable.append(f"after seq {records[-1].seq if records else 0}: {exc}")
        checks.append(
            Check(
                "journal records decode",
                FAIL if undecodable else OK,
                _listing(undecodable) or f"{len(records)} records decoded",
            )
        )
    projection = replay(records)
    anomalies = [f"seq {a.seq} {a.client_order_id or '-'}: {a.what}" for a in projection.anomalies]
    open_positions = sum(1 for p in projection.positions.values() if p.qty != 0)
    checks.append(
        Check(
            "journal replay",
            OK,
            f"{len(projection.orders)} orders, {open_positions} open positions, "
            f"{len(projection.open_orders())} open orders",
        )
    )
    checks.append(
        Check("journal anomalies (for a human to look at)", WARN if anomalies else OK, _listing(anomalies) or "none")
    )
    return checks, projection


def compare_positions(risk_path: Path, projection: Any, running: bool) -> Check:
    """The positions saved by the risk manager against the ones replayed from the journal.
    A mismatch fails when the system is stopped; while it runs the saved state may lag, so
    it only warns."""
    name = "risk state positions = journal positions"
    if projection is None:
        return Check(name, WARN, "skipped: no journal projection to compare with")
    if not risk_path.is_file():
        return Check(name, OK, f"skipped: no saved risk state at {risk_path}")
    try:
        data = json.loads(risk_path.read_text())
        saved = saved_positions(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as exc:
        return Check(name, FAIL, f"{risk_path} unreadable: {exc}")
    journal = {s: p.qty for s, p in projection.positions.items() if p.qty != 0}
    saved_at = data.get("saved_at_ns")
    when = (
        datetime.fromtimestamp(saved_at / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(saved_at, int)
        else "unknown time"
    )
    what = (
        f"compared signed qty per symbol in {risk_path.name} (saved {when}) with the positions replayed "
        f"from {projection.last_seq} journal records"
    )
    diffs = [
        f"{s}: risk {saved.get(s, 0)} vs journal {journal.get(s, 0)}"
        for s in sorted(set(saved) | set(journal))
        if saved.get(s, Decimal(0)) != journal.get(s, Decimal(0))
    ]
    if not diffs:
        return Check(name, OK, f"{what}: {len(journal)} symbols agree")
    if running:
        return Check(
            name, WARN, f"{what}: {_listing(diffs)} (system running: the saved state may lag; re-run when stopped)"
        )
    return Check(name, FAIL, f"{what}: {_listing(diffs)}")


def check_sqlite_file(path: Path, label: str) -> Check:
    """PRAGMA integrity_check of a SQLite database, read-only; ok when absent."""
    if not path.is_file():
        return Check(f"{label} integrity", OK, f"skipped: {path} not present")
    try:
        conn = _connect_ro(path)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return Check(f"{label} integrity", FAIL, f"{path}: {exc}")
    bad = [r for r in rows if r != "ok"]
    return Check(f"{label} integrity", FAIL if bad else OK, _listing(bad) or f"{path} ({len(tables)} tables)")


def check_backup(path: Path) -> list[Check]:
    """The archive's manifest hashes, and the integrity of the journal copy inside it."""
    from pyrt.persistence.journal import Journal

    archive = verify_archive(path)
    files = len(archive.manifest["files"]) if archive.manifest else 0
    checks = [
        Check(
            "backup manifest hashes",
            OK if archive.ok else FAIL,
            _listing(archive.problems) or f"{path}: {files} files match their SHA-256",
        )
    ]
    journal = archive.manifest.get("journal") if archive.ok and archive.manifest else None
    if journal:
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(path, "r:gz") as tar:
            tar.extractall(tmp, members=[tar.getmember(journal["path"])], filter="data")
            with Journal(Path(tmp) / journal["path"], read_only=True) as copy:
                problems, last = copy.integrity_check(), copy.last_seq()
        if last != journal["last_seq"]:
            problems.append(f"last seq {last}, manifest says {journal['last_seq']}")
        checks.append(
            Check(
                "backup journal integrity",
                FAIL if problems else OK,
                _listing(problems) or f"{journal['path']}: last seq {last}",
            )
        )
    return checks


def verify_data(layout: Layout, backup: Path | None = None, running: bool = False) -> list[Check]:
    """Every data check of `layout` (and of `backup` if given). `running` says whether the
    system runs (a lagging risk state then only warns)."""
    checks, projection = check_journal(layout.journal_path)
    checks.append(compare_positions(layout.risk_state_path, projection, running))
    checks.append(check_sqlite_file(layout.sim_broker_dir / "sim_broker.db", "sim broker db"))
    if backup is not None:
        checks += check_backup(backup)
    return checks


# --------------------------------------------------------------------------- config
def secret_file_warnings(layout: Layout) -> list[str]:
    """Secret files (.env and the like) in the root or the config dir that group or others
    may read."""
    warnings = []
    for base in dict.fromkeys((layout.root, layout.config_dir)):
        if not base.is_dir():
            continue
        for path in sorted(base.iterdir()):
            if path.is_file() and is_secret_file(path):
                mode = stat.S_IMODE(path.stat().st_mode)
                if mode & 0o044:
                    warnings.append(f"{path}: readable by group/others (mode {mode:04o}); run chmod 600 {path}")
    return warnings


def verify_config(config_dir: Path) -> tuple[list[str], list[str]]:
    """(errors as `file: field: reason` lines, warnings) of the configuration in `config_dir`."""
    from pyrt.bootstrap import app_problems

    return app_problems(Path(config_dir)), secret_file_warnings(Layout.defaults(Path(config_dir)))
