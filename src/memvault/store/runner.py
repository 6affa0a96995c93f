"""Run catalog queries by name: the only way the store's repositories touch the database.

A repository holds a QueryRunner, never a Database, so it cannot run SQL that the query
catalog does not know (see memvault.store.catalog and memvault.store.queries).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from memvault.db import Database
from memvault.store import catalog


class QueryRunner:
    """Executes registered queries, by name, with named parameters."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def rows(self, name: str, /, **params: Any) -> list[sqlite3.Row]:
        """Every row of a registered query."""
        return self._db.query(catalog.sql(name), params)

    def tuples(self, name: str, /, **params: Any) -> list[tuple[Any, ...]]:
        """Every row of a registered query as a plain tuple (for many rows read by position)."""
        return self._db.query_tuples(catalog.sql(name), params)

    @contextmanager
    def iterate(self, name: str, /, **params: Any) -> Iterator[Iterator[sqlite3.Row]]:
        """The rows of a registered query, fetched as they are read; closed on leaving."""
        cursor = self._db.execute(catalog.sql(name), params)
        try:
            yield iter(cursor)
        finally:
            cursor.close()

    def one(self, name: str, /, **params: Any) -> sqlite3.Row | None:
        """The first row of a registered query, or None."""
        row: sqlite3.Row | None = self._db.execute(catalog.sql(name), params).fetchone()
        return row

    def scalar(self, name: str, /, **params: Any) -> Any:
        """The first column of the first row, or None."""
        return self._db.scalar(catalog.sql(name), params)

    def execute(self, name: str, /, **params: Any) -> int:
        """Run a registered statement; the number of rows it changed."""
        return self._db.execute(catalog.sql(name), params).rowcount

    def insert(self, name: str, /, **params: Any) -> int:
        """Run a registered insert; the rowid of the new row."""
        rowid = self._db.execute(catalog.sql(name), params).lastrowid
        assert rowid is not None
        return rowid

    def executemany(self, name: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Run a registered statement once per parameter row; rows changed in all."""
        return self._db.executemany(catalog.sql(name), (dict(row) for row in rows)).rowcount

    def atomic(self) -> AbstractContextManager[Database]:
        """A transaction (or a savepoint inside one): see Database.atomic."""
        return self._db.atomic()
