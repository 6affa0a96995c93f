"""Online backups and safe restores, through SQLite's backup API.

A backup copies the database page by page while other processes keep writing: the copy
reads inside one read transaction, so it is a consistent snapshot of one moment (in WAL
mode writers are not blocked; in rollback-journal mode they wait until the copy ends).
The file is written beside its target and renamed into place only when complete, and it
is a single self-contained file (no -wal).

A restore validates the candidate first (a SQLite file that passes integrity_check and
holds a memvault ledger or a legacy schema_version table), stages a copy of it, keeps the
database it replaces aside as `<db>.replaced-<timestamp>`, then writes the staged pages
into the live database through the backup API, so SQLite itself handles its -wal and
-shm files and other connections see the restored content, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from memvault.db import connect, driver
from memvault.errors import ConfigError, DatabaseError, DriftError, ValidationError
from memvault.migrations.lock import LOCK_TABLE, MigrationLock

PageProgress = Callable[[int, int], None]
"""Called with (pages copied, pages in total) as a copy proceeds."""

SQLITE_MAGIC = b"SQLite format 3\x00"
PAGES_PER_STEP = 1024
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
MEMVAULT_TABLES = ("schema_migrations", "schema_version")
_BUSY_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class BackupResult:
    """A finished backup: where it is and how much was copied."""

    source: Path
    path: Path
    pages: int
    bytes: int
    seconds: float


@dataclass(frozen=True)
class BackupInfo:
    """What a validated backup file holds."""

    path: Path
    pages: int
    bytes: int
    tables: int
    rows: int
    ledger_version: int | None
    legacy_version: int | None

    def describe(self) -> str:
        if self.ledger_version is not None:
            version = f"migration version {self.ledger_version}"
        else:
            version = f"legacy schema_version {self.legacy_version}"
        return f"{self.tables} tables, {self.rows:,} rows, {version}, {self.bytes:,} bytes"


@dataclass(frozen=True)
class RestoreResult:
    """A finished restore: what was restored and where the replaced database was kept."""

    target: Path
    source: Path
    replaced: Path | None
    moved_aside: list[Path]
    pages: int
    seconds: float


def timestamp(now: datetime | None = None) -> str:
    """`20251006T120000Z`: UTC, sortable, safe in file names."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def default_backup_path(db_path: Path, now: datetime | None = None) -> Path:
    """`<db>.backup-<UTC timestamp>` next to the database (never an existing file)."""
    return _unused(db_path.with_name(f"{db_path.name}.backup-{timestamp(now)}"))


