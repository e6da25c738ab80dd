"""Sequence tracking (gaps, duplicates, restarts) and the shared receive pipeline."""

from __future__ import annotations

import logging

import pytest

from pyrt.bus import schema as s
from pyrt.domain.clock import ManualClock

Q = s.QuoteMsg("AAPL", 1.0, 1.0, 2.0, 1.0, 1)


def env(seq: int, epoch: int = 1, publisher: str = "md") -> s.Envelope:
    return s.Envelope(s.SCHEMA_VERSION, publisher, epoch, seq, 0, 0, "", Q)


def test_in_order_stream_reports_nothing() -> None:
    tracker = s.SeqTracker()
    assert all(tracker.observe("t", env(n)) is None for n in range(1, 50))
    stats = tracker.stats()
    assert stats == {"gaps": 0, "missing": 0, "duplicates": 0, "restarts": 0, "streams": 1}


def test_gap_is_reported_with_missing_count() -> None:
    tracker = s.SeqTracker()
    tracker.observe("t", env(4))
    info = tracker.observe("t", env(10))
    assert info == s.GapInfo("gap", "md", "t", 1, expected=5, received=10, missing=5)
    assert info.deliver
    assert tracker.observe("t", env(11)) is None
    assert (tracker.gaps, tracker.missing) == (1, 5)


def test_duplicates_and_old_seqs_are_not_delivered() -> None:
    tracker = s.SeqTracker()
    for n in (1, 2, 3):
        tracker.observe("t", env(n))
    dup = tracker.observe("t", env(3))
    old = tracker.observe("t", env(1))
    assert dup is not None and dup.kind == "duplicate" and not dup.deliver
    assert old is not None and old.kind == "duplicate"
    assert tracker.duplicates == 2
    assert tracker.observe("t", env(4)) is None  # baseline unchanged by duplicates


def test_new_epoch_is_a_restart_not_a_gap() -> None:
    tracker = s.SeqTracker()
    for n in (1, 2, 3):
        tracker.observe("t", env(n, epoch=100))
    info = tracker.observe("t", env(1, epoch=200))
    assert info is not None and (info.kind, info.deliver, info.epoch) == ("restart", True, 200)
    assert (tracker.gaps, tracker.restarts) == (0, 1)
    assert tracker.observe("t", env(2, epoch=200)) is None
    stale = tracker.observe("t", env(4, epoch=100))
    assert stale is not None and (stale.kind, stale.deliver) == ("stale_epoch", False)


def test_streams_are_per_publisher_and_topic() -> None:
    tracker = s.SeqTracker()
    tracker.observe("a", env(1))
    tracker.observe("b", env(1))  # another topic: its own stream
    tracker.observe("a", env(1, publisher="other"))
    assert tracker.observe("a", env(2)) is None
    assert tracker.stats()["streams"] == 3
    assert tracker.last_seq("md", "a") == (1, 2)


def test_resync_after_snapshot_drops_older_messages() -> None:
    tracker = s.SeqTracker()
    tracker.observe("t", env(1))
    tracker.observe("t", env(5))  # gap 2..4 -> snapshot taken at seq 8
    tracker.resync("md", "t", 1, 8)
    assert tracker.observe("t", env(7)).kind == "duplicate"  # type: ignore[union-attr]
    assert tracker.observe("t", env(9)) is None


def frame(seq: int, topic: str = "md.quote.AAPL") -> bytes:
    return s.encode(topic, env(seq))


def test_intake_delivers_tracks_and_drops(caplog: pytest.LogCaptureFixture) -> None:
    gaps: list[s.GapInfo] = []
    intake = s.FrameIntake(max_frame_bytes=4096, on_gap=gaps.append)
    bad = b"md.quote.AAPL\x00garbage"
    with caplog.at_level(logging.WARNING, logger="pyrt.bus"):
        results = [intake.accept(f) for f in (frame(1), bad, frame(2), frame(2), b"x" * 5000, b"nosep", frame(5))]
    delivered = [r[1].seq for r in results if r is not None]
    assert delivered == [1, 2, 5]
    assert intake.dropped == {"malformed": 1, "duplicate": 1, "oversized": 1, "no_separator": 1}
    assert [(g.kind, g.missing) for g in gaps] == [("gap", 2)]
    assert s.frame_hash(bad) in caplog.text


def test_intake_swallows_probes_and_can_skip_tracking() -> None:
    intake = s.FrameIntake(track=False)
    assert intake.accept(frame(1, s.PROBE_PREFIX + "abc")) is None
    assert intake.probes_seen == {s.PROBE_PREFIX + "abc"}
    assert intake.accept(frame(3)) is not None
    assert intake.accept(frame(3)) is not None  # no tracking: no duplicate detection
    assert intake.tracker.stats()["streams"] == 0


def test_drop_logging_is_throttled(caplog: pytest.LogCaptureFixture) -> None:
    intake = s.FrameIntake()
    with caplog.at_level(logging.WARNING, logger="pyrt.bus"):
        for _ in range(50):
            intake.accept(b"junk")
    assert intake.dropped == {"no_separator": 50}
    assert len(caplog.records) == s.FrameIntake.LOG_FIRST


def test_factory_epoch_comes_from_the_clock() -> None:
    clock = ManualClock(123)
    assert s.EnvelopeFactory("x", clock).epoch == 123
