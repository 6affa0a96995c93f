"""A small adapter over one database connection.

`Database.atomic()` is the only place in memvault that says BEGIN, SAVEPOINT, COMMIT or
ROLLBACK. The connection runs in autocommit mode (isolation_level=None) so that Python's
sqlite3 module never opens or commits a transaction behind our back.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memvault.db.dialects import LIBSQL, SQLITE, Capabilities, Dialect
from memvault.db.driver import Connection, Cursor, Row
from memvault.db.url import DatabaseURL, parse_url
from memvault.errors import BusyError, DatabaseError, StatementRefusedError

if TYPE_CHECKING:
    from memvault.db.guard import TransactionGuard

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
        conn: Connection,
        url: DatabaseURL,
        dialect: Dialect = SQLITE,
        *,
        on_close: Callable[[], None] | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        wal_on_write: bool = False,
    ):
        self.conn = conn
        self.url = url
        self.dialect = dialect
        self.busy_timeout_ms = busy_timeout_ms
        self._on_close = on_close
        self._savepoints = itertools.count(1)
        self._depth = 0
        self._guard: TransactionGuard | None = None
        # Switch the file to WAL before its first write transaction (never from a read).
        self._wal_on_write = wal_on_write

    # -- what this backend is -------------------------------------------------------
    @property
    def capabilities(self) -> Capabilities:
        return self.dialect.capabilities

    @property
    def round_trips(self) -> int:
        """Requests sent to the server so far (0 for a local file: nothing travels)."""
        return int(getattr(self.conn, "round_trips", 0))

    def sqlite_connection(self) -> sqlite3.Connection:
        """The sqlite3 connection of a local database, for what only a file has (the
        backup API); DatabaseError on any other backend."""
        if not isinstance(self.conn, sqlite3.Connection):
            raise DatabaseError(
                f"{self.url.display}: this needs a local SQLite file "
                f"(the {self.dialect.name} backend has no backup API or file here)"
            )
        return self.conn

    # -- statements ---------------------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> Cursor:
        """Run one statement and return its cursor."""
        try:
            cursor: Cursor = self.conn.execute(sql, params)
            return cursor
        except sqlite3.DatabaseError as exc:
            raise self._refusal(sql, exc) from exc

    def executemany(self, sql: str, rows: Iterable[Params]) -> Cursor:
        """Run one statement for every row of parameters."""
        try:
            cursor: Cursor = self.conn.executemany(sql, rows)
            return cursor
        except sqlite3.DatabaseError as exc:
            raise self._refusal(sql, exc) from exc

    def quick_check(self) -> list[str]:
        """SQLite's quick_check: [] when the file is sound, else what is broken (first 5)."""
        try:
            rows = [str(r[0]) for r in self.conn.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if rows == ["ok"] else rows

    def readable_check(self) -> list[str]:
        """A bounded soundness check for commands that only read: the schema parses and the
        first row of every table reads. Its cost grows with the number of tables, not with
        their rows (quick_check reads the whole file); [] when nothing is wrong."""
        try:
            tables = self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND rootpage > 0"
            ).fetchall()
            for (name,) in tables:
                self.conn.execute(
                    f"SELECT 1 FROM {self.dialect.quote(name)} NOT INDEXED LIMIT 1"
                ).fetchall()
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return []

    def require_readable(self) -> None:
        """Raise DatabaseError (naming the file) when the bounded probe finds damage."""
        problems = self.readable_check()
        if problems:
            raise DatabaseError(damaged(self.url.display, problems[0]))

    def require_sound(self, doing: str) -> None:
        """Raise DatabaseError (naming the file) when quick_check finds damage: memvault
        changes nothing in a damaged file."""
        problems = self.quick_check()
        if problems:
            raise DatabaseError(damaged(self.url.display, problems[0], doing))

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a SELECT and return all its rows."""
        return self.execute(sql, params).fetchall()

    def query_tuples(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Run a SELECT and return all its rows as plain tuples (no sqlite3.Row per row:
        ~20% of fetching many small rows)."""
        cursor = self.execute(sql, params)
        cursor.row_factory = None  # rows are made when fetched: this still applies
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows

    def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def _refusal(self, sql: str, exc: sqlite3.DatabaseError) -> Exception:
        """A StatementRefusedError when the guard denied `sql`, a DatabaseError for a
        damaged file, else `exc` unchanged."""
        if isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc):
            return DatabaseError(f"database {self.url.display} is closed")
        denial = self._guard.take() if self._guard is not None else None
        if denial is None:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
                return DatabaseError(damaged(self.url.display, str(exc)))
            return exc
        shown = " ".join(sql.split())
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return StatementRefusedError(
            f"statement {shown!r} is refused: it runs {denial.what}, which would end or escape "
            f"the transaction memvault controls{denial.hint}",
            sql,
            denial.what,
        )

    # -- the transaction guard ----------------------------------------------------
    @contextmanager
    def guarded(self) -> Iterator[TransactionGuard]:
        """Deny, while the block runs, every statement that would end, nest or escape the
        current transaction (SQLite's authorizer decides; see memvault.db.guard)."""
        from memvault.db.guard import TransactionGuard  # writes and verify only, not reads

        outer = self._guard
        guard = TransactionGuard()
        self._guard = guard
        self.conn.set_authorizer(guard)
        try:
            yield guard
        finally:
            self._guard = outer
            self.conn.set_authorizer(outer)

    def _control(self, sql: str) -> None:
        """Run one of memvault's own transaction statements, past the guard."""
        if self._guard is None:
            self.conn.execute(sql)
            return
        self.conn.set_authorizer(None)
        try:
            self.conn.execute(sql)
        finally:
            self.conn.set_authorizer(self._guard)

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
            self._begin_write()
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self.conn.in_transaction:
                    self._control("ROLLBACK")
                raise
            else:
                self._depth -= 1
                self._commit()
            return
        name = f"memvault_sp_{next(self._savepoints)}"
        self._control(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self
        except BaseException:
            self._depth -= 1
            self._control(f"ROLLBACK TO {name}")
            self._control(f"RELEASE {name}")
            raise
        else:
            self._depth -= 1
            self._control(f"RELEASE {name}")

    def _begin_write(self) -> None:
        """BEGIN IMMEDIATE, retried with backoff while another writer holds the lock.

        SQLite's busy handler already waits, but some contention (a WAL snapshot that moved,
        a checkpoint in progress) returns SQLITE_BUSY at once; past the busy timeout the
        wait ends in a BusyError naming the database.
        """
        if self._wal_on_write:
            self._wal_on_write = False
            with contextlib.suppress(sqlite3.OperationalError):  # e.g. network filesystems
                self.conn.execute("PRAGMA journal_mode = WAL")
        self._retry_busy(lambda: self._control(self.dialect.begin_write), "start a write")

    def _commit(self) -> None:
        """COMMIT (retried while readers block it, in rollback-journal mode); on failure,
        everything is rolled back."""
        try:
            self._retry_busy(lambda: self._control("COMMIT"), "commit")
        except BaseException:
            if self.conn.in_transaction:
                self._control("ROLLBACK")
            raise

    def _retry_busy(self, attempt: Callable[[], None], doing: str) -> None:
        started = time.monotonic()
        budget_ms: int | None = None
        pause = 0.001
        while True:
            try:
                attempt()
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                if budget_ms is None:  # the lock lowers it per attempt: ask, do not assume
                    budget_ms = self._busy_budget_ms()
                    deadline = started + budget_ms / 1000
                now = time.monotonic()
                if now >= deadline:
                    raise BusyError(
                        f"database {self.url.display} is busy: could not {doing} after waiting "
                        f"{now - started:.1f} s for another connection's write lock "
                        f"(busy timeout {budget_ms} ms)"
                    ) from exc
                import random  # only once a write has met a busy file

                time.sleep(min(pause * random.uniform(0.5, 1.5), deadline - now))
                pause = min(pause * 2, 0.1)

    def _busy_budget_ms(self) -> int:
        """How long a busy write may be retried: the connection's busy timeout (which the
        lock lowers per attempt), or the configured one where PRAGMAs are not available."""
        if not self.capabilities.pragmas:
            return self.busy_timeout_ms
        return int(self.conn.execute("PRAGMA busy_timeout").fetchone()[0])

    @contextmanager
    def probe(self) -> Iterator[Database]:
        """A savepoint that is always rolled back: look, and leave no trace.

        Outside a transaction it is a whole transaction (BEGIN … ROLLBACK): a libSQL server
        keeps a stream, and so the savepoint, only for an explicit transaction.
        """
        if not self.conn.in_transaction and not self.capabilities.pragmas:
            self._control("BEGIN")
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
                if self.conn.in_transaction:
                    self._control("ROLLBACK")
            return
        name = f"memvault_probe_{next(self._savepoints)}"
        self._control(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            self._control(f"ROLLBACK TO {name}")
            self._control(f"RELEASE {name}")

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
        """Close the connection (again: a no-op)."""
        self.conn.close()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


def damaged(where: str, problem: str, doing: str = "") -> str:
    """The one-line message for a database that fails its integrity check."""
    refusing = f"; refusing to {doing}" if doing else ""
    return (
        f"database {where} is damaged ({problem}){refusing}: run `memvault -d {where} db check`, "
        f"or `memvault -d {where} db restore BACKUP`"
    )


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


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
    read_only: bool = False,
) -> Database:
    """Open a database: foreign keys on, busy timeout; WAL from the first write transaction.

    `wal=True` switches the file to WAL just before its first write transaction (never on
    open, so that a read or a refused command leaves the journal mode as it was);
    `wal=False` never switches. `read_only=True` (or `?mode=ro` / `?immutable=1` in the
    URL) opens a connection that cannot write: on a writable file a normal connection
    with `query_only` (which removes its -wal/-shm on close as usual), else SQLite's
    read-only mode, so reading works on a read-only file and in a read-only folder.

    Raises DatabaseError when the file is not a SQLite database, and when it does not
    exist and `create` is False (or it is opened read-only).
    """
    url = location if isinstance(location, DatabaseURL) else parse_url(location)
    if url.remote is not None:
        return _connect_remote(url, busy_timeout_ms=busy_timeout_ms)
    if url.path is None:
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        _configure(conn, busy_timeout_ms=busy_timeout_ms, wal=False)
        return Database(conn, url, busy_timeout_ms=busy_timeout_ms)
    path = url.path
    read_only = read_only or url.read_only or url.immutable
    if path.exists():
        _check_is_database(path)
    elif read_only or not create:
        raise DatabaseError(f"database {path} does not exist")
    elif not path.parent.exists():
        raise DatabaseError(f"cannot create database {path}: folder {path.parent} does not exist")
    try:
        conn = _open(path, read_only=read_only, immutable=url.immutable)
        _configure(conn, busy_timeout_ms=busy_timeout_ms, wal=False)
        if read_only:
            conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path}: {exc}") from exc
    return Database(conn, url, busy_timeout_ms=busy_timeout_ms, wal_on_write=wal and not read_only)


