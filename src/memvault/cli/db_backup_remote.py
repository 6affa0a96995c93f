"""`db backup`, `db restore` and `--backup` for a database on a libSQL server: local files."""

from __future__ import annotations

from pathlib import Path

import click

from memvault.cli.output import emit_json, info
from memvault.db import DatabaseURL


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MiB" if n >= 1_048_576 else f"{n:,} bytes"


def backup_before_change_remote(url: DatabaseURL) -> Path:
    """For `migrate up|down|to --backup`: a local file in the current folder."""
    from memvault.ops.remote_backup import backup_remote

    remote = backup_remote(url, Path.cwd())
    info(f"Backup of {url.display} written to {remote.path} ({_size(remote.bytes)}).")
    return remote.path


def backup_remote_command(url: DatabaseURL, path: Path, as_json: bool) -> None:
    """`db backup PATH` of a remote database: a consistent local SQLite file."""
    from memvault.ops.remote_backup import backup_remote

    result = backup_remote(url, path)
    if as_json:
        emit_json(
            {
                "database": result.source,
                "backup": str(result.path),
                "tables": result.tables,
                "rows": result.rows,
                "bytes": result.bytes,
                "seconds": round(result.seconds, 3),
                "round_trips": result.round_trips,
            }
        )
        return
    info(
        f"Backed up {result.source} to {result.path}: {result.tables} tables, {result.rows:,} "
        f"rows, {_size(result.bytes)} in {result.seconds:.2f}s ({result.round_trips} requests)."
    )
    click.echo(str(result.path))


def restore_remote_command(
    url: DatabaseURL,
    path: Path,
    yes: bool,
    newest: int | None,
    lock_timeout: float,
    as_json: bool,
) -> None:
    """Validate the local file, ask, keep the server's contents locally, replace them."""
    from memvault.ops.backup import _refuse_newer, inspect_backup
    from memvault.ops.remote_backup import restore_remote

    checked = inspect_backup(path)
    _refuse_newer(path, checked, newest)
    info(f"Backup {path} is valid: {checked.describe()}.")
    if not yes:
        click.confirm(
            f"Replace everything on {url.display} with it? (its current contents are kept "
            "in a local backup file in this folder first)",
            abort=True,
            err=True,
        )
    result = restore_remote(url, path, keep_in=Path.cwd(), lock_timeout=lock_timeout)
    if as_json:
        emit_json(
            {
                "database": result.target,
                "restored_from": str(result.source),
                "replaced_kept_at": str(result.replaced),
                "tables": result.tables,
                "rows": result.rows,
                "seconds": round(result.seconds, 3),
            }
        )
        return
    info(
        f"Restored {result.target} from {path}: {result.tables} tables, {result.rows:,} rows "
        f"in {result.seconds:.2f}s; its replaced contents are kept at {result.replaced}."
    )
