"""A libSQL server (sqld, Turso) behind the same connection surface as stdlib sqlite3.

`LibSQLConnection` wraps the `libsql` client's remote connection (Hrana over HTTP) so that
`Database` drives it exactly as it drives a sqlite3 connection: named parameters are
translated to positional ones (memvault.db.params), rows are sqlite3.Row objects, every
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

import functools
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import libsql

from memvault.db.params import positional, without_comments

Authorizer = Callable[[int, str | None, str | None, str | None, str | None], int]

# "Hrana: `stream error: `Error { message: "SQLite error: no such table: x", code: "..." }``"
_MESSAGE = re.compile(r'message: "(?P<message>(?:[^"\\]|\\.)*)"(?:, code: "(?P<code>[A-Z_0-9]+)")?')
_BUSY_CODES = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED", "TRANSACTION_TIMEOUT", "TRANSACTION_BUSY"})


# Rows are sqlite3.Row objects, the very type a local SQLite connection returns (by
# position, by case-insensitive name, keys()): built in C from the server's values, with
# the column names taken from a cached empty statement of the same shape.
_SHAPES = sqlite3.connect(":memory:", check_same_thread=False)


@functools.lru_cache(maxsize=512)
def _shape(columns: tuple[str, ...]) -> sqlite3.Cursor:
    """A cursor whose description names `columns` (for sqlite3.Row)."""
    names = ", ".join('NULL AS "' + c.replace('"', '""') + '"' for c in columns) or "NULL"
    return _SHAPES.execute(f"SELECT {names} LIMIT 0")


Row = sqlite3.Row


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
                shape = _shape(tuple(col[0] for col in raw.description))
                self._rows = [Row(shape, values) for values in raw.fetchall()]

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
    code = (match.group("code") or "") if match else ""
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
    elif "status=401" in text or "status=403" in text:
        reason = re.search(r'"error":"(?P<why>(?:[^"\\]|\\.)*)"', text)
        why = reason.group("why").replace("`", "") if reason else "401 Unauthorized"
        error = sqlite3.OperationalError(
            f"the server refused the connection ({why}): give an auth token with "
            "--auth-token, MEMVAULT_AUTH_TOKEN or TURSO_AUTH_TOKEN"
        )
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
        self.sent: list[tuple[str, tuple[Any, ...]]] | None = None  # a list records requests
        self._authorizer: Authorizer | None = None
        self._compiler: sqlite3.Connection | None = None

    # -- statements ---------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> LibSQLCursor:
        self._authorize(sql)
        text, values = positional(sql, params)
        try:
            return self._send(text, values, sql)
        except sqlite3.OperationalError as exc:
            if "no transaction is active" in str(exc) and _is_rollback(sql):
                return LibSQLCursor()  # the server already ended it (a failed COMMIT)
            raise

    def executemany(
        self, sql: str, rows: Iterable[Sequence[Any] | Mapping[str, Any]]
    ) -> LibSQLCursor:
        """Every row of parameters, in as few requests as possible.

        A plain `INSERT … VALUES (…)` is sent as multi-row INSERTs (up to the parameter
        limit each): one request per chunk instead of one per row, with the same effect
        (triggers fire per row; an error stops at the failing statement). Anything else is
        one request per row (the client has no batch call). rowcount is the total.
        """
        batch = list(rows)
        values_at = insert_values_group(sql)
        if values_at is not None and len(batch) > 1:
            return self._insert_many(sql, values_at, batch)
        total = 0
        last: LibSQLCursor | None = None
        for params in batch:
            last = self.execute(sql, params)
            total += max(last.rowcount, 0)
        cursor = LibSQLCursor()
        cursor.rowcount = total
        cursor.lastrowid = last.lastrowid if last is not None else None
        return cursor

    def _insert_many(
        self,
        sql: str,
        group: tuple[int, int],
        batch: list[Sequence[Any] | Mapping[str, Any]],
    ) -> LibSQLCursor:
        head, one = sql[: group[0]], sql[group[0] : group[1]]
        width = max(len(positional(one, batch[0])[1]), 1)
        per_request = max(1, MAX_PARAMS // width)
        total = 0
        cursor = LibSQLCursor()
        for start in range(0, len(batch), per_request):
            chunk = batch[start : start + per_request]
            groups: list[str] = []
            values: list[Any] = []
            for k, params in enumerate(chunk):
                text, sent = positional(one, params, offset=k * width)
                groups.append(text)
                values.extend(sent)
            cursor = self._send(head + ", ".join(groups), tuple(values), sql)
            total += max(cursor.rowcount, 0)
        cursor.rowcount = total
        return cursor

    def _send(self, text: str, values: tuple[Any, ...], shown: str) -> LibSQLCursor:
        self.round_trips += 1
        if self.sent is not None:
            self.sent.append((text, values))
        try:
            return LibSQLCursor(self.raw.execute(text, values))
        except ValueError as exc:
            raise driver_error(exc, shown) from exc
        except TypeError as exc:
            # libsql 0.1.11 fails to read a successful reply that carries no rowid (REINDEX,
            # an FTS5 command such as 'optimize'); the server ran it (its errors arrive as
            # ValueError): an empty result, as sqlite3 gives.
            if "not subscriptable" not in str(exc):
                raise
            return LibSQLCursor()

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


MAX_PARAMS = 30000  # under SQLite's default limit of 32766 bound parameters per statement


def insert_values_group(sql: str) -> tuple[int, int] | None:
    """Where the one `( … )` after VALUES of a plain INSERT starts and ends, else None
    (INSERT … SELECT, upserts, RETURNING, several groups: not batched)."""
    code = without_comments(sql).strip().rstrip(";").rstrip()
    if code != sql.strip().rstrip(";").rstrip():
        return None  # comments inside: keep it simple, send it row by row
    words = code.split(None, 1)
    if not words or words[0].upper() not in ("INSERT", "REPLACE"):
        return None
    found = list(re.finditer(r"\bVALUES\s*\(", code, re.IGNORECASE))
    if not found or not code.endswith(")"):
        return None
    start = found[-1].end() - 1
    depth = 0
    for i in range(start, len(code)):
        depth += {"(": 1, ")": -1}.get(code[i], 0)
        if depth == 0:
            return (start, i + 1) if i == len(code) - 1 else None
    return None


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


def connect_raw(url: str, auth_token: str | None) -> Any:
    """The libsql client's own connection, unwrapped: the baseline benchmarks compare with."""
    return libsql.connect(url, isolation_level=None, auth_token=auth_token or "")


def connect_remote(url: str, auth_token: str | None, *, timeout: float = 5.0) -> LibSQLConnection:
    """A connection to a libSQL server at `url` (http://, https://), in autocommit mode."""
    try:
        raw = libsql.connect(
            url, isolation_level=None, auth_token=auth_token or "", timeout=timeout
        )
    except ValueError as exc:
        raise driver_error(exc) from exc
    return LibSQLConnection(raw)