def _unused(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{n}")
        n += 1
    return candidate


# -- backup -------------------------------------------------------------------------


def backup_database(
    source: Path,
    target: Path,
    *,
    progress: PageProgress | None = None,
    pages_per_step: int = PAGES_PER_STEP,
    folder: bool = False,
) -> BackupResult:
    """Copy the database at `source` to `target` (a new file, or a folder to put it in;
    `folder=True` says it is a folder and creates it when missing).

    Consistent even while other processes write; never overwrites an existing file.
    """
    _require_database(source, "database")
    if folder:
        if target.exists() and not target.is_dir():
            raise ConfigError(f"{target} is a file, not a folder: drop the trailing slash")
        target.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        target = default_backup_path(target / source.name)
    if target.exists():
        raise ConfigError(f"{target} already exists: choose a new path (backups never overwrite)")
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write {target}: folder {target.parent} does not exist")
    if target.resolve() == source.resolve():
        raise ConfigError(f"{target} is the database itself: choose another path")
    started = time.perf_counter()
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        with _open(source) as src:
            pages = _copy_snapshot(src, partial, progress, pages_per_step)
        _check_copy(partial, f"the backup of {source}")
        os.replace(partial, target)
        _fsync_dir(target.parent)
    finally:
        _remove(partial)
    return BackupResult(source, target, pages, target.stat().st_size, time.perf_counter() - started)


def _copy_snapshot(
    src: driver.SQLiteConnection, target: Path, progress: PageProgress | None, pages_per_step: int
) -> int:
    """Copy `src` into a new single-file database at `target`; return the page count."""
    _remove(target)
    dst = driver.open_sqlite(target, isolation_level=None)
    try:
        # One read transaction around every step: each step sees the same snapshot, so the
        # copy neither mixes two moments nor restarts when another process writes.
        src.execute("BEGIN")
        try:
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            total = int(src.execute("PRAGMA page_count").fetchone()[0])

            def report(_status: int, remaining: int, pages: int) -> None:
                if progress is not None:
                    progress(pages - remaining, pages)

            src.backup(dst, pages=max(1, pages_per_step), progress=report)
        finally:
            src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode = DELETE")  # a self-contained file, no -wal
    except driver.Error as exc:
        raise DatabaseError(f"copying to {target.name} failed: {exc}") from exc
    finally:
        dst.close()
    _fsync(target)
    return total


# -- restore --------------------------------------------------------------------------


@dataclass
class PreparedRestore:
    """A validated, staged restore: `apply()` it (or `discard()` it)."""

    candidate: Path
    target: Path
    staged: Path
    info: BackupInfo

    def apply(
        self, *, lock_timeout: float = 60.0, progress: PageProgress | None = None
    ) -> RestoreResult:
        """Replace the database with the staged copy; keep the replaced one aside."""
        started = time.perf_counter()
        if not self.staged.exists():
            raise DatabaseError(f"the staged copy of {self.candidate} is gone: run restore again")
        try:
            if self.target.exists():
                replaced, moved = self._restore_into_live(lock_timeout, progress), []
            else:
                replaced, moved = None, self._restore_as_new_file()
        finally:
            self.discard()
        return RestoreResult(
            self.target, self.candidate, replaced, moved, self.info.pages,
            time.perf_counter() - started,
        )  # fmt: skip

    def discard(self) -> None:
        """Remove the staged copy (a no-op once applied)."""
        _remove(self.staged)

    def _restore_into_live(self, lock_timeout: float, progress: PageProgress | None) -> Path:
        live = connect(str(self.target), create=False)
        try:
            with MigrationLock(live, timeout=lock_timeout, command="memvault db restore") as lock:
                replaced = _unused(
                    self.target.with_name(f"{self.target.name}.replaced-{timestamp()}")
                )
                backup_database(self.target, replaced)
                _forget_lock(replaced, lock.token)
                _write_pages(self.staged, live.sqlite_connection(), progress)
            live.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            live.close()
        return replaced

    def _restore_as_new_file(self) -> list[Path]:
        # Side files without their database belong to nothing we restore: if left, SQLite
        # would replay a stale -wal or -journal into the restored file. Keep them aside.
        moved = []
        for suffix in SIDE_SUFFIXES:
            side = Path(str(self.target) + suffix)
            if side.exists():
                aside = _unused(side.with_name(f"{side.name}.stale-{timestamp()}"))
                os.replace(side, aside)
                moved.append(aside)
        os.replace(self.staged, self.target)
        _fsync_dir(self.target.parent)
        return moved


def prepare_restore(
    candidate: Path, target: Path, *, newest_known: int | None = None
) -> PreparedRestore:
    """Validate `candidate` and stage a copy of it next to `target`; change nothing else.

    With `newest_known` (this memvault's newest migration version), a backup whose ledger
    is beyond it (migrated by a newer memvault) is refused.
    """
    _require_database(candidate, "backup")
    if target.exists() and target.resolve() == candidate.resolve():
        raise ConfigError(f"{candidate} is the database itself: nothing to restore")
    if not target.parent.is_dir():
        raise ConfigError(f"cannot restore to {target}: folder {target.parent} does not exist")
    staged = target.with_name(f".{target.name}.restore-{os.getpid()}")
    try:
        with _open(candidate, read_only=True) as src:
            _copy_snapshot(src, staged, None, PAGES_PER_STEP)
        info = inspect_backup(staged, shown_as=candidate)
        _refuse_newer(candidate, info, newest_known)
    except BaseException:
        _remove(staged)
        raise
    return PreparedRestore(candidate, target, staged, info)


def _refuse_newer(candidate: Path, info: BackupInfo, newest_known: int | None) -> None:
    version = info.ledger_version
    if newest_known is not None and version is not None and version > newest_known:
        raise DriftError(
            f"backup {candidate} was migrated by a newer memvault (version {version} is unknown "
            f"here; this memvault knows up to {newest_known}): pass --allow-newer to restore it "
            "anyway"
        )


def inspect_backup(path: Path, *, shown_as: Path | None = None) -> BackupInfo:
    """Validate a backup file (integrity_check, a ledger or legacy table) and summarise it."""
    name = shown_as or path
    _require_database(path, "backup")
    with _open(path, read_only=True) as conn:
        try:
            _check_integrity(conn, name)
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%'"
                )
            ]
            if not set(MEMVAULT_TABLES) & set(tables):
                raise ValidationError(
                    f"{name} is not a memvault database: it has neither a schema_migrations "
                    "nor a schema_version table"
                )
            rows = sum(
                int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables
            )
            return BackupInfo(
                path=name,
                pages=int(conn.execute("PRAGMA page_count").fetchone()[0]),
                bytes=path.stat().st_size,
                tables=len(tables),
                rows=rows,
                ledger_version=_max_version(conn, "schema_migrations", "status = 'applied'"),
                legacy_version=_max_version(conn, "schema_version", "1"),
            )
        except driver.DatabaseError as exc:
            raise ValidationError(f"{name} is not a usable backup: {exc}") from exc


