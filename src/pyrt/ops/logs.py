"""`pyrt logs`: the last lines of logs/<service>.log, or of every log merged in time order
(like `tail -n N logs/*.log`), optionally followed as they grow (`tail -f`), surviving
truncation and rotation."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pyrt.config import SERVICE_NAMES

_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


@dataclass
class LogFile:
    """A log file being read: `label` prefixes its lines when several files are shown."""

    label: str
    path: Path
    offset: int = 0
    inode: int | None = None


def log_files(logs_dir: Path, service: str | None) -> list[LogFile]:
    """One service's log file, or the four services' logs plus any other *.log there."""
    if service is not None:
        return [LogFile(service, logs_dir / f"{service}.log")]
    names = list(SERVICE_NAMES) + sorted(p.stem for p in logs_dir.glob("*.log") if p.stem not in SERVICE_NAMES)
    return [LogFile(name, logs_dir / f"{name}.log") for name in names]


def record_time(line: str) -> str:
    """The sortable timestamp that starts a log record ('' for a continuation line)."""
    if _STAMP.match(line):
        return line[:24]
    if line.startswith("{"):
        try:
            return str(json.loads(line).get("ts", ""))
        except (ValueError, AttributeError):
            return ""
    return ""


def _records(lines: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Lines grouped into records (a traceback stays with the line that logged it)."""
    records: list[tuple[str, list[str]]] = []
    for line in lines:
        stamp = record_time(line)
        if stamp or not records:
            records.append((stamp, [line]))
        else:
            records[-1][1].append(line)
    return records


def _tail_lines(path: Path, n: int) -> list[str]:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            block, data = 8192, b""
            while size > 0 and data.count(b"\n") <= n:
                step = min(block, size)
                size -= step
                fh.seek(size)
                data = fh.read(step) + data
                block *= 2
    except FileNotFoundError:
        return []
    return data.decode(errors="replace").splitlines()[-n:] if n > 0 else []


def merged_tail(files: Iterable[LogFile], n: int) -> list[str]:
    """The last `n` lines of each file, merged by record timestamp, prefixed with the
    file's label when there is more than one file."""
    files = list(files)
    prefix = len(files) > 1
    width = max((len(f.label) for f in files), default=0)
    tagged: list[tuple[str, int, list[str]]] = []
    for index, f in enumerate(files):
        for stamp, lines in _records(_tail_lines(f.path, n)):
            shown = [f"{f.label:<{width}} | {line}" for line in lines] if prefix else lines
            tagged.append((stamp, index, shown))
    tagged.sort(key=lambda t: t[0])  # stable: each file's own order is kept
    return [line for _, _, lines in tagged for line in lines]


def _read_new(f: LogFile) -> list[str]:
    """Complete new lines of `f` since the last read (reopens after rotation/truncation)."""
    try:
        stat = f.path.stat()
    except FileNotFoundError:
        return []
    if f.inode is not None and (stat.st_ino != f.inode or stat.st_size < f.offset):
        f.offset = 0
    f.inode = stat.st_ino
    if stat.st_size <= f.offset:
        return []
    with f.path.open("rb") as fh:
        fh.seek(f.offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    f.offset += end
    return data[:end].decode(errors="replace").splitlines()


def follow(files: Sequence[LogFile], out: TextIO, stop: threading.Event, poll_s: float = 0.25) -> None:
    """Print lines appended to `files` (from their current end) until `stop` is set."""
    prefix = len(files) > 1
    width = max((len(f.label) for f in files), default=0)
    for f in files:
        try:
            stat = f.path.stat()
            f.offset, f.inode = stat.st_size, stat.st_ino
        except FileNotFoundError:
            f.offset, f.inode = 0, None
    while not stop.is_set():
        for f in files:
            out.writelines(f"{f.label:<{width}} | {line}\n" if prefix else f"{line}\n" for line in _read_new(f))
        out.flush()
        stop.wait(poll_s)
