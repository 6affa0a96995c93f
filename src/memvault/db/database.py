"""A small adapter over one database connection.

`Database.atomic()` is the only place in memvault that says BEGIN, SAVEPOINT, COMMIT or
ROLLBACK. The connection runs in autocommit mode (isolation_level=None) so that Python's
sqlite3 module never opens or commits a transaction behind our back.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memvault.db.dialects import SQLITE, Dialect
from memvault.db.url import DatabaseURL, parse_url
from memvault.errors import DatabaseError

Params = Sequence[Any] | dict[str, Any]

SQLITE_MAGIC = b"SQLite format 3\x00"
DEFAULT_BUSY_TIMEOUT_MS = 5000
CACHE_KIB = 64 * 1024
# Dry runs copy databases up to this size into memory, larger ones into a temporary file.
SNAPSHOT_IN_MEMORY_MAX = 256 * 1024 * 1024


class Database:
    """One open connection, its dialect, and transaction control."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        url: DatabaseURL,
        dialect: Dialect = SQLITE,
        *,
        on_close: Callable[[], None] | None = None,
    ):
        self.conn = conn
        self.url = url
        self.dialect = dialect
        self._on_close = on_close
        self._savepoints = itertools.count(1)
        self._depth = 0

    # -- statements ---------------------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        """Run one statement and return its cursor."""
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> sqlite3.Cursor:
        """Run one statement for every row of parameters."""
        return self.conn.executemany(sql, rows)

    def query(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run a SELECT and return all its rows."""
        return self.conn.execute(sql, params).fetchall()

    def query_tuples(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Run a SELECT and return all its rows as plain tuples (no sqlite3.Row per row:
        ~20% of fetching many small rows)."""
        cursor = self.conn.execute(sql, params)
        cursor.row_factory = None  # rows are made when fetched: this still applies
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows

    def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # -- transactions -------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """A write transaction (BEGIN IMMEDIATE), or a savepoint when already inside one.

        Commits when the block ends normally; rolls back everything on any exception.
        """
        if self._depth == 0 and not self.conn.in_transaction:
            self.conn.execute(self.dialect.begin_write)
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            else:
                self._depth -= 1
                try:
                    self.conn.execute("COMMIT")
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
            return
        name = f"memvault_sp_{next(self._savepoints)}"
        self.conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self
        except BaseException:
            self._depth -= 1
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        else:
            self._depth -= 1
            self.conn.execute(f"RELEASE {name}")

    @contextmanager
    def probe(self) -> Iterator[Database]:
        """A savepoint that is always rolled back: look, and leave no trace."""
        name = f"memvault_probe_{next(self._savepoints)}"
        self.conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")

    # -- introspection ------------------------------------------------------------
    def table_exists(self, name: str) -> bool:
        return self.scalar(self.dialect.table_exists, (name,)) is not None

    def index_exists(self, name: str) -> bool:
        return self.scalar(self.dialect.index_exists, (name,)) is not None

    def trigger_exists(self, name: str) -> bool:
        return self.scalar(self.dialect.trigger_exists, (name,)) is not None

    def view_exists(self, name: str) -> bool:
        return self.scalar(self.dialect.view_exists, (name,)) is not None

    def columns(self, table: str) -> list[str]:
        return [row[0] for row in self.query(self.dialect.columns(table))]

    def column_exists(self, table: str, column: str) -> bool:
        return column in self.columns(table)

    def row_count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {self.dialect.quote(table)}"))

    # -- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_is_database(path: Path) -> None:
    if path.is_dir():
        raise DatabaseError(f"{path} is a directory, not a SQLite database file")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise DatabaseError(f"{path}: cannot read ({exc.strerror})") from exc
    if head and head != SQLITE_MAGIC:
        raise DatabaseError(f"{path} is not a SQLite database (unexpected file header)")


def _configure(conn: sqlite3.Connection, *, busy_timeout_ms: int, wal: bool) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    # 64 MiB of page cache (allocated only as used) instead of SQLite's 2 MiB default: with
    # float32 embeddings a memory row fills a page, and FTS5 ranking then thrashed a 2 MiB
    # cache (bench: search p50 69 ms -> 21 ms with a large cache; docs/performance.md).
    conn.execute(f"PRAGMA cache_size = {-CACHE_KIB}")
    if wal:
        # e.g. on a network filesystem WAL is refused: the rollback journal still works
        with contextlib.suppress(sqlite3.OperationalError):
            conn.execute("PRAGMA journal_mode = WAL")


def connect(
    location: str | DatabaseURL,
    *,
    create: bool = True,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    wal: bool = True,
) -> Database:
    """Open a database for reading and writing: foreign keys on, busy timeout, WAL.

    `wal=False` leaves the journal mode as it is (read-only commands use it, so that looking
    at a legacy file does not switch it to WAL).

    Raises DatabaseError when the file is not a SQLite database, and when it does not
    exist and `create` is False.
    """
    url = location if isinstance(location, DatabaseURL) else parse_url(location)
    if url.path is None:
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        _configure(conn, busy_timeout_ms=busy_timeout_ms, wal=False)
        return Database(conn, url)
    path = url.path
    if path.exists():
        _check_is_database(path)
    elif not create:
        raise DatabaseError(f"database {path} does not exist")
    elif not path.parent.exists():
        raise DatabaseError(f"cannot create database {path}: folder {path.parent} does not exist")
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        _configure(conn, busy_timeout_ms=busy_timeout_ms, wal=wal)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path}: {exc}") from exc
    return Database(conn, url)


def snapshot(
    location: str | DatabaseURL, *, in_memory_max: int = SNAPSHOT_IN_MEMORY_MAX
) -> Database:
    """A private copy of a database, for dry runs and read-only planning.

    Nothing is written beside or into the original: it is not created when missing, its
    bytes stay identical, and no -wal, -shm or -journal file is left behind. Files up to
    `in_memory_max` bytes are copied into memory; larger ones into a temporary file that is
    deleted when the copy is closed.
    """
    url = location if isinstance(location, DatabaseURL) else parse_url(location)
    path = url.path
    if path is None or not path.exists():
        return _configured(sqlite3.connect(":memory:", isolation_level=None), url)
    _check_is_database(path)
    # Committed pages may live in the WAL: then SQLite must read them (the side files
    # already exist, so a read-only connection adds nothing new beside the original).
    through_sqlite = any(path.with_name(path.name + s).exists() for s in ("-wal", "-journal"))
    try:
        if path.stat().st_size <= in_memory_max:
            return _configured(_copy_to_memory(path, through_sqlite), url)
        scratch = _copy_to_temp_file(path, through_sqlite)
        conn = sqlite3.connect(str(scratch), isolation_level=None, check_same_thread=False)
        return _configured(conn, url, on_close=lambda: _remove_with_journal(scratch))
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path}: {exc}") from exc


def _configured(
    conn: sqlite3.Connection, url: DatabaseURL, on_close: Callable[[], None] | None = None
) -> Database:
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails early if corrupt
    _configure(conn, busy_timeout_ms=0, wal=False)
    return Database(conn, url, on_close=on_close)


def _copy_to_memory(path: Path, through_sqlite: bool) -> sqlite3.Connection:
    mem = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    if through_sqlite:
        _backup_read_only(path, mem)
        return mem
    data = bytearray(path.stat().st_size)
    with path.open("rb") as fh:  # one buffer, no intermediate copies
        fh.readinto(data)
    if len(data) >= 20 and data[18] == 2:
        data[18] = data[19] = 1  # WAL header -> rollback journal, for the private copy
    if data:
        mem.deserialize(data)
    return mem


def _copy_to_temp_file(path: Path, through_sqlite: bool) -> Path:
    fd, name = tempfile.mkstemp(prefix="memvault-snapshot-", suffix=".db")
    os.close(fd)
    scratch = Path(name)
    try:
        if through_sqlite:
            target = sqlite3.connect(name)
            try:
                _backup_read_only(path, target)
            finally:
                target.close()
        else:
            shutil.copyfile(path, scratch)
            with scratch.open("r+b") as fh:
                header = fh.read(20)
                if len(header) >= 20 and header[18] == 2:
                    fh.seek(18)
                    fh.write(b"\x01\x01")  # WAL header -> rollback journal, for the copy
    except BaseException:
        _remove_with_journal(scratch)
        raise
    return scratch


def _backup_read_only(path: Path, target: sqlite3.Connection) -> None:
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        src.backup(target)
    finally:
        src.close()


def _remove_with_journal(path: Path) -> None:
    for victim in (path, path.with_name(path.name + "-journal")):
        victim.unlink(missing_ok=True)
