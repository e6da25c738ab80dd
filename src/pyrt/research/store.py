"""The sweep's resume file: one JSON row per finished task (`runs.jsonl` in the output
folder), appended and flushed as each task finishes, so an interrupted sweep keeps what it
finished and a rerun skips every task whose key is already there. Keys hash the parameter
set, the bar range and the data/config/settings (`sweep.task_key`): a rerun on other data or
another config runs everything again. A torn last line (the process killed mid-write) is
ignored and the task runs again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RUNS_FILE = "runs.jsonl"


class RunStore:
    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / RUNS_FILE
        self.rows: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        good_end = 0
        with self.path.open("rb") as f:
            for raw in f:
                try:
                    row = json.loads(raw)
                except ValueError:
                    break  # a torn last line: drop it and what follows
                if not raw.endswith(b"\n"):
                    break
                if isinstance(row, dict) and isinstance(row.get("key"), str):
                    self.rows[row["key"]] = row
                good_end += len(raw)
        if good_end != self.path.stat().st_size:
            with self.path.open("r+b") as f:
                f.truncate(good_end)

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def get(self, key: str) -> dict[str, Any] | None:
        return self.rows.get(key)

    def add(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, sort_keys=True, allow_nan=False) + "\n"
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.rows[row["key"]] = row
