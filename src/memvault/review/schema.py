"""Read a database's schema into plain values that can be compared, and clone it.

Everything memvault keeps for itself (`schema_migrations*`) and everything SQLite makes on
its own (`sqlite_*`, FTS5 shadow tables) is left out: a schema here is what migrations made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import Token, TokenType

from memvault.db import Database, connect, driver
from memvault.migrations.recorder import ENGINE_PREFIXES

INTERNAL_PREFIXES = ("sqlite_", *ENGINE_PREFIXES)


@dataclass(frozen=True)
class Column:
    """One column as PRAGMA table_info reports it."""

    name: str
    type: str
    notnull: bool
    default: str | None
    pk: int


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key: child columns -> parent table (columns), with its ON DELETE action."""

    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str | None, ...]
    on_delete: str


@dataclass(frozen=True)
class Table:
    """A table or a virtual table, with its columns and foreign keys."""

    name: str
    kind: str  # "table" or "virtual"
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    sql: str = ""

    def column(self, name: str) -> Column | None:
        """The column called `name` (case-insensitive), or None."""
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)

    @property
    def rowid_alias(self) -> str | None:
        """The INTEGER PRIMARY KEY column, which is the rowid itself."""
        pks = [c for c in self.columns if c.pk]
        if len(pks) == 1 and pks[0].type.upper() == "INTEGER":
            return pks[0].name
        return None


@dataclass(frozen=True)
class IndexKey:
    """One key term of an index: a column name or an expression, its direction and collation."""

    term: str
    desc: bool = False
    collation: str = "BINARY"
    is_expression: bool = False

    def render(self) -> str:
        return self.term + (" DESC" if self.desc else "")


@dataclass(frozen=True)
class Index:
    """An index: its key terms, uniqueness, origin (c = CREATE INDEX, u = UNIQUE, pk) and WHERE."""

    name: str
    table: str
    keys: tuple[IndexKey, ...]
    unique: bool
    origin: str
    where: str | None = None
    sql: str | None = None

    @property
    def is_auto(self) -> bool:
        """Made by SQLite for a PRIMARY KEY or UNIQUE constraint (cannot be dropped)."""
        return self.origin in ("u", "pk")

    def describe(self) -> str:
        cols = ", ".join(k.render() for k in self.keys)
        text = f"{self.table}({cols})"
        return text + (f" WHERE {self.where}" if self.where else "")


@dataclass(frozen=True)
class Schema:
    """Tables, indexes (constraint autoindexes included), triggers and views, by name."""

    tables: dict[str, Table] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)
    triggers: dict[str, str] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)
    trigger_tables: dict[str, str] = field(default_factory=dict)

    def indexes_on(self, table: str) -> list[Index]:
        return [i for i in self.indexes.values() if i.table == table]


def is_internal(name: str) -> bool:
    """memvault's ledger tables and SQLite's own objects."""
    return name.lower().startswith(INTERNAL_PREFIXES)


_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|\s+|.", re.S)


def normalize_sql(sql: str) -> str:
    """SQL text in one canonical spelling: lower case outside quotes, single spaces,
    no spaces around brackets and commas, no trailing semicolon."""
    out: list[str] = []
    for tok in _TOKEN.findall(sql.strip().rstrip(";")):
        if tok.isspace():
            out.append(" ")
        elif tok[0] in "'\"`[":
            out.append(tok)
        else:
            out.append(tok.lower())
    text = "".join(out)
    text = re.sub(r" ?([(),;]) ?", r"\1", text)
    return re.sub(r" +", " ", text).strip()


def read_schema(db: Database) -> Schema:
    """The schema of `db`'s main database, memvault's and SQLite's own objects left out."""
    kinds = {
        r[0]: r[1]
        for r in db.query("SELECT name, type FROM pragma_table_list WHERE schema = 'main'")
    }
    schema = Schema()
    rows = db.query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")
    for kind, name, table, sql in rows:
        if is_internal(name) or is_internal(table):
            continue
        if kind == "table" and kinds.get(name) in ("table", "virtual"):
            schema.tables[name] = _read_table(db, name, kinds[name], sql or "")
        elif kind == "trigger":
            schema.triggers[name] = normalize_sql(sql or "")
            schema.trigger_tables[name] = table
        elif kind == "view":
            schema.views[name] = normalize_sql(sql or "")
    for table in schema.tables.values():
        if table.kind == "table":
            for index in _read_indexes(db, table.name):
                schema.indexes[index.name] = index
    return schema


