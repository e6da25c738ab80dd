#!/usr/bin/env python3
"""Manual trade through the risk checks, e.g.
`python scripts/manual_trade.py --symbol AAPL --action buy --quantity 10 --order-type market`
(a limit order: `--order-type limit --limit-price 150`).

A thin wrapper of `pyrt trade` (see `pyrt trade --help`); scripts/_pyrt_script.py runs it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pyrt_script import run

if __name__ == "__main__":
    run("trade", __file__)
