#!/usr/bin/env python3
"""Reconcile our positions and open orders with the broker:
`python scripts/reconcile_positions.py` (exit 1 on a mismatch; `--apply [--yes]` adopts the
broker's positions).

A thin wrapper of `pyrt reconcile` (see `pyrt reconcile --help`); scripts/_pyrt_script.py runs it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pyrt_script import run

if __name__ == "__main__":
    run("reconcile", __file__)
