"""The one launcher behind the guide's Python scripts (manual_trade.py, check_order.py,
liquidate_positions.py, reconcile_positions.py, monitor_zmq.py): each runs one `pyrt`
subcommand with the script's arguments.

They work with the repository's .venv python or a system python: when pyrt is not
importable, the script re-runs itself with .venv/bin/python if there is one, else puts the
repository's src/ on sys.path. Without --config-dir / PYRT_CONFIG_DIR and no ./config,
the repository's config/ is used."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_REEXEC = "PYRT_SCRIPT_REEXEC"


def _ensure_pyrt(script: Path) -> None:
    try:
        import pyrt  # noqa: F401

        return
    except ImportError:
        pass
    venv_python = REPO / ".venv" / "bin" / "python"
    # the venv's python is usually a symlink to the system one: compare prefixes, not binaries
    if (
        venv_python.exists()
        and Path(sys.prefix).resolve() != venv_python.parents[1].resolve()
        and not os.environ.get(_REEXEC)
    ):
        os.environ[_REEXEC] = "1"
        os.execv(str(venv_python), [str(venv_python), str(script), *sys.argv[1:]])
    sys.path.insert(0, str(REPO / "src"))


def run(subcommand: str, script: str) -> None:
    """Run `pyrt <subcommand> <the script's arguments>`."""
    path = Path(script).resolve()
    _ensure_pyrt(path)
    if "PYRT_CONFIG_DIR" not in os.environ and not Path("config").is_dir():
        os.environ["PYRT_CONFIG_DIR"] = str(REPO / "config")
    from pyrt.ops.cli import app

    app([subcommand, *sys.argv[1:]], prog_name=path.name)