def _read_table(db: Database, name: str, kind: str, sql: str) -> Table:
    cols = tuple(
        Column(
            r["name"], (r["type"] or "").upper(), bool(r["notnull"]), r["dflt_value"], int(r["pk"])
        )
        for r in db.query("SELECT * FROM pragma_table_info(?)", (name,))
    )
    fks: dict[int, list[driver.Row]] = {}
    if kind == "table":
        for r in db.query("SELECT * FROM pragma_foreign_key_list(?)", (name,)):
            fks.setdefault(int(r["id"]), []).append(r)
    foreign_keys = tuple(
        ForeignKey(
            tuple(r["from"] for r in group),
            group[0]["table"],
            tuple(r["to"] for r in group),
            group[0]["on_delete"],
        )
        for _, group in sorted(fks.items())
    )
    return Table(name, kind, cols, foreign_keys, normalize_sql(sql))


def _read_indexes(db: Database, table: str) -> list[Index]:
    indexes = []
    for row in db.query("SELECT * FROM pragma_index_list(?)", (table,)):
        name = row["name"]
        sql = db.scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,))
        expressions, where = _index_parts(sql) if sql else ([], None)
        keys = []
        for pos, k in enumerate(
            db.query("SELECT * FROM pragma_index_xinfo(?) WHERE key = 1", (name,))
        ):
            is_expr = k["cid"] == -2
            term = expressions[pos] if is_expr and pos < len(expressions) else (k["name"] or "?")
            keys.append(IndexKey(term, bool(k["desc"]), k["coll"] or "BINARY", is_expr))
        indexes.append(
            Index(
                name=name,
                table=table,
                keys=tuple(keys),
                unique=bool(row["unique"]),
                origin=row["origin"],
                where=where if row["partial"] else None,
                sql=sql,
            )
        )
    return indexes


def _index_parts(sql: str) -> tuple[list[str], str | None]:
    """The key expressions (without ASC/DESC or COLLATE) and the WHERE clause of a CREATE
    INDEX, sliced from `sql` where sqlglot's SQLite tokenizer puts them, so quotes, nested
    brackets and commas inside strings are the tokenizer's business, not a regex's."""
    try:
        tokens = sqlglot.tokenize(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return [], None
    kinds = [t.token_type for t in tokens]
    if TokenType.ON not in kinds:
        return [], None
    start = kinds.index(TokenType.L_PAREN, kinds.index(TokenType.ON))
    keys: list[list[Token]] = [[]]
    depth, end = 0, len(tokens)
    for i in range(start, len(tokens)):
        kind = kinds[i]
        depth += (kind is TokenType.L_PAREN) - (kind is TokenType.R_PAREN)
        if depth == 0:
            end = i
            break
        if depth == 1 and kind is TokenType.COMMA:
            keys.append([])
        elif i > start:
            keys[-1].append(tokens[i])
    texts = [_key_text(sql, key) for key in keys if key]
    rest = tokens[end + 1 :]
    where = None
    if rest and rest[0].token_type is TokenType.WHERE and len(rest) > 1:
        where = normalize_sql(sql[rest[1].start : rest[-1].end + 1])
    return texts, where


def _key_text(sql: str, key: list[Token]) -> str:
    """One key's expression as written, its sort order and collation left out."""
    if key[-1].token_type in (TokenType.ASC, TokenType.DESC) and len(key) > 1:
        key = key[:-1]
    if len(key) > 2 and key[-2].token_type is TokenType.COLLATE:
        key = key[:-2]
    return normalize_sql(sql[key[0].start : key[-1].end + 1])


def clone_schema(db: Database) -> Database:
    """An empty in-memory database with `db`'s schema and planner statistics.

    Query plans depend on the schema and on sqlite_stat1, not on the rows, so plans read
    here match the original's, and trial indexes are built instantly.
    """
    clone = connect(":memory:")
    kinds = {
        r[0]: r[1]
        for r in db.query("SELECT name, type FROM pragma_table_list WHERE schema = 'main'")
    }
    order = {"table": 0, "index": 1, "view": 2, "trigger": 3}
    rows = db.query(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
    )
    for _kind, name, sql in sorted(rows, key=lambda r: order.get(r[0], 9)):
        if name.startswith("sqlite_") or kinds.get(name) == "shadow":
            continue
        clone.execute(sql)
    _copy_stats(db, clone)
    return clone


def _copy_stats(source: Database, clone: Database) -> None:
    if not source.table_exists("sqlite_stat1"):
        return
    clone.execute("ANALYZE")
    clone.execute("DELETE FROM sqlite_stat1")
    rows = [tuple(r) for r in source.query("SELECT tbl, idx, stat FROM sqlite_stat1")]
    clone.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", rows)
    clone.execute("ANALYZE sqlite_master")  # reload the statistics
