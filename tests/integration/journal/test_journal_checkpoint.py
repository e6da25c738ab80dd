"""The journal's WAL is checkpointed by a background thread, never inside a commit."""

from pathlib import Path

from pyrt.persistence.checkpoint import WalCheckpointer
from pyrt.persistence.journal import Journal
from tests.support.deploy import wait_for


def test_commits_never_checkpoint_and_the_background_thread_does(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        assert journal._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        journal._checkpointer.stop()  # hold it, to see that commits alone never checkpoint
        for i in range(1200):  # well past SQLite's default 1,000-page automatic checkpoint
            journal.append("audit", "", {"n": i, "pad": "x" * 500})
        assert Path(f"{path}-wal").stat().st_size > 1000 * 4096  # no commit copied it back
        checkpointer = WalCheckpointer(path, "test-checkpoint", interval_s=0.05)
        checkpointer.start()
        try:
            busy, frames, copied = wait_for(lambda: checkpointer.last, 10, "a background checkpoint")
            assert busy == 0 and frames > 1000 and copied == frames  # all of it, while the writer is open
            journal.append("audit", "", {"n": "after"})  # and the writer goes on
        finally:
            checkpointer.stop()
        assert len(list(journal.iter_records())) == 1201
