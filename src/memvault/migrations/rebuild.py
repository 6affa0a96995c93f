"""Table rebuilds: the changes SQLite cannot make in place, done the way sqlite.org says.

The procedure ("Making Other Kinds Of Table Schema Changes" on the ALTER TABLE page):
foreign keys off outside the transaction (the executor does that for migrations that
declare `foreign_keys = False`), then inside the migration's single transaction: remember
the table's indexes and triggers, create the new table under a temporary name, copy the
rows, drop the old table, rename the new one, recreate the indexes and triggers, check the
views and the foreign keys. memvault also keeps INTEGER PRIMARY KEY ids and rowids, the
AUTOINCREMENT counter, and external-content FTS5 indexes whose content is this table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from memvault.db import Database, driver
from memvault.errors import MigrationError
from memvault.migrations.foreignkeys import (
    check_no_new_violations,
    foreign_key_violations,
    foreign_keys_enabled,
    referenced_tables,
    referencing_tables,
)


class Statements(Protocol):
    """What a rebuild needs from its caller: the database, a way to run (and report)
    statements, and the file to name in errors (a MigrationContext is one)."""

    @property
    def db(self) -> Database: ...

    @property
    def culprit(self) -> str: ...

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...


TEMP_PREFIX = "_memvault_rebuild_"

_CREATE_TABLE = re.compile(
    r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r'(?P<name>"(?:[^"]|"")+"|\[[^\]]+\]|`[^`]+`|[A-Za-z_][\w$]*)\s*\(',
    re.IGNORECASE,
)
_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT\s+ROWID\s*;?\s*$", re.IGNORECASE)
_FTS5 = re.compile(r"USING\s+fts5\s*\(", re.IGNORECASE)


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild did."""

    table: str
    rows: int
    dropped_columns: list[str] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    fts_rebuilt: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Dependent:
    """An index or trigger of the table, as sqlite_master holds it."""

    kind: str
    name: str
    sql: str


def rebuild_table(
    ctx: Statements,
    table: str,
    create_sql: str,
    *,
    columns: Mapping[str, str] | None = None,
) -> RebuildResult:
    """Rebuild `table` with the definition `create_sql` (a CREATE TABLE for that name).

    Rows keep their rowids (so INTEGER PRIMARY KEY ids and FTS rowids stay valid); new
    columns take `columns[name]` (an SQL expression over the old columns), else the old
    column of the same name, else their default. Raises MigrationError, naming the culprit,
    when an index, trigger or view would not survive, when foreign keys would break, or
    when foreign keys are on and the table has relations (declare `foreign_keys = False`).
    Must run inside the migration's transaction; a failure rolls all of it back.
    """
    db = ctx.db
    culprit = ctx.culprit
    _check_preconditions(ctx, table)
    temp = TEMP_PREFIX + table
    q = db.dialect.quote
    ctx.execute(f"DROP TABLE IF EXISTS {q(temp)}")  # left by an interrupted run elsewhere
    ctx.execute(_retarget(create_sql, table, temp, culprit))
    _refuse_new_relations(ctx, table, temp)
    old_columns = _insertable_columns(db, table)
    new_columns = _insertable_columns(db, temp)
    copy = _copy_plan(old_columns, new_columns, columns or {}, culprit, table)
    dependents = _dependents(db, table)
    _check_triggers_fit(dependents, set(old_columns) - set(new_columns), culprit, table)
    fts_tables = external_fts_tables(db, table)
    sequence = _sequence(db, table)
    related = [table, *(t for t in referencing_tables(db, table) if t != temp)]
    before = foreign_key_violations(db, related)

    rows = _copy_rows(ctx, table, temp, copy)
    ctx.execute(f"DROP TABLE {q(table)}")
    with _legacy_alter_table(db):
        ctx.execute(f"ALTER TABLE {q(temp)} RENAME TO {q(table)}")
    _restore_sequence(ctx, table, sequence)
    recreated = _recreate(ctx, dependents, culprit, table)
    for fts in fts_tables:
        _rebuild_fts(ctx, fts, culprit, table)
    _check_views(db, culprit, table)
    check_no_new_violations(db, before, culprit, tables=related)
    return RebuildResult(
        table=table,
        rows=rows,
        dropped_columns=[c for c in old_columns if c not in new_columns],
        added_columns=[c for c in new_columns if c not in old_columns],
        recreated=recreated,
        fts_rebuilt=fts_tables,
    )


# -- before -----------------------------------------------------------------------


