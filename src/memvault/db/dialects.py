"""Dialects: capability flags and SQL templates, so the core never asks `if backend == ...`.

SQLite (a local file) and libSQL (a sqld / Turso server, SQLite's SQL over the network)
exist. A PostgreSQL backend adds a Dialect here and a connector in `memvault.db.connect`;
the migration engine does not change (docs/backends.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond running SQL; callers branch on these, never on names."""

    backup_api: bool  # page-level online backup (sqlite3's backup API)
    file_path: bool  # the database is a local file (size on disk, side files, copies)
    pragmas: bool  # connection-setting PRAGMAs (busy_timeout, foreign_keys, journal_mode)
    extension_loading: bool  # load_extension() on the connection
    authorizer: bool  # the connection's own authorizer sees each statement
    remote: bool  # every statement is a network round trip


@dataclass(frozen=True)
class Dialect:
    """What a database can do, and the SQL the engine needs to ask it about itself."""

    name: str
    transactional_ddl: bool
    begin_write: str
    table_exists: str
    index_exists: str
    trigger_exists: str
    view_exists: str
    capabilities: Capabilities

    def columns(self, table: str) -> str:
        """SQL returning one row per column of `table`, with a `name` column."""
        raise NotImplementedError

    def quote(self, identifier: str) -> str:
        """Quote an identifier (table, column, index name)."""
        return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class SQLiteDialect(Dialect):
    """SQLite: DDL is transactional, BEGIN IMMEDIATE takes the write lock up front."""

    name: str = "sqlite"
    transactional_ddl: bool = True
    begin_write: str = "BEGIN IMMEDIATE"
    table_exists: str = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    index_exists: str = "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?"
    trigger_exists: str = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?"
    view_exists: str = "SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = ?"
    capabilities: Capabilities = Capabilities(
        backup_api=True,
        file_path=True,
        pragmas=True,
        extension_loading=True,
        authorizer=True,
        remote=False,
    )

    def columns(self, table: str) -> str:
        return (
            'SELECT name, type, "notnull", dflt_value, pk '
            f"FROM pragma_table_info({self._literal(table)})"
        )

    @staticmethod
    def _literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class LibSQLDialect(SQLiteDialect):
    """libSQL on a server: SQLite's SQL and transactional DDL, reached over HTTP (Hrana).

    sqld keeps foreign keys on for every statement and refuses connection-setting PRAGMAs
    (`busy_timeout` is "unsupported statement"; `foreign_keys = OFF` does not last past its
    own request); it has no backup API and no file here; the wrapper emulates the
    authorizer on a private in-memory SQLite (memvault.db.libsql).
    """

    name: str = "libsql"
    capabilities: Capabilities = Capabilities(
        backup_api=False,
        file_path=False,
        pragmas=False,
        extension_loading=False,
        authorizer=False,
        remote=True,
    )


SQLITE = SQLiteDialect()
LIBSQL = LibSQLDialect()
