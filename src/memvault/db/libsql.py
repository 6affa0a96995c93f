"""A libSQL server (sqld, Turso) behind the same connection surface as stdlib sqlite3.

`LibSQLConnection` wraps the `libsql` client's remote connection (Hrana over HTTP) so that
`Database` drives it exactly as it drives a sqlite3 connection: named parameters are
translated to positional ones (memvault.db.params), rows are mappings (`Row`), every
driver error becomes the matching `sqlite3` exception class (memvault catches those, and
one family keeps the callers backend-blind), and every request sent to the server is
counted in `round_trips`.

What the client cannot do, the wrapper does here, or refuses:
- `set_authorizer`: the server has no authorizer hook; the wrapper compiles each
  statement on a private in-memory SQLite with the installed authorizer first (no data,
  no schema: transaction control, ATTACH and PRAGMAs compile without a schema), so the
  transaction guard still asks SQLite what a statement does. A statement that does not
  compile there (it names tables) is not one of those and goes to the server.
- `executescript`: the client ignores errors after the first statement of a script, so
  the wrapper splits the script with `sqlite3.complete_statement` and sends each statement.
- `backup`, `deserialize`, `create_function`: none; `Database.capabilities` says so.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import libsql

from memvault.db.params import positional, without_comments

Authorizer = Callable[[int, str | None, str | None, str | None, str | None], int]

# "Hrana: `stream error: `Error { message: "SQLite error: no such table: x", code: "..." }``"
_MESSAGE = re.compile(r'message: "(?P<message>(?:[^"\\]|\\.)*)", code: "(?P<code>[A-Z_0-9]+)"')
_BUSY_CODES = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED", "TRANSACTION_TIMEOUT", "TRANSACTION_BUSY"})


class Row(tuple[Any, ...]):
    """One result row: a tuple that also answers `row["column"]` and `keys()`, like sqlite3.Row."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._index[key])
            except KeyError:
                lowered = {k.lower(): v for k, v in self._index.items()}
                if key.lower() in lowered:
                    return tuple.__getitem__(self, lowered[key.lower()])
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


class LibSQLCursor:
    """The result of one statement: rows already fetched (the server sends them whole)."""

    def __init__(self, raw: Any | None = None) -> None:
        self.description: tuple[tuple[Any, ...], ...] | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Row] = []
        self._next = 0
        if raw is not None:
            self.description = raw.description
            self.rowcount = raw.rowcount
            self.lastrowid = raw.lastrowid
            if raw.description:
                index = {col[0]: i for i, col in enumerate(raw.description)}
                self._rows = [Row(values, index) for values in raw.fetchall()]

    def fetchone(self) -> Row | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Row]:
        rest = self._rows[self._next :]
        self._next = len(self._rows)
        return rest

    def fetchmany(self, size: int = 1) -> list[Row]:
        chunk = self._rows[self._next : self._next + size]
        self._next += len(chunk)
        return chunk

    def __iter__(self) -> Iterator[Row]:
        while (row := self.fetchone()) is not None:
            yield row

    def close(self) -> None:
        self._rows = []


def driver_error(exc: Exception, sql: str | None = None) -> sqlite3.Error:
    """The sqlite3 exception a local SQLite would have raised for this libSQL error."""
    text = str(exc)
    match = _MESSAGE.search(text)
    code = match.group("code") if match else ""
    message = match.group("message").replace('\\"', '"') if match else text
    for prefix in ("SQLite error: ", "SQL input error: "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    error: sqlite3.Error
    if code == "SQLITE_CONSTRAINT" or "constraint failed" in message:
        error = sqlite3.IntegrityError(message)
    elif code in _BUSY_CODES or "database is locked" in message:
        error = sqlite3.OperationalError(f"database is locked ({message})")
        error.sqlite_errorcode = sqlite3.SQLITE_BUSY
    elif "http error" in text or ("connect" in message.lower() and not match):
        error = sqlite3.OperationalError(f"cannot reach the libSQL server: {message}")
    else:
        error = sqlite3.OperationalError(message)
    return error


class LibSQLConnection:
    """A remote libSQL connection with the part of sqlite3.Connection's surface memvault uses."""

    row_factory: Any = None  # accepted and ignored: rows are always `Row`

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.round_trips = 0
        self._authorizer: Authorizer | None = None
        self._compiler: sqlite3.Connection | None = None

    # -- statements ---------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> LibSQLCursor:
        self._authorize(sql)
        text, values = positional(sql, params)
        self.round_trips += 1
        try:
            return LibSQLCursor(self.raw.execute(text, values))
        except ValueError as exc:
            if "no transaction is active" in str(exc) and _is_rollback(sql):
                return LibSQLCursor()  # the server already ended it (a failed COMMIT)
            raise driver_error(exc, sql) from exc

    def executemany(
        self, sql: str, rows: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> LibSQLCursor:
        """One request per row (the client has no batch call); rowcount is their sum."""
        total = 0
        last: LibSQLCursor | None = None
        for params in rows:
            last = self.execute(sql, params)
            total += max(last.rowcount, 0)
        cursor = LibSQLCursor()
        cursor.rowcount = total
        cursor.lastrowid = last.lastrowid if last is not None else None
        return cursor

    def executescript(self, script: str) -> LibSQLCursor:
        """Each statement of `script` in turn, stopping at the first error."""
        for statement in split_statements(script):
            self.execute(statement)
        return LibSQLCursor()

    # -- transactions and lifecycle -------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return bool(self.raw.in_transaction)

    def set_authorizer(self, authorizer: Authorizer | None) -> None:
        """Install an authorizer consulted, on a private in-memory SQLite, before each send."""
        self._authorizer = authorizer
        if authorizer is not None and self._compiler is None:
            self._compiler = sqlite3.connect(":memory:", isolation_level=None)
        if self._compiler is not None:
            self._compiler.set_authorizer(authorizer)

    def _authorize(self, sql: str) -> None:
        if self._authorizer is None or self._compiler is None:
            return
        for statement in split_statements(sql):
            try:
                self._compiler.execute(f"EXPLAIN {statement}")
            except sqlite3.DatabaseError as exc:
                if "not authorized" in str(exc) or "prohibited" in str(exc):
                    raise
                # Anything else (no such table, a libSQL-only function): the statement
                # needs the schema, so it is not transaction control; the server decides.

    def close(self) -> None:
        if self._compiler is not None:
            self._compiler.close()
            self._compiler = None
        self.raw.close()


def _is_rollback(sql: str) -> bool:
    return without_comments(sql).strip().rstrip(";").strip().upper() == "ROLLBACK"


def split_statements(script: str) -> list[str]:
    """The complete statements of `script`, in order (SQLite decides where each one ends)."""
    statements: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if without_comments(current).strip(" \t\r\n;"):
                statements.append(current.strip())
            current = ""
    rest = current[:-1].strip()
    if without_comments(rest).strip(" \t\r\n;"):
        statements.append(rest)
    return statements


def connect_remote(url: str, auth_token: str | None, *, timeout: float = 5.0) -> LibSQLConnection:
    """A connection to a libSQL server at `url` (http://, https://), in autocommit mode."""
    try:
        raw = libsql.connect(
            url, isolation_level=None, auth_token=auth_token or "", timeout=timeout
        )
    except ValueError as exc:
        raise driver_error(exc) from exc
    return LibSQLConnection(raw)
