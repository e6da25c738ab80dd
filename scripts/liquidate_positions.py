#!/usr/bin/env python3
"""Close every position with market orders, wait for the fills, report the final P&L:
`python scripts/liquidate_positions.py --confirm` (without --confirm: a dry run).

A thin wrapper of `pyrt liquidate` (see `pyrt liquidate --help`); scripts/_pyrt_script.py runs it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pyrt_script import run

if __name__ == "__main__":
    run("liquidate", __file__)
