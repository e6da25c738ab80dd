#!/usr/bin/env python3
"""Status, fills and average price of one order:
`python scripts/check_order.py --order-id abc123` (our client_order_id or the broker's id).

A thin wrapper of `pyrt order` (see `pyrt order --help`); arguments are passed through, and
--config-dir / PYRT_CONFIG_DIR are honoured (default: ./config, else the repository's).
Runs with the repository's .venv python when pyrt is not importable by the interpreter
that started it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMAND = "order"


def _ensure_pyrt() -> None:
    try:
        import pyrt  # noqa: F401
        return
    except ImportError:
        pass
    venv_python = REPO / ".venv" / "bin" / "python"
    # (the venv's python is usually a symlink to the system one: compare prefixes, not binaries)
    if venv_python.exists() and Path(sys.prefix).resolve() != venv_python.parents[1].resolve() \
            and not os.environ.get("PYRT_SCRIPT_REEXEC"):
        os.environ["PYRT_SCRIPT_REEXEC"] = "1"
        os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.path.insert(0, str(REPO / "src"))


def main() -> None:
    _ensure_pyrt()
    if "PYRT_CONFIG_DIR" not in os.environ and not Path("config").is_dir():
        os.environ["PYRT_CONFIG_DIR"] = str(REPO / "config")
    import typer

    from pyrt.ops.commands import trading

    app = typer.Typer(add_completion=False)
    app.command()(getattr(trading, COMMAND))
    app(prog_name=Path(__file__).name)


if __name__ == "__main__":
    main()
