"""`pyrt logs`: merged tails in time order, following through truncation."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from pyrt.ops.logs import LogFile, _read_new, follow, log_files, merged_tail


def _write(path: Path, *lines: str) -> None:
    with path.open("a") as fh:
        fh.writelines(f"{line}\n" for line in lines)


def test_logs_of_several_services_merge_by_time_keeping_tracebacks_together(tmp_path: Path) -> None:
    _write(
        tmp_path / "market_data.log",
        "2026-01-01T10:00:01.000Z INFO  market_data a",
        "2026-01-01T10:00:03.000Z ERROR market_data boom",
        "Traceback (most recent call last):",
        "  x",
    )
    _write(tmp_path / "risk_manager.log", "2026-01-01T10:00:02.000Z INFO  risk_manager b")
    files = [f for f in log_files(tmp_path, None) if f.path.exists()]
    lines = merged_tail(files, 50)
    assert [line.split(" | ", 1)[1] for line in lines] == [
        "2026-01-01T10:00:01.000Z INFO  market_data a",
        "2026-01-01T10:00:02.000Z INFO  risk_manager b",
        "2026-01-01T10:00:03.000Z ERROR market_data boom",
        "Traceback (most recent call last):",
        "  x",
    ]
    assert lines[1].startswith("risk_manager")


def test_one_service_shows_its_last_lines_without_prefix(tmp_path: Path) -> None:
    _write(tmp_path / "market_data.log", *(f"2026-01-01T10:00:0{i}.000Z INFO  market_data {i}" for i in range(5)))
    lines = merged_tail(log_files(tmp_path, "market_data"), 2)
    assert lines == ["2026-01-01T10:00:03.000Z INFO  market_data 3", "2026-01-01T10:00:04.000Z INFO  market_data 4"]
    assert log_files(tmp_path, None)[0].label == "market_data"


def test_following_reads_new_complete_lines_and_restarts_after_truncation(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    _write(path, "old")
    f = LogFile("x", path, offset=path.stat().st_size, inode=path.stat().st_ino)
    _write(path, "new 1")
    with path.open("a") as fh:
        fh.write("partial")
    assert _read_new(f) == ["new 1"]
    path.write_text("fresh\n")
    assert _read_new(f) == ["fresh"]
    stop = threading.Event()
    stop.set()
    out = io.StringIO()
    follow([f], out, stop)
    assert out.getvalue() == ""
