"""Backup and recovery commands: `pyrt backup`, `pyrt restore`, `pyrt verify-data`,
`pyrt verify-config` (the implementations behind scripts/backup_system.sh,
restore_from_backup.sh, verify_data_integrity.sh and verify_config.sh)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pyrt.ops.commands.common import CONFIG_DIR_OPTION

if TYPE_CHECKING:
    from pyrt.ops.backup import Layout


def _layout(config_dir: Path) -> Layout:
    """The paths of the configuration; the default paths (with a warning) if it does not
    load, since restoring and checking must work when the config itself is damaged."""
    from pyrt.config import ConfigError, load_config
    from pyrt.ops.backup import Layout

    try:
        return Layout.from_config(load_config(config_dir))
    except ConfigError as exc:
        typer.echo(
            f"warning: the configuration in {config_dir} does not load ({len(exc.problems)} problems; "
            "see `pyrt verify-config`): using the default paths",
            err=True,
        )
        return Layout.defaults(config_dir)


def backup_cmd(
    config_dir: Path = CONFIG_DIR_OPTION,
    dest: Path | None = typer.Option(None, "--dest", help="Directory for the archive (default: the backups dir)."),
    keep: int | None = typer.Option(None, "--keep", min=1, help="Then keep only the newest N archives there."),
) -> None:
    """Write a timestamped backup archive of configs, logs, data and models.

    Configs never include secrets (.env); the journal and the sim broker db are copied with
    SQLite's online backup API, consistent while the system runs; a MANIFEST lists the
    SHA-256 of every file."""
    from pyrt.ops.backup import BackupError, Layout, create_backup, human_size, prune_backups
    from pyrt.ops.commands.common import load_or_exit

    layout = Layout.from_config(load_or_exit(config_dir))
    try:
        result = create_backup(layout, dest)
    except (BackupError, OSError) as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    counts: dict[str, int] = {}
    for entry in result.manifest["files"]:
        top = entry["path"].split("/", 1)[0]
        counts[top] = counts.get(top, 0) + 1
    journal = result.manifest["journal"]
    typer.echo(f"backup written: {result.path} ({human_size(result.size)})")
    typer.echo(
        f"  files: {sum(counts.values())} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}); "
        + (f"journal last seq {journal['last_seq']}" if journal else "no journal")
    )
    for note in result.manifest["notes"]:
        typer.echo(f"  note: {note}")
    if keep is not None:
        for old in prune_backups(result.path.parent, keep):
            typer.echo(f"  removed old backup {old.name} (--keep {keep})")


def _list(directory: Path, chosen: Path | None) -> None:
    from pyrt.ops.backup import human_size, list_backups

    backups = list_backups(directory)
    if not backups:
        typer.echo(f"no backups in {directory}")
        return
    typer.echo(f"backups in {directory} (oldest first):")
    for b in backups:
        mark = "  <- would be restored" if b.path == chosen else ""
        typer.echo(f"  {b.created:%Y-%m-%d %H:%M:%S}Z  {b.path.name}  {human_size(b.path.stat().st_size)}{mark}")


def restore_cmd(
    date: str | None = typer.Option(None, "--date", help="YYYY-MM-DD: restore the newest backup at or before then."),
    at_time: str | None = typer.Option(None, "--time", help="HH:MM[:SS] on --date (default: end of day)."),
    tz: str | None = typer.Option(None, "--tz", help="Time zone of --date/--time (default UTC)."),
    archive: Path | None = typer.Option(None, "--archive", help="Restore this archive instead of choosing by date."),
    directory: Path | None = typer.Option(None, "--dir", help="Where the backups are (default: the backups dir)."),
    list_only: bool = typer.Option(False, "--list", help="Show the available backups and exit."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    with_models: bool = typer.Option(False, "--with-models", help="Also restore models/ (moved aside likewise)."),
    with_venue: bool = typer.Option(
        False, "--with-venue", help="Also roll back the sim broker's own state (by default the venue keeps its fills)."
    ),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Restore config and data from the newest backup at or before --date/--time.

    Without --date the newest backup of all. Refuses while py_rt runs; verifies every hash
    before touching anything; moves the current config and data aside to
    <root>/.pre-restore-<stamp>/ (never deletes them). The API token, the bus keys and the
    sim broker's state (the venue: it does not forget fills because we restored ours) stay
    as they are. Off a terminal, the confirmation is read from stdin (`y`)."""
    import sys

    from pyrt.ops.backup import (
        BackupError,
        list_backups,
        restore_backup,
        restore_moment,
        running_processes,
        select_backup,
        verify_archive,
    )

    layout = _layout(config_dir)
    directory = directory or layout.backups_dir
    if at_time is not None and date is None:
        raise typer.BadParameter("--time needs --date", param_hint="--time")
    try:
        moment = restore_moment(date, at_time, tz) if date else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    chosen = archive or (b.path if (b := select_backup(list_backups(directory), moment)) else None)
    if list_only:
        _list(directory, chosen)
        return
    if chosen is None:
        when = f" at or before {moment:%Y-%m-%d %H:%M:%S}Z" if moment else ""
        typer.echo(f"no backup{when} in {directory} (see `pyrt restore --list`)", err=True)
        raise typer.Exit(1)
    running = running_processes(layout.run_dir)
    if running:
        names = ", ".join(f"{n} (pid {p})" for n, p in running)
        typer.echo(
            f"refusing to restore: py_rt is running ({names}).\n"
            "Stop the system first: ./scripts/stop_trading_system.sh (or `pyrt down`).",
            err=True,
        )
        raise typer.Exit(1)
    check = verify_archive(chosen)
    if not check.ok:
        typer.echo(f"✗ {chosen} failed verification; nothing was changed:", err=True)
        for problem in check.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1)
    manifest = check.manifest or {}
    journal = manifest.get("journal")
    typer.echo(
        f"✓ {chosen.name}: created {manifest.get('created_at')} on {manifest.get('hostname')}, "
        f"{len(manifest.get('files', []))} files match the manifest"
        + (f", journal last seq {journal['last_seq']}" if journal else "")
    )
    typer.echo(
        f"this replaces {layout.config_dir} and {layout.data_dir}; the current ones are moved to "
        f"{layout.root}/.pre-restore-<now>/"
    )
    if not yes:
        if sys.stdin.isatty():
            confirmed = typer.confirm("restore now?", default=False)
        else:
            typer.echo("restore now? [y/N] (answer on stdin, or pass --yes)")
            confirmed = sys.stdin.readline().strip().lower() in ("y", "yes")
        if not confirmed:
            typer.echo("not confirmed (answer y, or pass --yes); nothing changed", err=True)
            raise typer.Exit(1)
    try:
        result = restore_backup(layout, chosen, include_models=with_models, include_venue=with_venue)
    except (BackupError, OSError) as exc:
        typer.echo(f"restore failed, nothing changed: {exc}", err=True)
        raise typer.Exit(1) from exc
    for line in result.moved:
        typer.echo(f"moved aside: {line}")
    for line in result.restored:
        typer.echo(f"restored: {line}")
    for line in result.kept_secrets:
        typer.echo(f"kept secret file (not in backups): {line}")
    if result.kept_venue:
        typer.echo(f"kept the sim broker's state as it is (the venue; --with-venue rolls it back): {result.kept_venue}")
    typer.echo(("" if with_models else "models/ and ") + "logs/ in the archive were not restored (forensics only).")
    typer.echo(
        "next: ./scripts/verify_config.sh, ./scripts/verify_data_integrity.sh, "
        "python scripts/reconcile_positions.py, then ./scripts/start_trading_system.sh --safe-mode"
    )


