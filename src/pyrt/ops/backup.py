"""Backups of a deployment and restoring them (`pyrt backup`, `pyrt restore`).

A backup is one archive `pyrt-backup-<UTC stamp>.tar.gz` in the backups dir holding
`configs/` (config files, never secrets), `logs/` (each log gzipped), `data/` (SQLite
databases such as the journal and the sim broker state copied with SQLite's online backup
API, so the copy is consistent while the system runs; other files copied as they are),
`models/` (if present) and `MANIFEST` (JSON: SHA-256 and size of every file, creation time,
the journal's last seq, host, pyrt version).

A restore refuses while any py_rt process runs, verifies every hash before touching
anything, moves the current config and data dirs aside into `<root>/.pre-restore-<stamp>/`
(never deletes them) and puts the archive's in their place. Secret files of the current
config and data dirs (e.g. `config/.env`, `data/api_token`, `data/bus_keys/`) are carried
over, since backups never hold them: automation using the API token keeps working. The sim
broker's own state (`sim_broker.data_dir`) is the venue, the outside world: a restore keeps
the current one (the venue does not forget fills because we restored ours) unless asked to
roll it back too (`include_venue`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pyrt.domain.errors import NeedsOperator

if TYPE_CHECKING:
    from pyrt.config import AppConfig

ARCHIVE_PREFIX = "pyrt-backup-"
ARCHIVE_SUFFIX = ".tar.gz"
MANIFEST_NAME = "MANIFEST"
MANIFEST_FORMAT = 1
PRE_RESTORE_PREFIX = ".pre-restore-"
SQLITE_MAGIC = b"SQLite format 3\x00"
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^pyrt-backup-(\d{8}T\d{6}Z)(?:-(\d+))?\.tar\.gz$")
_SIDECARS = ("-wal", "-shm", "-journal", ".tmp", ".partial")
_SECRET_WORDS = ("secret", "token", "credential", "password", "passwd")
_SECRET_SUFFIXES = {".key", ".pem", ".p12", ".pfx", ".keystore", ".jks"}
_CHUNK = 1 << 20


class BackupError(NeedsOperator):
    """A backup or restore cannot be done as asked; nothing was changed."""


class SystemRunning(BackupError):
    """py_rt processes are running; `processes` lists (name, pid)."""

    def __init__(self, processes: list[tuple[str, int]]) -> None:
        self.processes = processes
        names = ", ".join(f"{n} (pid {p})" for n, p in processes)
        super().__init__(
            f"py_rt is running: {names}. Stop the system first (./scripts/stop_trading_system.sh "
            f"or `pyrt down`), then restore."
        )


# --------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class Layout:
    """Where a deployment keeps what a backup holds (absolute paths)."""

    root: Path
    config_dir: Path
    data_dir: Path
    logs_dir: Path
    models_dir: Path
    backups_dir: Path
    run_dir: Path
    journal_path: Path
    risk_state_path: Path
    sim_broker_dir: Path

    @classmethod
    def from_config(cls, cfg: AppConfig) -> Layout:
        """The paths of a loaded configuration."""
        p, s = cfg.config_dir, cfg.system
        return cls(
            cfg.root,
            p,
            s.paths.data_dir,
            s.paths.logs_dir,
            s.paths.models_dir,
            s.paths.backups_dir,
            s.paths.run_dir,
            s.execution.journal_path,
            s.risk.state_path,
            s.sim_broker.data_dir,
        )

    @classmethod
    def defaults(cls, config_dir: Path) -> Layout:
        """The paths of an unmodified system.json, for when the configuration cannot be loaded."""
        from pyrt.config import SystemConfig, resolve_root

        config_dir = Path(config_dir).resolve()
        root = resolve_root(config_dir, os.environ)
        s = SystemConfig.model_validate({})
        at = lambda p: p if p.is_absolute() else root / p  # noqa: E731
        return cls(
            root,
            config_dir,
            at(s.paths.data_dir),
            at(s.paths.logs_dir),
            at(s.paths.models_dir),
            at(s.paths.backups_dir),
            at(s.paths.run_dir),
            at(s.execution.journal_path),
            at(s.risk.state_path),
            at(s.sim_broker.data_dir),
        )


def is_secret_file(path: Path | str) -> bool:
    """True for files that may hold credentials and never go into a backup: `.env`,
    `.env.*`, `*.env`, key and certificate stores, and names mentioning secret, token,
    credential or password. The bus keys directory (`<data_dir>/bus_keys`, pyrt.bus.security)
    is left out whole: a restore on a host without it creates a new pair at first start,
    which must then be copied to the other hosts (README, "Bus keys")."""
    name = PurePosixPath(path).name.lower()
    if "bus_keys" in PurePosixPath(path).parts:
        return True
    return (
        name == ".env"
        or name.startswith(".env.")
        or name.endswith(".env")
        or PurePosixPath(name).suffix in _SECRET_SUFFIXES
        or any(w in name for w in _SECRET_WORDS)
    )


# --------------------------------------------------------------------------- names and selection
@dataclass(frozen=True, order=True)
class BackupInfo:
    """One archive found in a backups dir; ordered by creation time."""

    created: datetime
    index: int
    path: Path = field(compare=False)


def archive_name(created: datetime, index: int = 1) -> str:
    """pyrt-backup-20251021T140000Z.tar.gz (index > 1 adds -<index>)."""
    stamp = created.astimezone(UTC).strftime(_STAMP)
    return f"{ARCHIVE_PREFIX}{stamp}{'' if index <= 1 else f'-{index}'}{ARCHIVE_SUFFIX}"


def parse_archive_name(name: str) -> tuple[datetime, int] | None:
    """(creation time UTC, index) of an archive name, None if it is not one of ours."""
    match = _NAME.match(name)
    if match is None:
        return None
    created = datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)
    return created, int(match.group(2) or 1)


def list_backups(directory: Path) -> list[BackupInfo]:
    """The archives in `directory`, oldest first ([] if it does not exist)."""
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        parsed = parse_archive_name(entry.name)
        if parsed is not None and entry.is_file():
            found.append(BackupInfo(parsed[0], parsed[1], entry))
    return sorted(found)


def select_backup(backups: list[BackupInfo], at: datetime | None) -> BackupInfo | None:
    """The newest backup created at or before `at` (the newest of all when `at` is None)."""
    eligible = [b for b in backups if at is None or b.created <= at]
    return max(eligible) if eligible else None


def restore_moment(date: str, at_time: str | None = None, tz: str | None = None) -> datetime:
    """The UTC moment meant by --date YYYY-MM-DD [--time HH:MM[:SS]] [--tz ZONE]; without a
    time, the end of that day. Raises ValueError with a readable reason."""
    try:
        day = datetime.strptime(date, "%Y-%m-%d").date()  # noqa: DTZ007 - only the date part is used
    except ValueError:
        raise ValueError(f"--date {date!r}: expected YYYY-MM-DD") from None
    moment = time(23, 59, 59, 999999)
    if at_time is not None:
        for fmt in ("%H:%M", "%H:%M:%S"):
            try:
                moment = datetime.strptime(at_time, fmt).time()  # noqa: DTZ007 - naive wall time; zone applied below
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"--time {at_time!r}: expected HH:MM or HH:MM:SS")
    try:
        zone = ZoneInfo(tz) if tz else UTC
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"--tz {tz!r}: unknown time zone (e.g. UTC, America/New_York)") from None
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def prune_backups(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` archives of `directory`; return what was deleted."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    doomed = [b.path for b in list_backups(directory)[:-keep]]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


# --------------------------------------------------------------------------- manifest
def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def build_manifest(staging: Path, **info: Any) -> dict[str, Any]:
    """The MANIFEST of a staged backup tree: `info` plus path, size and SHA-256 of every file."""
    files = [
        {"path": rel, "size": (staging / rel).stat().st_size, "sha256": file_sha256(staging / rel)}
        for rel in _files_under(staging)
    ]
    return {"format": MANIFEST_FORMAT, **info, "files": files}


def _files_under(base: Path) -> list[str]:
    """Relative POSIX paths of the regular files below `base`, sorted."""
    out = []
    for dirpath, _dirs, names in os.walk(base):
        for name in names:
            out.append(Path(dirpath, name).relative_to(base).as_posix())
    return sorted(out)


@dataclass
class ArchiveCheck:
    """What `verify_archive` found: the manifest (None if unreadable) and every problem."""

    path: Path
    manifest: dict[str, Any] | None
    problems: list[str]

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems


def _safe_member(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(parts) and not PurePosixPath(name).is_absolute() and ".." not in parts


def verify_archive(path: Path) -> ArchiveCheck:
    """Check an archive against its MANIFEST without extracting it: every listed file
    present with its size and SHA-256, nothing unlisted, no unsafe member."""
    check = ArchiveCheck(Path(path), None, [])
    hashes: dict[str, tuple[int, str]] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if not _safe_member(member.name) or not (member.isfile() or member.isdir()):
                    check.problems.append(f"{member.name}: unsafe archive member")
                    continue
                if member.isfile() and member.name == MANIFEST_NAME:
                    check.manifest = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
                elif member.isfile():
                    hashes[member.name] = _member_digest(tar, member)
    except (OSError, tarfile.TarError, EOFError, ValueError) as exc:
        check.problems.append(f"cannot read archive: {exc}")
        return check
    if not isinstance(check.manifest, dict) or check.manifest.get("format") != MANIFEST_FORMAT:
        check.problems.append(f"{MANIFEST_NAME}: missing or not a format-{MANIFEST_FORMAT} manifest")
        check.manifest = None
        return check
    listed = {f["path"]: f for f in check.manifest.get("files", [])}
    for rel, entry in listed.items():
        if rel not in hashes:
            check.problems.append(f"{rel}: listed in the manifest but missing")
        elif hashes[rel] != (entry["size"], entry["sha256"]):
            check.problems.append(f"{rel}: SHA-256/size differ from the manifest (modified or corrupt)")
    for rel in sorted(set(hashes) - set(listed)):
        check.problems.append(f"{rel}: in the archive but not in the manifest")
    return check


def _member_digest(tar: tarfile.TarFile, member: tarfile.TarInfo) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    fh = tar.extractfile(member)
    assert fh is not None
    while chunk := fh.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


# --------------------------------------------------------------------------- creating
@dataclass(frozen=True)
class BackupResult:
    """A written archive: its path, size in bytes and manifest."""

    path: Path
    size: int
    manifest: dict[str, Any]


def sqlite_copy(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite database through the online backup API (one read
    snapshot; writers go on), stored as a self-contained file without WAL."""
    source = sqlite3.connect(f"{src.resolve().as_uri()}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def _walk_files(base: Path) -> Iterator[Path]:
    for dirpath, dirs, names in os.walk(base):
        dirs.sort()
        for name in sorted(names):
            yield Path(dirpath, name)


def _stage_tree(src: Path, dst: Path, kind: str, notes: list[str]) -> None:
    """Copy the files of `src` below `dst`: SQLite databases through the backup API, logs
    gzipped, secrets and SQLite side files (-wal, -shm, .tmp) left out."""
    if not src.is_dir():
        return
    for path in _walk_files(src):
        rel = path.relative_to(src)
        if is_secret_file(path):
            notes.append(f"left out secret file {path}")
            continue
        if path.name.endswith(_SIDECARS) or not path.is_file():
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if kind == "logs" and not path.name.endswith(".gz"):
                with open(path, "rb") as fin, gzip.open(target.with_name(target.name + ".gz"), "wb") as fout:
                    shutil.copyfileobj(fin, fout, _CHUNK)
            elif kind == "data" and _is_sqlite(path):
                sqlite_copy(path, target)
            else:
                shutil.copy2(path, target)
        except FileNotFoundError:
            notes.append(f"{path} vanished while copying (skipped)")


def _inside(path: Path, base: Path) -> bool:
    return path.resolve().is_relative_to(base.resolve())


def _new_archive_path(dest: Path, created: datetime) -> Path:
    index = 1
    while (dest / archive_name(created, index)).exists():
        index += 1
    return dest / archive_name(created, index)


def create_backup(layout: Layout, dest: Path | None = None, now: datetime | None = None) -> BackupResult:
    """Write a backup archive of `layout` into `dest` (default: the backups dir)."""
    from pyrt import __version__
    from pyrt.persistence.journal import Journal

    for what, path in (("journal_path", layout.journal_path), ("sim_broker.data_dir", layout.sim_broker_dir)):
        if path.exists() and not _inside(path, layout.data_dir):
            raise BackupError(
                f"{what} {path} lies outside the data dir {layout.data_dir}; "
                "backups cover state inside the data dir only"
            )
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    dest = Path(dest or layout.backups_dir).resolve()
    for src in (layout.config_dir, layout.logs_dir, layout.data_dir, layout.models_dir):
        if _inside(dest, src):
            raise BackupError(f"backup destination {dest} lies inside {src}, which is backed up")
    dest.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix=".backup-staging-", dir=dest) as tmp:
        staging = Path(tmp)
        for arc, src in (
            ("configs", layout.config_dir),
            ("logs", layout.logs_dir),
            ("data", layout.data_dir),
            ("models", layout.models_dir),
        ):
            _stage_tree(src, staging / arc, arc, notes)
        journal_rel = (
            Path("data") / layout.journal_path.resolve().relative_to(layout.data_dir.resolve())
            if _inside(layout.journal_path, layout.data_dir)
            else None
        )
        journal: dict[str, Any] | None = None
        if journal_rel is not None and (staging / journal_rel).is_file():
            with Journal(staging / journal_rel, read_only=True) as copy:
                journal = {"path": journal_rel.as_posix(), "last_seq": copy.last_seq()}
        manifest = build_manifest(
            staging,
            created_at=created.isoformat().replace("+00:00", "Z"),
            hostname=socket.gethostname(),
            pyrt_version=__version__,
            root=str(layout.root),
            journal=journal,
            notes=notes,
        )
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        final = _new_archive_path(dest, created)
        partial = final.with_name(final.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(staging / MANIFEST_NAME, arcname=MANIFEST_NAME)
            for rel in (f["path"] for f in manifest["files"]):
                tar.add(staging / rel, arcname=rel, recursive=False)
        os.chmod(partial, 0o600)
        os.replace(partial, final)
    return BackupResult(final, final.stat().st_size, manifest)


# --------------------------------------------------------------------------- restoring
def running_processes(run_dir: Path) -> list[tuple[str, int]]:
    """(name, pid) of every py_rt process alive per its pid file in `run_dir` (the
    supervisor and every target of `pyrt up`), by the rules of pyrt.ops.status."""
    from pyrt.ops.status import START_ORDER, SUPERVISOR, is_pyrt_process, read_pid

    found = []
    for name in (SUPERVISOR, *START_ORDER):
        pid = read_pid(run_dir / f"{name}.pid")
        if pid is not None and is_pyrt_process(pid):
            found.append((name, pid))
    return found


@dataclass
class RestoreResult:
    """What a restore did."""

    archive: Path
    manifest: dict[str, Any]
    aside: Path
    moved: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    kept_secrets: list[str] = field(default_factory=list)
    kept_venue: str | None = None  # the sim broker's state dir kept as it was (not rolled back)


def restore_backup(
    layout: Layout,
    archive: Path,
    include_models: bool = False,
    now: datetime | None = None,
    include_venue: bool = False,
) -> RestoreResult:
    """Restore `archive` into `layout`. Raises SystemRunning while py_rt runs and BackupError
    when the archive fails verification; in both cases nothing is changed. If moving fails
    half-way (OSError), what was moved is put back before the error propagates."""
    running = running_processes(layout.run_dir)
    if running:
        raise SystemRunning(running)
    check = verify_archive(archive)
    if not check.ok:
        raise BackupError(f"{archive} failed verification, nothing restored:\n  " + "\n  ".join(check.problems))
    assert check.manifest is not None
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime(_STAMP)
    layout.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-staging-", dir=layout.root) as tmp:
        staging = Path(tmp)
        _extract_verified(archive, check.manifest, staging)
        pairs = [("configs", "config", layout.config_dir), ("data", "data", layout.data_dir)]
        if include_models:
            pairs.append(("models", "models", layout.models_dir))
        aside = _new_dir(layout.root / f"{PRE_RESTORE_PREFIX}{stamp}")
        result = RestoreResult(Path(archive), check.manifest, aside)
        late = running_processes(layout.run_dir)  # started while we were verifying?
        if late:
            aside.rmdir()
            raise SystemRunning(late)
        keep_venue = None if include_venue else layout.sim_broker_dir
        try:
            _swap(pairs, staging, aside, result, keep_venue)
        except BaseException:
            if not any(aside.iterdir()):  # everything went back
                aside.rmdir()
            raise
    return result


def _new_dir(path: Path) -> Path:
    """Create `path`, or `path-2`, `path-3`... if it exists; return the one created."""
    candidate, index = path, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            index += 1
            candidate = path.with_name(f"{path.name}-{index}")


def _extract_verified(archive: Path, manifest: dict[str, Any], staging: Path) -> None:
    """Extract the manifest's files into `staging` and check their hashes again there."""
    wanted = {f["path"]: f for f in manifest["files"]}
    with tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name in wanted]
        tar.extractall(staging, members=members, filter="data")
    for rel, entry in wanted.items():
        path = staging / rel
        if not path.is_file() or file_sha256(path) != entry["sha256"]:
            raise BackupError(f"{rel}: extracted file does not match the manifest; nothing restored")


