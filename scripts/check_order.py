#!/usr/bin/env python3
"""Status, fills and average price of one order:
`python scripts/check_order.py --order-id abc123` (our client_order_id or the broker's id).

A thin wrapper of `pyrt order` (see `pyrt order --help`); scripts/_pyrt_script.py runs it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pyrt_script import run

if __name__ == "__main__":
    run("order", __file__)
