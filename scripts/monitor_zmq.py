#!/usr/bin/env python3
"""ZeroMQ message flow monitor: `python scripts/monitor_zmq.py --port 5555 --interval 1`.

A wrapper of `pyrt monitor` (see its --help). Runs with the repository's .venv python when
pyrt is not importable by the interpreter that started it, else with the repository's src/
on sys.path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _ensure_pyrt() -> None:
    try:
        import pyrt  # noqa: F401
        return
    except ImportError:
        pass
    venv_python = REPO / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.executable).resolve() != venv_python.resolve() \
            and not os.environ.get("PYRT_MONITOR_REEXEC"):
        os.environ["PYRT_MONITOR_REEXEC"] = "1"
        os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.path.insert(0, str(REPO / "src"))


def main() -> None:
    _ensure_pyrt()
    if "PYRT_CONFIG_DIR" not in os.environ and not Path("config").is_dir():
        os.environ["PYRT_CONFIG_DIR"] = str(REPO / "config")
    from pyrt.ops.cli import app

    app(["monitor", *sys.argv[1:]], prog_name="monitor_zmq.py")


if __name__ == "__main__":
    main()
