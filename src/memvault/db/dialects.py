"""Dialects: capability flags and SQL templates, so the core never asks `if backend == ...`.

Only SQLite exists today. A PostgreSQL or libSQL backend adds a Dialect here and a
connector in `memvault.db.connect`; the migration engine does not change.
"""

from __future__ import annotations

from dataclasses import dataclass


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

    def columns(self, table: str) -> str:
        return (
            'SELECT name, type, "notnull", dflt_value, pk '
            f"FROM pragma_table_info({self._literal(table)})"
        )

    @staticmethod
    def _literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"


SQLITE = SQLiteDialect()
