"""The audit log: every manual action (who, from where, when, what, why, the state before
and after, the result) is appended to the journal (kind "audit") and written to the log.
`pyrt audit` reads it back."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyrt.domain.events import RecordKind
from pyrt.persistence.journal import Journal

log = logging.getLogger("pyrt.audit")


@dataclass(frozen=True)
class Caller:
    """Who asked: the token's name (or `cli:<user>`) and from where."""

    name: str
    source: str


class AuditLog:
    def __init__(self, journal_path: Path) -> None:
        self.journal_path = journal_path

    def record(self, caller: Caller, action: str, reason: str, before: Any, after: Any, result: Any) -> None:
        """Append one audit entry (a journal write, committed) and log it. A failed journal
        write is logged loudly and re-raised: an unaudited manual action must not pass silently."""
        entry = {
            "who": caller.name,
            "from": caller.source,
            "action": action,
            "reason": reason,
            "before": before,
            "after": after,
            "result": result,
            "at": time.time(),
        }
        log.warning(
            "audit who=%s from=%s action=%s reason=%r result=%s", caller.name, caller.source, action, reason, result
        )
        with Journal(self.journal_path) as journal:
            journal.append(RecordKind.AUDIT, "", entry)

    def entries(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest `limit` audit entries, oldest first."""
        if not self.journal_path.exists():
            return []
        with Journal(self.journal_path, read_only=True) as journal:
            found = [dict(r.payload, seq=r.seq) for r in journal.iter_records() if r.kind == RecordKind.AUDIT]
        return found[-limit:]