def _check_preconditions(ctx: Statements, table: str) -> None:
    db, culprit = ctx.db, ctx.culprit
    if not db.in_transaction:
        raise MigrationError(
            f"{culprit}: rebuild_table({table!r}) must run inside the migration's transaction"
        )
    if table.startswith(TEMP_PREFIX) or table.lower().startswith("sqlite_"):
        raise MigrationError(f"{culprit}: rebuild_table cannot rebuild {table!r}")
    if not db.table_exists(table):
        raise MigrationError(f"{culprit}: rebuild_table: table {table!r} does not exist")
    if foreign_keys_enabled(db):
        related = referencing_tables(db, table) + referenced_tables(db, table)
        if _has_foreign_keys(db, table):  # a key on itself counts: a drop would cascade
            related.append(table)
        if related:
            raise MigrationError(_fk_on_message(culprit, table, related))


def _refuse_new_relations(ctx: Statements, table: str, temp: str) -> None:
    """With foreign keys on, the copy would enforce the new definition's keys (and a key
    naming `table` would point at the old table, whose drop would cascade into the copy)."""
    db = ctx.db
    if foreign_keys_enabled(db) and _has_foreign_keys(db, temp):
        parents = referenced_tables(db, temp)
        raise MigrationError(_fk_on_message(ctx.culprit, table, parents))


def _has_foreign_keys(db: Database, table: str) -> bool:
    return bool(db.query("SELECT 1 FROM pragma_foreign_key_list(?) LIMIT 1", (table,)))


def _fk_on_message(culprit: str, table: str, related: list[str]) -> str:
    return (
        f"{culprit}: rebuild_table({table!r}) with foreign keys on would cascade deletes "
        f"or refuse rows, because {table} is linked by foreign keys to "
        f"{', '.join(sorted(set(related)))}; add `foreign_keys = False` at the top of the "
        "migration file so memvault switches them off outside the transaction and checks "
        "them before committing"
    )


def _retarget(create_sql: str, table: str, temp: str, culprit: str) -> str:
    """The CREATE TABLE statement, naming the temporary table instead of `table`."""
    match = _CREATE_TABLE.match(create_sql)
    if match is None:
        raise MigrationError(
            f"{culprit}: rebuild_table({table!r}) needs a CREATE TABLE {table} (...) statement"
        )
    name = _unquote(match.group("name"))
    if name.lower() != table.lower():
        raise MigrationError(
            f"{culprit}: rebuild_table({table!r}) was given a CREATE TABLE for {name!r}"
        )
    return f'CREATE TABLE "{temp}" (' + create_sql[match.end() :]


def _unquote(name: str) -> str:
    if name[:1] in ('"', "`", "["):
        return name[1:-1].replace('""', '"')
    return name


def _insertable_columns(db: Database, table: str) -> list[str]:
    """Columns a row can be inserted into (generated columns left out)."""
    rows = db.query("SELECT name, hidden FROM pragma_table_xinfo(?)", (table,))
    return [str(r[0]) for r in rows if r[1] in (0, None)]


def _copy_plan(
    old: list[str], new: list[str], mapping: Mapping[str, str], culprit: str, table: str
) -> dict[str, str]:
    """new column -> SQL expression over the old row."""
    unknown = [c for c in mapping if c not in new]
    if unknown:
        raise MigrationError(
            f"{culprit}: rebuild_table({table!r}): columns {', '.join(unknown)} are not in "
            "the new definition"
        )
    plan = {}
    for column in new:
        if column in mapping:
            plan[column] = f"({mapping[column]})"
        elif column in old:
            plan[column] = '"' + column.replace('"', '""') + '"'
    return plan