def _swap(
    pairs: list[tuple[str, str, Path]],
    staging: Path,
    aside: Path,
    result: RestoreResult,
    keep_venue: Path | None = None,
) -> None:
    """Move each live dir into `aside`, then the staged one into its place; undo all on failure.
    Secrets of the old config and data dirs are carried over; so is the venue's state
    `keep_venue` (a dir inside the data dir) when given."""
    done: list[tuple[Path, Path | None]] = []  # (live dir, where its old content went)
    venue: tuple[Path, Path] | None = None  # (the venue's state moved aside, its live place)
    try:
        for arc, label, live in pairs:
            old = None
            if live.exists():
                old = aside / label
                shutil.move(str(live), str(old))
                result.moved.append(f"{live} -> {old}")
            done.append((live, old))
            staged = staging / arc
            if staged.is_dir():
                shutil.move(str(staged), str(live))
            else:
                live.mkdir(parents=True)
            result.restored.append(f"{arc}/ -> {live}")
            if arc in ("configs", "data") and old is not None:
                result.kept_secrets += _carry_secrets(old, live)
            if arc == "data" and old is not None and keep_venue is not None and _inside(keep_venue, live):
                venue = (old / keep_venue.resolve().relative_to(live.resolve()), keep_venue)
        if venue is not None and venue[0].is_dir():
            venue_old, venue_live = venue
            if venue_live.exists():
                shutil.rmtree(venue_live)  # the archive's copy
            venue_live.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(venue_old), str(venue_live))  # a rename: the venue's files are not copied
            result.kept_venue = str(venue_live)
    except BaseException:
        if result.kept_venue and venue is not None:  # the venue's state goes back first
            shutil.move(str(venue[1]), str(venue[0]))
        for live, old in reversed(done):
            shutil.rmtree(live, ignore_errors=True)
            if old is not None:
                shutil.move(str(old), str(live))
        raise


def _carry_secrets(old_config: Path, new_config: Path) -> list[str]:
    """Copy secret files (never in backups) from the moved-aside config dir to the restored one."""
    kept = []
    for path in _walk_files(old_config):
        if is_secret_file(path) and path.is_file():
            target = new_config / path.relative_to(old_config)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            if "bus_keys" in target.relative_to(new_config).parts:
                target.parent.chmod(0o700)
            kept.append(str(target))
    return kept


def human_size(size: int) -> str:
    """1536 -> '1.5 KiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


__all__ = [
    "ArchiveCheck",
    "BackupError",
    "BackupInfo",
    "BackupResult",
    "Layout",
    "RestoreResult",
    "SystemRunning",
    "archive_name",
    "build_manifest",
    "create_backup",
    "file_sha256",
    "human_size",
    "is_secret_file",
    "list_backups",
    "parse_archive_name",
    "prune_backups",
    "restore_backup",
    "restore_moment",
    "running_processes",
    "select_backup",
    "sqlite_copy",
    "verify_archive",
]
