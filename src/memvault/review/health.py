"""Data health: foreign keys and orphans, FTS5 integrity, and how big each table is."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from memvault.db import Database
from memvault.errors import DatabaseError
from memvault.review.schema import Schema


@dataclass
class ForeignKeyReport:
    """Declared foreign keys, whether this connection enforces them, and rows violating them."""

    declared: list[str] = field(default_factory=list)
    enforced: bool = False
    violations: int = 0
    by_table: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Orphans:
    """Rows of `table` whose `column` names no row of `parent` (or is NULL: owned by nobody)."""

    table: str
    column: str
    parent: str
    missing_parent: int
    null_owner: int


@dataclass(frozen=True)
class FtsCheck:
    table: str
    content: str | None
    ok: bool
    rows_indexed: int | None
    content_rows: int | None
    detail: str | None = None


@dataclass(frozen=True)
class TableSize:
    name: str
    rows: int | None
    bytes: int | None  # table pages; None when dbstat is not compiled in
    index_bytes: int | None


def foreign_keys(db: Database, schema: Schema) -> ForeignKeyReport:
    """Foreign keys as declared, enforcement on memvault's connections, and violations."""
    report = ForeignKeyReport(enforced=bool(db.scalar("PRAGMA foreign_keys")))
    for table in schema.tables.values():
        for fk in table.foreign_keys:
            report.declared.append(
                f"{table.name}({', '.join(fk.columns)}) -> {fk.parent} ON DELETE {fk.on_delete}"
            )
    counts: Counter[str] = Counter(r[0] for r in db.query("PRAGMA foreign_key_check"))
    report.violations = sum(counts.values())
    report.by_table = dict(sorted(counts.items()))
    return report


def orphans(db: Database, schema: Schema) -> list[Orphans]:
    """Per single-column foreign key: rows pointing at a missing parent, and NULL owners."""
    found = []
    for table in schema.tables.values():
        for fk in table.foreign_keys:
            if len(fk.columns) != 1 or fk.parent not in schema.tables:
                continue
            col = fk.columns[0]
            parent_col = fk.parent_columns[0] or _pk(schema, fk.parent)
            missing = db.scalar(
                f'SELECT count(*) FROM "{table.name}" c WHERE c."{col}" IS NOT NULL AND NOT EXISTS '
                f'(SELECT 1 FROM "{fk.parent}" p WHERE p."{parent_col}" = c."{col}")'
            )
            nulls = db.scalar(f'SELECT count(*) FROM "{table.name}" WHERE "{col}" IS NULL')
            found.append(Orphans(table.name, col, fk.parent, int(missing), int(nulls)))
    return found


def _pk(schema: Schema, table: str) -> str:
    pks = [c.name for c in schema.tables[table].columns if c.pk]
    return pks[0] if pks else "rowid"


def fts_integrity(db: Database, schema: Schema) -> list[FtsCheck]:
    """FTS5 'integrity-check' (against the content table too) for each FTS5 table."""
    checks = []
    for table in schema.tables.values():
        if table.kind != "virtual" or "using fts5" not in table.sql:
            continue
        content = _option(table.sql, "content")
        checks.append(_check_fts(db, table.name, content))
    return checks


def _option(sql: str, name: str) -> str | None:
    match = re.search(rf"\b{name}\s*=\s*'([^']*)'", sql)
    return match.group(1) if match else None


def _check_fts(db: Database, name: str, content: str | None) -> FtsCheck:
    indexed = (
        int(db.scalar(f'SELECT count(*) FROM "{name}_docsize"'))
        if db.table_exists(f"{name}_docsize")
        else None
    )
    content_rows = (
        int(db.scalar(f'SELECT count(*) FROM "{content}"'))
        if content and db.table_exists(content)
        else None
    )
    try:
        with db.probe():
            db.execute(f'INSERT INTO "{name}"("{name}", rank) VALUES (\'integrity-check\', 1)')
    except (sqlite3.DatabaseError, DatabaseError) as exc:  # ours wraps a damaged index
        return FtsCheck(name, content, False, indexed, content_rows, str(exc.__cause__ or exc))
    return FtsCheck(name, content, True, indexed, content_rows)


def table_sizes(db: Database, schema: Schema) -> list[TableSize]:
    """Rows per table and, where SQLite has dbstat, bytes of the table and of its indexes."""
    pages = _dbstat(db)
    sizes = []
    for table in schema.tables.values():
        rows = db.row_count(table.name)
        if pages is None:
            sizes.append(TableSize(table.name, rows, None, None))
            continue
        if table.kind == "virtual":
            own = sum(v for k, v in pages.items() if k.startswith(f"{table.name}_"))
            sizes.append(TableSize(table.name, rows, own, 0))
            continue
        index_bytes = sum(pages.get(i.name, 0) for i in schema.indexes_on(table.name))
        sizes.append(TableSize(table.name, rows, pages.get(table.name, 0), index_bytes))
    return sizes


def _dbstat(db: Database) -> dict[str, int] | None:
    try:
        rows: list[Any] = db.query(
            "SELECT name, sum(pgsize) FROM dbstat WHERE aggregate = FALSE GROUP BY name"
        )
    except sqlite3.Error:
        try:
            rows = db.query("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
        except sqlite3.Error:
            return None
    return {str(r[0]): int(r[1] or 0) for r in rows}
