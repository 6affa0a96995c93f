"""`memvault db backup PATH` and `memvault db restore PATH`, and `--backup` for migrations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from memvault.cli.app import AppContext, lock_timeout_option
from memvault.cli.db import db
from memvault.cli.output import emit_json, info
from memvault.db import parse_url
from memvault.errors import ConfigError

if TYPE_CHECKING:
    from memvault.ops.backup import BackupResult, PageProgress

pass_app = click.make_pass_decorator(AppContext)


def _database_file(app: AppContext, *, must_exist: bool) -> Path:
    url = parse_url(app.settings.database)
    if url.path is None:
        raise ConfigError("an in-memory database cannot be backed up or restored: give a file")
    if must_exist and not url.path.exists():
        raise ConfigError(f"database {url.path} does not exist")
    return url.path


@contextmanager
def _page_bar(label: str, *, quiet: bool) -> Iterator[PageProgress | None]:
    """A transient progress bar on stderr, fed with (pages done, pages total)."""
    stderr = Console(stderr=True)
    if quiet or not stderr.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn

    with Progress(
        TextColumn(f"  {label}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} pages"),
        console=stderr,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=0)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MiB" if n >= 1_048_576 else f"{n:,} bytes"


def backup_before_change(app: AppContext) -> Path | None:
    """For `migrate up|down|to --backup`: back the database up and say where, on stderr."""
    url = parse_url(app.settings.database)
    if url.remote is not None:
        from memvault.cli.db_backup_remote import backup_before_change_remote

        return backup_before_change_remote(url)
    path = _database_file(app, must_exist=False)
    if not path.exists():
        info(f"No backup taken: {path} does not exist yet.")
        return None
    with _page_bar("backing up", quiet=False) as progress:
        from memvault.ops.backup import backup_database, default_backup_path

        result = backup_database(path, default_backup_path(path), progress=progress)
    info(f"Backup of {path} written to {result.path} ({_size(result.bytes)}).")
    return result.path


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def backup_command(app: AppContext, path: str, as_json: bool) -> None:
    """Copy the database to PATH (a new file, or a folder; PATH ending in / is a folder,
    created when missing), online and consistent.

    Other processes may keep writing while the copy runs; the backup is the database as
    it was at one moment. Existing files are never overwritten.
    """
    url = parse_url(app.settings.database)
    if url.remote is not None:
        from memvault.cli.db_backup_remote import backup_remote_command

        backup_remote_command(url, Path(path), as_json)
        return
    source = _database_file(app, must_exist=True)
    with _page_bar("backing up", quiet=as_json) as progress:
        from memvault.ops.backup import backup_database

        result = backup_database(
            source, Path(path), progress=progress, folder=path.endswith(("/", os.sep))
        )
    if as_json:
        emit_json(_backup_json(result))
        return
    info(
        f"Backed up {source} to {result.path}: {result.pages:,} pages, {_size(result.bytes)} "
        f"in {result.seconds:.2f}s."
    )
    click.echo(str(result.path))


def _backup_json(result: BackupResult) -> dict[str, object]:
    return {
        "database": str(result.source),
        "backup": str(result.path),
        "pages": result.pages,
        "bytes": result.bytes,
        "seconds": round(result.seconds, 3),
    }


@db.command("restore")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--yes", "-y", is_flag=True, help="Do not ask before replacing the database.")
@click.option(
    "--allow-newer",
    is_flag=True,
    help="Restore a backup migrated by a newer memvault (versions unknown here).",
)
@lock_timeout_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def restore_command(
    app: AppContext, path: Path, yes: bool, allow_newer: bool, lock_timeout: float, as_json: bool
) -> None:
    """Replace the database with the backup at PATH (validated first, asks unless --yes).

    The database being replaced is kept aside as <db>.replaced-<timestamp>.
    """
    from memvault.migrations import load_migrations
    from memvault.ops.backup import prepare_restore

    newest = max((m.version for m in load_migrations(app.settings.migrations_dir)), default=0)
    url = parse_url(app.settings.database)
    if url.remote is not None:
        from memvault.cli.db_backup_remote import restore_remote_command

        known = None if allow_newer else newest
        restore_remote_command(url, path, yes, known, lock_timeout, as_json)
        return
    target = _database_file(app, must_exist=False)
    prepared = prepare_restore(path, target, newest_known=None if allow_newer else newest)
    try:
        info(f"Backup {path} is valid: {prepared.info.describe()}.")
        if target.exists() and not yes:
            click.confirm(
                f"Replace {target} with it? (the current file is kept as "
                f"{target.name}.replaced-<timestamp>)",
                abort=True,
                err=True,
            )
        with _page_bar("restoring", quiet=as_json) as progress:
            result = prepared.apply(lock_timeout=lock_timeout, progress=progress)
    finally:
        prepared.discard()
    if as_json:
        emit_json(
            {
                "database": str(result.target),
                "restored_from": str(result.source),
                "replaced_kept_at": None if result.replaced is None else str(result.replaced),
                "stale_files_moved_aside": [str(p) for p in result.moved_aside],
                "pages": result.pages,
                "seconds": round(result.seconds, 3),
            }
        )
        return
    for moved in result.moved_aside:
        info(f"Moved a stale {moved.name.split('.stale-')[0]} aside to {moved}.")
    kept = f"; the replaced database is kept at {result.replaced}" if result.replaced else ""
    info(f"Restored {target} from {path} in {result.seconds:.2f}s{kept}.")


_BACKUP_FLAG = "memvault.backup_before_change"


def _remember_backup_flag(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta[_BACKUP_FLAG] = value
    return value


def backup_option(func: Any) -> Any:
    """The `--backup` flag of `migrate up|down|to` (read back with `backup_requested()`)."""
    return click.option(
        "--backup",
        is_flag=True,
        expose_value=False,
        callback=_remember_backup_flag,
        help="Back the database up next to it (<db>.backup-<UTC time>) before changing "
        "anything, and print where.",
    )(func)


def backup_requested() -> bool:
    """Whether the running command was given `--backup`."""
    return bool(click.get_current_context().meta.get(_BACKUP_FLAG, False))
