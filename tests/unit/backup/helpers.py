"""A small deployment tree for backup tests, built without a configuration."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from pyrt.ops.backup import Layout
from pyrt.persistence.journal import Journal


def make_layout(root: Path, records: int = 5) -> Layout:
    """root/{config,data,logs,models} with a journal of `records` audit records, a risk
    state, a log, a model and secret files that must never be backed up."""
    layout = Layout(
        root=root,
        config_dir=root / "config",
        data_dir=root / "data",
        logs_dir=root / "logs",
        models_dir=root / "models",
        backups_dir=root / "backups",
        run_dir=root / "run",
        journal_path=root / "data" / "journal.db",
        risk_state_path=root / "data" / "risk_state.json",
        sim_broker_dir=root / "data" / "sim_broker",
    )
    for d in (layout.config_dir, layout.data_dir, layout.logs_dir, layout.models_dir):
        d.mkdir(parents=True)
    (layout.config_dir / "system.json").write_text('{"metadata": {"version": "1"}}\n')
    (layout.config_dir / "risk_limits.toml").write_text("max_shares = 500\n")
    (layout.logs_dir / "execution_engine.log").write_text("started\n" * 50)
    (layout.models_dir / "model.onnx").write_bytes(b"\x00model")
    layout.risk_state_path.write_text('{"book": {"positions": {}}}')
    with Journal(layout.journal_path) as journal:
        for i in range(records):
            journal.append("audit", "", {"n": i})
    return layout


SECRET_VALUE = "sk-live-DO-NOT-LEAK-0123456789"


def add_secrets(layout: Layout) -> list[Path]:
    """Secret files in the root, the config dir and the data dir."""
    paths = [
        layout.root / ".env",
        layout.config_dir / ".env",
        layout.config_dir / ".env.production",
        layout.config_dir / "alpaca.pem",
        layout.config_dir / "api_token.txt",
        layout.data_dir / "prod.env",
    ]
    for path in paths:
        path.write_text(f"APCA_API_SECRET_KEY={SECRET_VALUE}\n")
        os.chmod(path, 0o600)
    return paths


def rewrite_archive(src: Path, dst: Path, change: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> None:
    """Copy a tar.gz, replacing members named in `change` (None drops them) and adding `add`."""
    with tarfile.open(src, "r:gz") as tin, tarfile.open(dst, "w:gz") as tout:
        for member in tin.getmembers():
            if member.name in change:
                data = change[member.name]
                if data is None:
                    continue
                member.size = len(data)
                tout.addfile(member, io.BytesIO(data))
            else:
                tout.addfile(member, tin.extractfile(member) if member.isfile() else None)
        for name, data in (add or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