def verify_data_cmd(
    backup: Path | None = typer.Option(None, "--backup", help="Also verify this backup archive's manifest hashes."),
    config_dir: Path = CONFIG_DIR_OPTION,
) -> None:
    """Check the journal, the saved state and the sim broker db for corruption.

    Read-only, safe while running: journal integrity, seq continuity, decoding, positions
    replayed from the journal vs the saved risk state, anomalies, the sim broker db, and with
    --backup an archive's hashes. Exit 0 if all pass, 1 otherwise."""
    from pyrt.ops.backup import running_processes
    from pyrt.ops.verify import report, verify_data

    layout = _layout(config_dir)
    running = bool(running_processes(layout.run_dir))
    if running:
        typer.echo("(system running: checking a live snapshot, read-only)")
    text, ok = report(verify_data(layout, backup, running), "verify-data")
    typer.echo(text)
    raise typer.Exit(0 if ok else 1)


def verify_config_cmd(config_dir: Path = CONFIG_DIR_OPTION) -> None:
    """Validate system.json and risk_limits.toml; exit 1 listing each problem.

    Problems print as `file: field: reason`; secret files readable by group/others are
    warned about."""
    from pyrt.ops.verify import verify_config

    errors, warnings = verify_config(config_dir)
    for line in errors:
        typer.echo(line)
    for line in warnings:
        typer.echo(f"warning: {line}")
    if errors:
        typer.echo(f"configuration invalid: {len(errors)} problem(s)")
        raise typer.Exit(1)
    typer.echo("configuration OK")


def register(app: typer.Typer) -> None:
    """Add backup, restore, verify-data and verify-config to the `pyrt` app."""
    app.command("backup")(backup_cmd)
    app.command("restore")(restore_cmd)
    app.command("verify-data")(verify_data_cmd)
    app.command("verify-config")(verify_config_cmd)
