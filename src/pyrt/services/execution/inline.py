"""The execution stage run synchronously in one thread: the same `ExecutionCore`, its effects
executed at once against any `VenuePort` and an in-memory journal. What unit tests and a
backtester drive with a manual clock; the live shell (`service.py`) executes the same
effects with a journal file, sockets and worker threads.

A broker answer is handled once the effects already due have run (the live order: the
shell publishes a journalled step while the POST is on its way). Answers can be held back
(`hold_answers=True`) and delivered later with `deliver()`, so a test can interleave them
with timers the way threads interleave them live.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import msgspec

from pyrt.domain.events import JournalRecord
from pyrt.persistence.journal import JournalWriteError
from pyrt.services.execution.core import Admission, ExecutionCore
from pyrt.services.execution.messages import (
    Alert,
    BrokerResult,
    CancelAll,
    Count,
    Effect,
    Entry,
    Halted,
    Journal,
    Lookup,
    Publish,
    ReadBroker,
    Submit,
    lookup_result,
    read_result,
    submit_result,
)
from pyrt.venues.port import VenuePort


@dataclass
class MemoryJournal:
    """Append-only records in memory, numbered like the journal file's; `fail_next` makes
    the next append raise JournalWriteError (nothing appended)."""

    records: list[JournalRecord] = field(default_factory=list)
    fail_next: bool = False
    keep: bool = True  # False: records are numbered and applied but not kept (a long backtest)
    count: int = 0

    def append_records(self, entries: list[Entry], ts_ns: int) -> list[JournalRecord]:
        if self.fail_next:
            self.fail_next = False
            raise JournalWriteError("disk full (simulated)")
        start = self.count + 1
        # stored as the journal file stores them: the event's JSON object, read back
        new = [
            JournalRecord(start + i, ts_ns, kind.value, coid, msgspec.json.decode(msgspec.json.encode(event)))
            for i, (kind, coid, event) in enumerate(entries)
        ]
        self.count += len(new)
        if self.keep:
            self.records += new
        return new


class InlineExecution:
    def __init__(
        self, core: ExecutionCore, venue: VenuePort, *, hold_answers: bool = False, keep_journal: bool = True
    ) -> None:
        self.core = core
        self.venue = venue
        self.journal = MemoryJournal(keep=keep_journal)
        self.hold_answers = hold_answers
        self.answers: deque[BrokerResult] = deque()
        self.published: list[Publish] = []
        self.alerts: list[Alert] = []
        self.halts: list[Halted] = []
        self.counts: list[Count] = []
        self.sent: list[tuple[str, int]] = []  # (client_order_id, journal length) as each POST left
        self.cancel_alls = 0

    # ------------------------------------------------------------------ inputs
    def intent(self, intent: Any, tick_ns: int = 0) -> Admission:
        adm, effects = self.core.on_intent(intent, tick_ns)
        if not self.run(effects):
            return adm.journal_failed()
        return adm

    def handle(self, msg: BrokerResult) -> None:
        self.run(self.core.handle(msg))

    def tick(self) -> None:
        self.run(self.core.on_timer())

    def deliver(self) -> int:
        """Hand every held broker answer to the core (and what those cause, until quiet)."""
        n = 0
        while self.answers:
            n += 1
            self.handle(self.answers.popleft())
        return n

    # ------------------------------------------------------------------ effects
    def run(self, effects: list[Effect]) -> bool:
        todo: deque[Effect] = deque(effects)
        while todo:
            effect = todo.popleft()
            match effect:
                case Journal(entries):
                    try:
                        records = self.journal.append_records(list(entries), self.core.clock.now_ns())
                    except JournalWriteError as exc:
                        self.run(self.core.on_journal_failed(str(exc), todo))
                        return False
                    todo.extend(self.core.apply(records))
                case Submit(coid, intent, _tick):
                    self.sent.append((coid, self.journal.count))
                    self._answer(submit_result(coid, partial(self.venue.submit_order, coid, intent)))
                case Lookup(coid):
                    self._answer(lookup_result(coid, self.venue))
                case ReadBroker(kind):
                    self._answer(read_result(kind, self.venue))
                case Publish():
                    self.published.append(effect)
                case Alert():
                    self.alerts.append(effect)
                case Halted():
                    self.halts.append(effect)
                case Count():
                    self.counts.append(effect)
                case CancelAll():
                    self.cancel_alls += 1
                    self.venue.cancel_all_orders()
        if not self.hold_answers:
            self.deliver()
        return True

    def _answer(self, result: BrokerResult) -> None:
        """The broker's answer arrives after the effects already due (as live, where the
        POST runs on a worker while the shell publishes the journalled step)."""
        self.answers.append(result)
