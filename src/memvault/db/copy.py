"""Copy a whole database through SQL: a remote libSQL database into a local SQLite file, and
a local SQLite file onto a remote database.

A remote server has no backup API and no file to copy, so the copy is made by reading: the
schema and every table's rows (shadow tables of FTS5 included, verbatim, rowids kept) in
one read transaction, which the server serves from one snapshot, so the copy is
consistent while others write. Rows move in pages of `PAGE_ROWS` per request, and are
written with multi-row INSERTs, so the round trips grow with the data / page size, not
with the number of rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from memvault.errors import DatabaseError

PAGE_ROWS = 2000
# SQLite's default SQLITE_MAX_VARIABLE_NUMBER is 32766; stay well under it per statement.
MAX_PARAMS_PER_INSERT = 30000


class Executes(Protocol):
    """The part of a connection the copy needs (sqlite3.Connection, LibSQLConnection)."""

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...


@dataclass(frozen=True)
class Table:
    """One table to copy: its name, its CREATE statement, how it is stored."""

    name: str
    sql: str | None
    kind: str  # 'table', 'virtual' or 'shadow'
    has_rowid: bool


@dataclass(frozen=True)
class Schema:
    """Every object of a database, in the order SQLite created them."""

    tables: list[Table]
    later: list[tuple[str, str, str]]  # (type, name, sql) of indexes, triggers, views
    analyzed: bool  # sqlite_stat1 exists: the copy is analysed too


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_schema(conn: Executes) -> Schema:
    """The schema of the database `conn` is connected to (2 requests)."""
    kinds = {
        row[0]: (row[1], not row[2])
        for row in conn.execute(
            "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main'"
        ).fetchall()
    }
    tables: list[Table] = []
    later: list[tuple[str, str, str]] = []
    analyzed = False
    for kind, name, sql in conn.execute(
        "SELECT type, name, sql FROM sqlite_master ORDER BY rowid"
    ).fetchall():
        if name == "sqlite_stat1":
            analyzed = True
        if name.startswith("sqlite_"):
            continue
        if kind == "table":
            table_kind, has_rowid = kinds.get(name, ("table", True))
            tables.append(Table(name, sql, table_kind, has_rowid and table_kind != "virtual"))
        elif sql is not None:  # automatic indexes have no SQL: their constraint makes them
            later.append((kind, name, sql))
    return Schema(tables, later, analyzed)


def table_rows(conn: Executes, table: Table) -> Iterator[tuple[list[str], list[Sequence[Any]]]]:
    """(columns, page of rows) for every page of `table`, rowid first when it has one."""
    name = quote(table.name)
    if not table.has_rowid:
        cursor = conn.execute(f"SELECT * FROM {name}")
        columns: list[str] = [d[0] for d in cursor.description]
        rows: list[Sequence[Any]] = [tuple(r) for r in cursor.fetchall()]
        yield columns, rows
        return
    after: int | None = None
    while True:
        where = "" if after is None else f"WHERE _rowid_ > {int(after)} "
        cursor = conn.execute(
            f"SELECT _rowid_ AS memvault_rowid, * FROM {name} {where}"
            f"ORDER BY _rowid_ LIMIT {PAGE_ROWS}"
        )
        columns = ["rowid", *[d[0] for d in cursor.description][1:]]
        page: list[Sequence[Any]] = [tuple(r) for r in cursor.fetchall()]
        if not page:
            return
        yield columns, page
        if len(page) < PAGE_ROWS:
            return
        after = page[-1][0]


def insert_rows(
    conn: Executes, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    """Insert `rows` with as few multi-row INSERT statements as the parameter limit allows."""
    if not rows:
        return 0
    per_statement = max(1, MAX_PARAMS_PER_INSERT // max(1, len(columns)))
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES "
    one = "(" + ", ".join("?" * len(columns)) + ")"
    sent = 0
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = [v for row in chunk for v in row]
        conn.execute(head + ", ".join([one] * len(chunk)), values)
        sent += 1
    return sent


@dataclass(frozen=True)
class CopyReport:
    """What a copy moved."""

    tables: int
    rows: int


def copy_to_file(source: Executes, target: Path) -> CopyReport:
    """Write a consistent SQLite copy of `source`'s database to a new file `target`.

    Everything is read inside one read transaction on the source. Raises DatabaseError
    when the local SQLite cannot create an object of the source (naming it).
    """
    if target.exists():
        raise DatabaseError(f"{target} already exists: a copy is written to a new file only")
    dst = sqlite3.connect(str(target), isolation_level=None)
    try:
        source.execute("BEGIN")
        try:
            schema = read_schema(source)
            dst.execute("BEGIN")
            rows = _write_copy(source, dst, schema)
            dst.execute("COMMIT")
        finally:
            source.execute("ROLLBACK")
        if schema.analyzed:
            dst.execute("ANALYZE")
    except BaseException:
        dst.close()
        target.unlink(missing_ok=True)
        raise
    dst.close()
    return CopyReport(len(schema.tables), rows)


def _write_copy(source: Executes, dst: Executes, schema: Schema) -> int:
    rows = 0
    # Virtual tables first: creating one creates its shadow tables, which then get the
    # source's shadow rows verbatim (so the full-text index is the source's, not rebuilt).
    ordered = sorted(schema.tables, key=lambda t: t.kind != "virtual")
    for table in ordered:
        if table.kind == "shadow":
            continue
        _create(dst, table.name, table.sql)
    for table in schema.tables:
        if table.kind == "virtual":
            continue
        if table.kind == "shadow":
            dst.execute(f"DELETE FROM {quote(table.name)}")
        for columns, page in table_rows(source, table):
            insert_rows(dst, table.name, columns, page)
            rows += len(page)
    if _has_sequence(source) and _has_sequence(dst):
        dst.execute("DELETE FROM sqlite_sequence")
        seq = [tuple(r) for r in source.execute("SELECT name, seq FROM sqlite_sequence").fetchall()]
        insert_rows(dst, "sqlite_sequence", ["name", "seq"], seq)
    for _kind, name, sql in schema.later:
        _create(dst, name, sql)
    return rows


def _has_sequence(conn: Executes) -> bool:
    """Whether the database has sqlite_sequence (only after an AUTOINCREMENT table existed)."""
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")
    return found.fetchone() is not None


def _create(conn: Executes, name: str, sql: str | None) -> None:
    if sql is None:
        return
    try:
        conn.execute(sql)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot recreate {name!r} in the copy: {exc}") from exc


def load_file(target: Executes, source: Path, *, keep: frozenset[str] = frozenset()) -> CopyReport:
    """Replace everything in `target`'s database by the contents of the SQLite file `source`,
    except the tables named in `keep` (left as they are on the target, not loaded).

    The caller runs this inside one write transaction on `target` (and defers foreign
    keys there), so a failure leaves the target as it was.
    """
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, isolation_level=None)
    try:
        src.execute("BEGIN")
        schema = _without(read_schema(src), keep)
        drop_everything(target, keep=keep)
        rows = _write_copy(src, target, schema)
        src.execute("ROLLBACK")
    finally:
        src.close()
    return CopyReport(len(schema.tables), rows)


def _without(schema: Schema, keep: frozenset[str]) -> Schema:
    """`schema` without the tables in `keep` and the objects on them."""
    if not keep:
        return schema
    tables = [t for t in schema.tables if t.name not in keep]
    later = [o for o in schema.later if not _on_kept_table(o[2], keep) and o[1] not in keep]
    return Schema(tables, later, schema.analyzed)


def _on_kept_table(sql: str, keep: frozenset[str]) -> bool:
    words = sql.replace("(", " ").replace('"', " ").split()
    return any(w.upper() == "ON" and i + 1 < len(words) and words[i + 1] in keep
               for i, w in enumerate(words))  # fmt: skip


def drop_everything(conn: Executes, *, keep: frozenset[str] = frozenset()) -> None:
    """Drop every view, trigger and table of the database (indexes go with their tables),
    except the tables in `keep` and what is on them."""
    schema = _without(read_schema(conn), keep)
    for kind, name, _sql in reversed(schema.later):
        if kind in ("view", "trigger"):
            conn.execute(f"DROP {kind.upper()} IF EXISTS {quote(name)}")
    for table in reversed(schema.tables):
        if table.kind != "shadow":
            conn.execute(f"DROP TABLE IF EXISTS {quote(table.name)}")
    if _has_sequence(conn):
        conn.execute("DELETE FROM sqlite_sequence")
