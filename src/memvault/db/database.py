"""A small adapter over one database connection.

`Database.atomic()` is the only place in memvault that says BEGIN, SAVEPOINT, COMMIT or
ROLLBACK. The connection runs in autocommit mode (isolation_level=None) so that Python's
sqlite3 module never opens or commits a transaction behind our back.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
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


class Database:
    """One open connection, its dialect, and transaction control."""

    def __init__(self, conn: sqlite3.Connection, url: DatabaseURL, dialect: Dialect = SQLITE):
        self.conn = conn
        self.url = url
        self.dialect = dialect
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


def snapshot(location: str | DatabaseURL) -> Database:
    """An in-memory copy of a database, for dry runs and read-only planning.

    Nothing is written beside or into the original: it is not created when missing, its
    bytes stay identical, and no -wal, -shm or -journal file is left behind.
    """
    url = location if isinstance(location, DatabaseURL) else parse_url(location)
    mem = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    path = url.path
    if path is not None and path.exists():
        _check_is_database(path)
        side_files = [path.with_name(path.name + s) for s in ("-wal", "-journal")]
        try:
            if any(p.exists() for p in side_files):
                # Committed pages may live in the WAL: let SQLite read them. The side
                # files already exist, so opening read-only adds nothing new.
                src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                try:
                    src.backup(mem)
                finally:
                    src.close()
            else:
                data = bytearray(path.stat().st_size)
                with path.open("rb") as fh:  # one buffer, no intermediate copies
                    fh.readinto(data)
                if len(data) >= 20 and data[18] == 2:
                    data[18] = data[19] = 1  # WAL header -> rollback, for the in-memory copy
                if data:
                    mem.deserialize(data)
            mem.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            mem.close()
            raise DatabaseError(f"{path}: {exc}") from exc
    _configure(mem, busy_timeout_ms=0, wal=False)
    return Database(mem, url)
