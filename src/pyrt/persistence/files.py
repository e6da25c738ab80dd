"""Writing a small file so a reader sees the old content or the new, never half of it."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, *, durable: bool = False) -> None:
    """Write to a temporary file beside ``path`` and rename it over ``path``. ``durable``
    also fsyncs the content before the rename (it then survives a power loss, not only a
    crash of this process). The temporary name is unique per process and thread."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)
