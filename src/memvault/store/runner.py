"""Run catalog queries by name: the only way the store's repositories touch the database.

A repository holds a QueryRunner, never a Database, so it cannot run SQL that the query
catalog does not know (see memvault.store.catalog and memvault.store.queries).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from memvault.db import Database, driver
from memvault.errors import ValidationError
from memvault.store import catalog

# SQLite's INTEGER is a signed 64-bit number.
MAX_INTEGER = 2**63 - 1
MIN_INTEGER = -(2**63)


def check_count(name: str, value: object) -> int:
    """A limit or offset: a whole number from 0 to SQLite's largest, else ValidationError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a whole number (got {value!r})")
    if value < 0:
        raise ValidationError(f"{name} must not be negative (got {value})")
    if value > MAX_INTEGER:
        raise ValidationError(f"{name} {value} is larger than {MAX_INTEGER}")
    return value


def _bad_parameter(params: Mapping[str, Any]) -> ValidationError | None:
    """The first parameter SQLite cannot take (an integer beyond 64 bits, text that is not
    valid Unicode), named; None when all are fine. Only looked for after a failure."""
    for key, value in params.items():
        if isinstance(value, int) and not MIN_INTEGER <= value <= MAX_INTEGER:
            return ValidationError(f"{key} {value} is out of range (at most {MAX_INTEGER})")
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                return ValidationError(
                    f"{key} is not valid text: {value[exc.start : exc.end]!r} at position "
                    f"{exc.start} is not a Unicode character (invalid UTF-8 input?)"
                )
    return None


@contextmanager
def _named_failures(params: Mapping[str, Any]) -> Iterator[None]:
    """Turn the driver's OverflowError/UnicodeEncodeError into a ValidationError naming
    the parameter; check limits and offsets up front."""
    for key in ("limit", "offset"):
        if key in params:
            check_count(key, params[key])
    try:
        yield
    except (OverflowError, UnicodeEncodeError) as exc:
        raise (_bad_parameter(params) or ValidationError(f"invalid parameter: {exc}")) from None


class QueryRunner:
    """Executes registered queries, by name, with named parameters."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def remote(self) -> bool:
        """True on a server (libSQL), where every statement is a round trip."""
        return self._db.capabilities.remote

    def rows(self, name: str, /, **params: Any) -> list[driver.Row]:
        """Every row of a registered query."""
        with _named_failures(params):
            return self._db.query(catalog.sql(name), params)

    def tuples(self, name: str, /, **params: Any) -> list[tuple[Any, ...]]:
        """Every row of a registered query as a plain tuple (for many rows read by position)."""
        with _named_failures(params):
            return self._db.query_tuples(catalog.sql(name), params)

    @contextmanager
    def chunks(
        self, name: str, size: int, /, **params: Any
    ) -> Iterator[Iterator[list[tuple[Any, ...]]]]:
        """The rows of a registered query as plain tuples, `size` at a time (each list is
        freed before the next is fetched); the cursor is closed on leaving."""
        with _named_failures(params):
            cursor = self._db.execute(catalog.sql(name), params)
        cursor.row_factory = None  # rows are made when fetched: this still applies
        try:
            yield iter(lambda: cursor.fetchmany(size), [])
        finally:
            cursor.close()

    @contextmanager
    def iterate(self, name: str, /, **params: Any) -> Iterator[Iterator[driver.Row]]:
        """The rows of a registered query, fetched as they are read; closed on leaving."""
        with _named_failures(params):
            cursor = self._db.execute(catalog.sql(name), params)
        try:
            yield iter(cursor)
        finally:
            cursor.close()

    def one(self, name: str, /, **params: Any) -> driver.Row | None:
        """The first row of a registered query, or None."""
        with _named_failures(params):
            row: driver.Row | None = self._db.execute(catalog.sql(name), params).fetchone()
        return row

    def scalar(self, name: str, /, **params: Any) -> Any:
        """The first column of the first row, or None."""
        with _named_failures(params):
            return self._db.scalar(catalog.sql(name), params)

    def execute(self, name: str, /, **params: Any) -> int:
        """Run a registered statement; the number of rows it changed."""
        with _named_failures(params):
            return self._db.execute(catalog.sql(name), params).rowcount

    def insert(self, name: str, /, **params: Any) -> int:
        """Run a registered insert; the rowid of the new row."""
        with _named_failures(params):
            rowid = self._db.execute(catalog.sql(name), params).lastrowid
        assert rowid is not None
        return rowid

    def executemany(self, name: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Run a registered statement once per parameter row; rows changed in all."""
        batch = [dict(row) for row in rows]
        try:
            return self._db.executemany(catalog.sql(name), batch).rowcount
        except (OverflowError, UnicodeEncodeError) as exc:
            for n, row in enumerate(batch):
                problem = _bad_parameter(row)
                if problem is not None:
                    raise ValidationError(f"item {n}: {problem}") from None
            raise ValidationError(f"invalid parameter: {exc}") from None

    def atomic(self) -> AbstractContextManager[Database]:
        """A transaction (or a savepoint inside one): see Database.atomic."""
        return self._db.atomic()
