"""What memvault code outside `memvault.db` may know about a driver: these types and errors.

Both backends speak SQLite's SQL, and every backend raises the errors of SQLite's DB-API
family (the libSQL wrapper maps the server's errors onto them; a PostgreSQL adapter would
map psycopg's), so callers catch `driver.Error`, `driver.OperationalError` … and never
import a driver. `Row` and `Cursor` are what a statement gives back on every backend.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, KeysView, Sequence
from pathlib import Path
from typing import Any, Protocol

Error = sqlite3.Error
DatabaseError = sqlite3.DatabaseError  # the driver's, not memvault.errors.DatabaseError
OperationalError = sqlite3.OperationalError
IntegrityError = sqlite3.IntegrityError
ProgrammingError = sqlite3.ProgrammingError
Warning = sqlite3.Warning
SQLITE_VERSION = sqlite3.sqlite_version  # the local SQLite library (files, dry-run copies)
complete_statement = sqlite3.complete_statement


class Row(Protocol):
    """One result row: by position and by column name."""

    def __getitem__(self, key: Any, /) -> Any: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Any]: ...
    def keys(self) -> list[str] | KeysView[str]: ...


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int: ...
    @property
    def lastrowid(self) -> int | None: ...
    @property
    def description(self) -> Any: ...

    row_factory: Any  # None: plain tuples (sqlite3); libSQL's rows take no factory

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int = ..., /) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...
    def close(self) -> None: ...


class Connection(Protocol):
    """One connection: sqlite3.Connection, or memvault.db.libsql.LibSQLConnection."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...
    def executemany(self, sql: str, parameters: Any, /) -> Any: ...
    def executescript(self, sql_script: str, /) -> Any: ...
    @property
    def in_transaction(self) -> bool: ...
    def set_authorizer(self, authorizer_callback: Any, /) -> None: ...
    def close(self) -> None: ...


def positions(row: Row) -> Sequence[Any]:
    """A row's values as a tuple, whatever the backend's row type."""
    return tuple(row)


SQLiteConnection = sqlite3.Connection


def open_sqlite(database: str | Path, **kwargs: Any) -> sqlite3.Connection:
    """A raw connection to a local SQLite file, for what only a file has (the backup API,
    page-level copies, the stairway's scratch files); everything else goes through
    `memvault.db.connect`, which works on every backend."""
    conn: sqlite3.Connection = sqlite3.connect(database, **kwargs)
    return conn
