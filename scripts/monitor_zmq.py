#!/usr/bin/env python3
"""ZeroMQ message flow monitor: `python scripts/monitor_zmq.py --port 5555 --interval 1`.

A thin wrapper of `pyrt monitor` (see `pyrt monitor --help`); scripts/_pyrt_script.py runs it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pyrt_script import run

if __name__ == "__main__":
    run("monitor", __file__)