def _open(path: Path, *, read_only: bool, immutable: bool) -> sqlite3.Connection:
    """A connection to `path`; SQLite's read-only mode when the file or folder is not
    writable (or the caller asked for it in the URL).

    In a folder nobody can write, a WAL file's -shm cannot be created; when no -wal file
    exists there either, no writer can exist, so the file is opened as immutable.
    """
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    if not immutable and (not read_only or writable):
        return sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    no_writer_possible = not os.access(path.parent, os.W_OK) and not _side(path, "-wal").exists()
    uri = path.resolve().as_uri().replace("file://", "file:", 1) + "?mode=ro"
    if immutable or no_writer_possible:
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def _side(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


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
    if url.remote is not None:
        return _snapshot_remote(url)
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
    import shutil  # these two only for a dry run of a large file
    import tempfile

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


def _connect_remote(url: DatabaseURL, *, busy_timeout_ms: int) -> Database:
    """A libSQL server: checked with one statement, so a wrong URL or token fails here."""
    assert url.remote is not None
    remote = url.remote
    try:
        from memvault.db.libsql import connect_remote  # the libsql client loads only when used

        if remote.replica is not None:
            from memvault.db.replica import connect_replica

            conn = connect_replica(
                remote.endpoint, remote.auth_token, remote.replica, remote.sync_seconds
            )
        else:
            conn = connect_remote(remote.endpoint, remote.auth_token)
        conn.execute("SELECT 1")
    except ImportError as exc:
        raise DatabaseError(
            f"{url.display}: the libsql client is not installed (pip install 'memvault[libsql]')"
        ) from exc
    except sqlite3.Error as exc:
        raise DatabaseError(f"{url.display}: {exc}") from exc
    return Database(conn, url, LIBSQL, busy_timeout_ms=busy_timeout_ms)


def _snapshot_remote(url: DatabaseURL) -> Database:
    """A private local copy of a remote database (read in one transaction), for dry runs:
    nothing that writes is sent to the server. The copy is deleted when closed."""
    import tempfile

    from memvault.db.copy import copy_to_file

    fd, name = tempfile.mkstemp(prefix="memvault-snapshot-", suffix=".db")
    os.close(fd)
    scratch = Path(name)
    scratch.unlink()
    remote = _connect_remote(url, busy_timeout_ms=0)
    try:
        copy_to_file(remote.conn, scratch)
    except sqlite3.Error as exc:
        raise DatabaseError(f"{url.display}: cannot copy it for a dry run: {exc}") from exc
    finally:
        remote.close()
    conn = sqlite3.connect(str(scratch), isolation_level=None, check_same_thread=False)
    return _configured(conn, url, on_close=lambda: _remove_with_journal(scratch))
