"""The deployment's bus key for a test's own sockets.

Why: since the bus uses CURVE (``pyrt.bus.security``) a service admits only peers holding
the system key pair of its deployment (``<data_dir>/bus_keys``). A test's stand-in
publisher or subscriber, or a RequestClient to a service, must hold the same key, and say
so explicitly: the process default (``PROCESS``) is only set while a service runs in the
test process, and never when the service is a subprocess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyrt.bus.security import BusSecurity, for_config
from pyrt.config import load_config


def bus_key(deployment: Any) -> BusSecurity:
    """The bus security of a deployment, given its loaded config or its config directory
    (the keys are created on first use, exactly as the first service to start would)."""
    cfg = load_config(deployment) if isinstance(deployment, (str, Path)) else deployment
    return for_config(cfg)