def _max_version(conn: driver.SQLiteConnection, table: str, where: str) -> int | None:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if exists is None:
        return None
    value = conn.execute(f"SELECT max(version) FROM {table} WHERE {where}").fetchone()[0]
    return 0 if value is None else int(value)


def _write_pages(
    staged: Path, live: driver.SQLiteConnection, progress: PageProgress | None
) -> None:
    """Write every page of `staged` into the live database, through SQLite."""
    with _open(staged, read_only=True) as src:
        src_size = int(src.execute("PRAGMA page_size").fetchone()[0])
        live_size = int(live.execute("PRAGMA page_size").fetchone()[0])
        mode = str(live.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        # SQLite cannot change the page size of a WAL database: leave WAL for the copy.
        if (
            src_size != live_size
            and mode == "wal"
            and str(live.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).lower() == "wal"
        ):
            raise DatabaseError(
                f"cannot restore: the backup's page size ({src_size}) differs from the "
                f"database's ({live_size}) and the database is in use; stop other users "
                "of it and try again"
            )

        def report(_status: int, remaining: int, pages: int) -> None:
            if progress is not None:
                progress(pages - remaining, pages)

        try:
            src.backup(live, pages=PAGES_PER_STEP, progress=report)
        except driver.Error as exc:
            raise DatabaseError(f"restoring into the database failed: {exc}") from exc
        if mode == "wal":
            live.execute("PRAGMA journal_mode = WAL")


def _forget_lock(path: Path, token: str) -> None:
    """Drop our own lock row from the kept-aside copy (it was taken under our lock)."""
    conn = driver.open_sqlite(path, isolation_level=None)
    try:
        conn.execute(f"DELETE FROM {LOCK_TABLE} WHERE token = ?", (token,))
    finally:
        conn.close()


# -- files ----------------------------------------------------------------------------


def _require_database(path: Path, what: str) -> None:
    if not path.exists():
        raise ConfigError(f"{what} {path} does not exist")
    if not path.is_file():
        raise ConfigError(f"{what} {path} is not a file")
    with path.open("rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise ValidationError(f"{path} is not a SQLite database (unexpected file header)")


@contextlib.contextmanager
def _open(path: Path, *, read_only: bool = False) -> Iterator[driver.SQLiteConnection]:
    location = f"file:{quote(str(path.resolve()))}"
    if read_only:
        location += "?immutable=1" if _is_lone_wal_file(path) else "?mode=ro"
    try:
        conn = driver.open_sqlite(location, uri=True, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except driver.DatabaseError as exc:
        raise DatabaseError(f"{path}: cannot open ({exc})") from exc
    try:
        yield conn
    finally:
        conn.close()


def _is_lone_wal_file(path: Path) -> bool:
    """A WAL-mode file with no -wal beside it (e.g. copied with cp): all its content is in
    the file. Opened immutable, SQLite reads it without creating -wal/-shm beside it."""
    if Path(str(path) + "-wal").exists():
        return False
    with path.open("rb") as fh:
        header = fh.read(20)
    return len(header) == 20 and header[18] == 2 and header[19] == 2


def _check_integrity(conn: driver.SQLiteConnection, name: Path) -> None:
    try:
        problems = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
    except driver.DatabaseError as exc:
        raise ValidationError(f"{name} fails integrity_check: {exc}") from exc
    if problems != ["ok"]:
        raise ValidationError(f"{name} fails integrity_check: {problems[0]}")


def _check_copy(path: Path, what: str) -> None:
    with _open(path, read_only=True) as conn:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise DatabaseError(f"{what} fails quick_check: {result}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can fsync a folder
        _fsync(folder)


def _remove(path: Path) -> None:
    for p in (path, *(Path(str(path) + s) for s in SIDE_SUFFIXES)):
        p.unlink(missing_ok=True)
