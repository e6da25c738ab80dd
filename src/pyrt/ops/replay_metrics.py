"""The last `pyrt backtest replay`'s mismatches on the control process's /metrics: the
replay writes `run/last_replay.json` (kinds and counts, the day, when); the metrics gateway
reads it at each scrape (`replay_families`) and serves

    backtest_replay_mismatches{kind="missed|extra|price_gap|time_gap"}
    backtest_replay_passed            1 when the last replay was within its threshold
    backtest_replay_timestamp_seconds when it ran

No families before the first replay."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pyrt.ops.gateway import Family, Sample

FILE = "last_replay.json"


def state_path(cfg: Any) -> Path:
    return Path(cfg.system.paths.run_dir) / FILE


def write_last_replay(cfg: Any, day: str, mismatches: dict[str, int], passed: bool) -> Path:
    from pyrt.ops.service_control import write_json_atomic

    path = state_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"date": day, "mismatches": mismatches, "passed": passed, "ts": time.time()})
    return path


def replay_families(cfg: Any) -> list[Family]:
    try:
        state = json.loads(state_path(cfg).read_text())
        counts = {str(k): int(v) for k, v in state["mismatches"].items()}
        passed, ts = bool(state["passed"]), float(state["ts"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    mism = Family("backtest_replay_mismatches", "Mismatches of the last pyrt backtest replay by kind", "gauge")
    mism.samples = [Sample(mism.name, [("kind", k)], str(v)) for k, v in sorted(counts.items())]
    ok = Family("backtest_replay_passed", "1 when the last replay's mismatches were within its threshold", "gauge")
    ok.samples = [Sample(ok.name, [], "1" if passed else "0")]
    when = Family("backtest_replay_timestamp_seconds", "When the last replay ran (Unix time)", "gauge")
    when.samples = [Sample(when.name, [], repr(ts))]
    return [mism, ok, when]
