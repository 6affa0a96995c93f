"""`schema diagram`: the live schema as a Mermaid erDiagram.

Entities are tables with their columns (type, PK/FK/UK markers, NOT NULL as a comment);
relationships come from foreign keys, with the parent side "exactly one" when the child's
column is NOT NULL and "zero or one" when it may be NULL (orphan-tolerant legacy columns).
FTS5 tables, their shadow tables and memvault's own bookkeeping tables are left out unless
asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memvault.db import Database
from memvault.ops.inventory import take_inventory


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    not_null: bool
    primary_key: bool
    foreign_key: bool
    unique: bool


@dataclass(frozen=True)
class ForeignKey:
    child: str
    parent: str
    columns: tuple[str, ...]
    child_nullable: bool
    child_unique: bool


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[ColumnInfo, ...]


@dataclass(frozen=True)
class SchemaModel:
    """Tables and the foreign keys between them, read from a live database."""

    tables: tuple[TableInfo, ...]
    foreign_keys: tuple[ForeignKey, ...]


def read_schema(db: Database, *, include_internal: bool = False) -> SchemaModel:
    """Read tables, columns and foreign keys. `include_internal` adds FTS5 tables' shadow
    storage and memvault's own tables (ledger, history, lock, size samples)."""
    inventory = take_inventory(db)
    names = list(inventory.user_tables)
    if include_internal:
        names += list(inventory.shadow_tables) + list(inventory.memvault_tables)
    tables: list[TableInfo] = []
    fks: list[ForeignKey] = []
    for name in sorted(names):
        table_fks = _foreign_keys(db, name)
        fk_columns = {c for fk in table_fks for c in fk[1]}
        unique_sets = _unique_column_sets(db, name)
        pk_count = len(db.query("SELECT 1 FROM pragma_table_info(?) WHERE pk > 0", (name,)))
        columns = tuple(
            ColumnInfo(
                name=r["name"],
                type=r["type"] or "ANY",
                not_null=bool(r["notnull"]),
                primary_key=bool(r["pk"]),
                foreign_key=r["name"] in fk_columns,
                # a single-column primary key is unique already: PK says it
                unique=(r["name"],) in unique_sets and not (r["pk"] and pk_count == 1),
            )
            for r in db.query("SELECT * FROM pragma_table_info(?) ORDER BY cid", (name,))
        )
        tables.append(TableInfo(name, columns))
        by_name = {c.name: c for c in columns}
        for parent, cols in table_fks:
            if parent not in names:
                continue
            fks.append(
                ForeignKey(
                    child=name,
                    parent=parent,
                    columns=cols,
                    child_nullable=any(_nullable(by_name[c]) for c in cols if c in by_name),
                    child_unique=tuple(sorted(cols)) in {tuple(sorted(u)) for u in unique_sets},
                )
            )
    return SchemaModel(tuple(tables), tuple(fks))


def _nullable(column: ColumnInfo) -> bool:
    # An INTEGER PRIMARY KEY is the rowid: it can never hold NULL, whatever notnull says.
    rowid_alias = column.primary_key and column.type.upper() == "INTEGER"
    return not (column.not_null or rowid_alias)


def _foreign_keys(db: Database, table: str) -> list[tuple[str, tuple[str, ...]]]:
    """(parent table, child columns) per foreign key of `table`."""
    grouped: dict[int, tuple[str, list[str]]] = {}
    for r in db.query(
        'SELECT id, "table", "from" FROM pragma_foreign_key_list(?) ORDER BY id, seq', (table,)
    ):
        grouped.setdefault(int(r[0]), (r[1], []))[1].append(r[2])
    return [(parent, tuple(cols)) for parent, cols in grouped.values()]


def _unique_column_sets(db: Database, table: str) -> set[tuple[str, ...]]:
    """Column sets guaranteed unique: the primary key and every full UNIQUE index."""
    sets: set[tuple[str, ...]] = set()
    pk_cols = tuple(
        r["name"]
        for r in db.query(
            "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (table,)
        )
    )
    if pk_cols:
        sets.add(pk_cols)
    for idx in db.query(
        'SELECT name FROM pragma_index_list(?) WHERE "unique" = 1 AND partial = 0', (table,)
    ):
        cols = tuple(
            r["name"] for r in db.query("SELECT name FROM pragma_index_info(?)", (idx["name"],))
        )
        if cols and all(cols):
            sets.add(cols)
    return sets


def to_mermaid(model: SchemaModel) -> str:
    """The model as Mermaid `erDiagram` source."""
    lines = ["erDiagram"]
    for fk in model.foreign_keys:
        parent_side = "|o" if fk.child_nullable else "||"
        child_side = "o|" if fk.child_unique else "o{"
        label = ", ".join(fk.columns)
        lines.append(
            f'    {_ident(fk.parent)} {parent_side}--{child_side} {_ident(fk.child)} : "{label}"'
        )
    for table in model.tables:
        lines.append(f"    {_ident(table.name)} {{")
        lines += [f"        {_attribute(c)}" for c in table.columns]
        lines.append("    }")
    return "\n".join(lines) + "\n"


def _attribute(column: ColumnInfo) -> str:
    keys = [
        k
        for k, on in (("PK", column.primary_key), ("FK", column.foreign_key), ("UK", column.unique))
        if on
    ]
    parts = [_ident(column.type), _ident(column.name)]
    if keys:
        parts.append(", ".join(keys))
    if column.not_null and not column.primary_key:
        parts.append('"not null"')
    return " ".join(parts)


def _ident(text: str) -> str:
    """A Mermaid-safe word: letters, digits and underscores (other characters become _)."""
    word = re.sub(r"[^A-Za-z0-9_]", "_", text.strip())
    return word if word and not word[0].isdigit() else f"_{word}"


def to_markdown(model: SchemaModel, *, title: str, note: str) -> str:
    """A Markdown page holding the diagram in a ```mermaid fence."""
    return f"# {title}\n\n{note}\n\n```mermaid\n{to_mermaid(model)}```\n"