def _dependents(db: Database, table: str) -> list[_Dependent]:
    """The table's own indexes and triggers (auto-indexes come back with the table)."""
    rows = db.query(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? COLLATE NOCASE "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY rowid",
        (table,),
    )
    return [_Dependent(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def _check_triggers_fit(
    dependents: list[_Dependent], dropped: set[str], culprit: str, table: str
) -> None:
    for dep in dependents:
        if dep.kind != "trigger":
            continue
        for column in sorted(dropped):
            pattern = rf'\b(new|old)\s*\.\s*"?{re.escape(column)}"?(?!\w)'
            if re.search(pattern, dep.sql, re.IGNORECASE):
                raise MigrationError(
                    f"{culprit}: rebuild_table({table!r}): trigger {dep.name} uses column "
                    f"{column}, which the new definition drops; drop or replace the trigger "
                    "before rebuild_table"
                )


def external_fts_tables(db: Database, table: str) -> list[str]:
    """FTS5 tables whose external content is `table` (content='table')."""
    found = []
    for name, sql in db.query("SELECT name, sql FROM sqlite_master WHERE type = 'table'"):
        if not sql or not _FTS5.search(sql):
            continue
        content = re.search(
            r"\bcontent\s*=\s*(?:'([^']*)'|\"([^\"]*)\"|([\w$]+))", sql, re.IGNORECASE
        )
        if content is not None:
            target = next(g for g in content.groups() if g is not None)
            if target.lower() == table.lower():
                found.append(str(name))
    return found


def _sequence(db: Database, table: str) -> int | None:
    if not db.table_exists("sqlite_sequence"):
        return None
    value = db.scalar("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
    return None if value is None else int(value)


def _keeps_rowid_apart(db: Database, table: str, temp: str) -> bool:
    """True when rowids must be copied explicitly: both are rowid tables and the new one
    has no INTEGER PRIMARY KEY (which already carries the rowid)."""
    if _without_rowid(db, table) or _without_rowid(db, temp):
        return False
    pk = db.query("SELECT type FROM pragma_table_info(?) WHERE pk > 0", (temp,))
    has_alias = len(pk) == 1 and str(pk[0][0]).upper() == "INTEGER"
    return not has_alias


def _without_rowid(db: Database, table: str) -> bool:
    sql = db.scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    return bool(sql and _WITHOUT_ROWID.search(sql))


# -- the copy ---------------------------------------------------------------------


def _copy_rows(ctx: Statements, table: str, temp: str, copy: dict[str, str]) -> int:
    """INSERT ... SELECT every row into the new table, keeping rowids; the row count."""
    q = ctx.db.dialect.quote
    targets = [q(c) for c in copy]
    sources = list(copy.values())
    if _keeps_rowid_apart(ctx.db, table, temp):
        targets.insert(0, "rowid")
        sources.insert(0, "rowid")
    ctx.execute(
        f"INSERT INTO {q(temp)} ({', '.join(targets)}) SELECT {', '.join(sources)} FROM {q(table)}"
    )
    return ctx.db.row_count(temp)


# -- after ------------------------------------------------------------------------


@contextmanager
def _legacy_alter_table(db: Database) -> Iterator[None]:
    """Rename without re-parsing the rest of the schema.

    With legacy_alter_table off, RENAME checks every view and trigger, and fails on the
    views that name the old table (dropped a moment ago); they point at the right table
    again once the rename is done.
    """
    previous = int(db.scalar("PRAGMA legacy_alter_table"))
    db.execute("PRAGMA legacy_alter_table = ON")
    try:
        yield
    finally:
        db.execute(f"PRAGMA legacy_alter_table = {previous}")


def _restore_sequence(ctx: Statements, table: str, sequence: int | None) -> None:
    """Keep the AUTOINCREMENT counter: ids of deleted rows are never handed out again."""
    if not ctx.db.table_exists("sqlite_sequence"):
        return
    current = ctx.db.scalar("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
    if sequence is None:
        if current == 0:  # the copy of an empty table left a counter the old one never had
            ctx.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
        return
    if current is None:
        if "AUTOINCREMENT" not in str(_table_sql(ctx.db, table)).upper():
            return
        ctx.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, sequence))
    elif int(current) < sequence:
        ctx.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (sequence, table))


def _table_sql(db: Database, table: str) -> str | None:
    value = db.scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    return None if value is None else str(value)


def _recreate(ctx: Statements, dependents: list[_Dependent], culprit: str, table: str) -> list[str]:
    for dep in dependents:
        try:
            ctx.execute(dep.sql)
        except driver.Error as exc:
            raise MigrationError(
                f"{culprit}: rebuild_table({table!r}): cannot recreate {dep.kind} {dep.name} "
                f"({exc}); drop it before rebuild_table, or keep the columns it uses"
            ) from exc
    return [dep.name for dep in dependents]


def _rebuild_fts(ctx: Statements, fts: str, culprit: str, table: str) -> None:
    """Re-index an external-content FTS5 table from the rebuilt content table."""
    q = ctx.db.dialect.quote
    try:
        ctx.execute(f"INSERT INTO {q(fts)}({q(fts)}) VALUES ('rebuild')")
    except driver.Error as exc:
        raise MigrationError(
            f"{culprit}: rebuild_table({table!r}): the full-text table {fts} indexes "
            f"{table} and cannot be rebuilt ({exc}); keep the columns it indexes, or "
            "drop and recreate it in the migration"
        ) from exc


def _check_views(db: Database, culprit: str, table: str) -> None:
    for (view,) in db.query("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name"):
        try:
            db.query(f"SELECT * FROM {db.dialect.quote(str(view))} LIMIT 0")
        except driver.Error as exc:
            raise MigrationError(
                f"{culprit}: rebuild_table({table!r}) breaks view {view} ({exc}); drop and "
                "recreate the view in the migration"
            ) from exc
