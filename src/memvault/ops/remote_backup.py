"""Backups and restores of a database on a libSQL server, as local SQLite files.

A server has no backup API and no file to copy: `backup_remote` reads the schema and
every row in one read transaction (memvault.db.copy), which the server serves from one
snapshot, into a new local SQLite file, renamed into place only when complete and
quick_check'ed. `restore_remote` first keeps what it replaces as such a local backup,
then replaces everything on the server inside one write transaction under the migration
lock (foreign keys deferred to the commit), so a failure leaves the server as it was.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from memvault.db import Database, DatabaseURL, connect, driver
from memvault.db.copy import CopyReport, copy_to_file, load_file
from memvault.errors import ConfigError, DatabaseError
from memvault.migrations.lock import LOCK_TABLE, MigrationLock
from memvault.ops.backup import (
    _check_copy,
    _forget_lock,
    _fsync_dir,
    _remove,
    _unused,
    timestamp,
)


@dataclass(frozen=True)
class RemoteBackup:
    """A finished backup of a remote database: the local file and what it holds."""

    source: str
    path: Path
    tables: int
    rows: int
    bytes: int
    seconds: float
    round_trips: int


@dataclass(frozen=True)
class RemoteRestore:
    """A finished restore onto a remote database."""

    target: str
    source: Path
    replaced: Path
    tables: int
    rows: int
    seconds: float


def default_remote_backup_path(url: DatabaseURL, folder: Path) -> Path:
    """`<host>.backup-<UTC timestamp>.db` in `folder` (never an existing file)."""
    host = url.remote.display.split("://", 1)[-1] if url.remote else "database"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", host).strip("_") or "database"
    return _unused(folder / f"{safe}.backup-{timestamp()}.db")


def backup_remote(url: DatabaseURL, target: Path) -> RemoteBackup:
    """Copy the remote database at `url` into a new local SQLite file `target` (or a new
    file in the folder `target`), consistent while others write."""
    if target.is_dir():
        target = default_remote_backup_path(url, target)
    if target.exists():
        raise ConfigError(f"{target} already exists: choose a new path (backups never overwrite)")
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write {target}: folder {target.parent} does not exist")
    started = time.perf_counter()
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    _remove(partial)
    db = connect(url, create=False)
    try:
        report = _copy(db, partial)
        _check_copy(partial, f"the backup of {url.display}")
        os.replace(partial, target)
        _fsync_dir(target.parent)
        trips = db.round_trips
    finally:
        db.close()
        _remove(partial)
    return RemoteBackup(
        url.display, target, report.tables, report.rows, target.stat().st_size,
        time.perf_counter() - started, trips,
    )  # fmt: skip


def _copy(db: Database, target: Path) -> CopyReport:
    try:
        return copy_to_file(db.conn, target)
    except driver.Error as exc:
        raise DatabaseError(f"copying {db.url.display} to {target.name} failed: {exc}") from exc


def restore_remote(
    url: DatabaseURL, candidate: Path, *, keep_in: Path, lock_timeout: float = 60.0
) -> RemoteRestore:
    """Replace everything on the remote database by the local SQLite file `candidate`.

    The caller validated `candidate` (memvault.ops.backup.inspect_backup) and asked. Under
    the migration lock: the current contents are backed up into `keep_in`, then dropped
    and replaced in one write transaction; the lock row is not part of what is restored.
    """
    started = time.perf_counter()
    db = connect(url, create=False)
    try:
        with MigrationLock(db, timeout=lock_timeout, command="memvault db restore") as lock:
            kept = default_remote_backup_path(url, keep_in)
            _copy(db, kept)
            _forget_lock(kept, lock.token)
            with db.atomic():
                lock.renew()  # in the same transaction: a lock taken over stops it here
                db.execute("PRAGMA defer_foreign_keys = ON")
                report = load_file(db.conn, candidate, keep=frozenset({LOCK_TABLE}))
    except driver.Error as exc:
        raise DatabaseError(
            f"restoring {url.display} from {candidate} failed, nothing was changed: {exc}"
        ) from exc
    finally:
        db.close()
    return RemoteRestore(
        url.display, candidate, kept, report.tables, report.rows, time.perf_counter() - started
    )
