"""Full-text search scoped by tenant: each word is indexed under its owner's key.

The service's `memories_fts`/`entities_fts` index every tenant's words together, so a
search reads every tenant's postings of a word before filtering by user: a tenant with 45
matches paid for 81,788 others. This migration replaces them (and their six triggers) by

- `search_tenants(tenant, owner)`: a small integer key per user;
- `memory_search(title, content, tags)` and `entity_search(name, description, notes, tags)`:
  FTS5 tables (ascii tokenizer) whose text is the row's words prefixed by the key
  (`12xgreen 12xtea`), holding only searchable rows (memories not archived);
- `search_queue(seq, kind, row_id)` and six triggers that queue the id of every inserted,
  deleted or (in an indexed column, owner or archive flag) updated row, whoever writes it:
  memvault turns queued ids into index rows (memvault.store.search_index.drain).

The index is built here in id-ordered batches (memory stays flat), with progress. `down`
gives back the service's two external-content FTS5 tables with 'delete'-command triggers,
exactly as migrations 001, 003 and 007 leave them, rebuilt from the rows.

Self-contained on purpose: the word rules are spelt out here (the store keeps an equal copy,
checked by tests/test_search_index.py), so this migration keeps doing what its checksum says.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

description = "Tenant-scoped full-text index (words keyed by tenant) with a change queue"

# This migration replaces what 001 (the FTS tables), 003 (their narrowed triggers) and 007
# (their 'delete'-command form) made, so their verify no longer holds; verify below
# re-checks that 001's tables are there and, as 003 did, that no JSON text embedding is left
# (another program, such as the TypeScript service, may write them after 003).
supersedes = [1, 3, 7]

BATCH_ROWS = 1000
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# table -> (queue kind, index table, indexed columns, extra condition for searchable rows)
INDEXED = {
    "memories": ("memory", "memory_search", ("title", "content", "tags"), "r.is_archived = 0"),
    "entities": ("entity", "entity_search", ("name", "description", "notes", "tags"), "1 = 1"),
}
# The service's FTS tables, as 001 makes them, 003 narrows and 007 repairs their triggers.
SERVICE_FTS = {
    "memories": ("memories_fts", ("title", "content", "tags")),
    "entities": ("entities_fts", ("name", "description", "notes", "tags")),
}
CORE_TABLES = ("users", "entities", "memories", "interactions", "api_usage_tracking")

TENANTS_DDL = """CREATE TABLE search_tenants (
  tenant INTEGER PRIMARY KEY,
  owner TEXT NOT NULL UNIQUE
)"""
QUEUE_DDL = """CREATE TABLE search_queue (
  seq INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  row_id INTEGER NOT NULL
)"""


# -- the word rules (keep equal to memvault.store.search_index) ----------------------------
def words(text: str | None) -> list[str]:
    """The words of `text`, case-folded and without diacritics."""
    if not text:
        return []
    if text.isascii():
        return _WORD.findall(text.lower())
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(bare.casefold())


def indexed_text(tenant: int, text: str | None) -> str:
    """A column's value as the index stores it: each word prefixed by the tenant's key."""
    prefix = f"{tenant}x"
    return " ".join(prefix + word for word in words(text))


# -- schema --------------------------------------------------------------------------------
def index_ddl(table: str) -> str:
    _kind, index, columns, _where = INDEXED[table]
    return f"CREATE VIRTUAL TABLE {index} USING fts5({', '.join(columns)}, tokenize='ascii')"


def queue_triggers(table: str) -> dict[str, str]:
    """The triggers that queue every changed row of `table`: name -> SQL."""
    kind, index, columns, _where = INDEXED[table]
    archive_flag = ("is_archived",) if kind == "memory" else ()
    watched = ", ".join(("id", "user_id", *columns, *archive_flag))
    queue = "INSERT INTO search_queue (kind, row_id) VALUES"
    return {
        f"{index}_queue_insert": f"CREATE TRIGGER {index}_queue_insert AFTER INSERT ON {table} "
        f"BEGIN\n  {queue} ('{kind}', new.id);\nEND",
        f"{index}_queue_delete": f"CREATE TRIGGER {index}_queue_delete AFTER DELETE ON {table} "
        f"BEGIN\n  {queue} ('{kind}', old.id);\nEND",
        f"{index}_queue_update": f"CREATE TRIGGER {index}_queue_update AFTER UPDATE OF {watched} "
        f"ON {table} BEGIN\n  {queue} ('{kind}', old.id), ('{kind}', new.id);\nEND",
    }


def service_fts_statements(table: str) -> list[str]:
    """The service's FTS table and triggers for `table`, exactly as 001 + 003 + 007 leave them."""
    fts, cols = SERVICE_FTS[table]
    names = ", ".join(cols)
    new = ", ".join(f"new.{c}" for c in cols)
    old = ", ".join(f"old.{c}" for c in cols)
    insert = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"
    delete = f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old});"
    narrowed = ", ".join(("id", *cols))
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', content_rowid='id')",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN\n  {insert}\nEND",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN\n  {delete}\nEND",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {narrowed} ON {table} BEGIN\n"
        f"  {delete}\n  {insert}\nEND",
    ]


# -- building ------------------------------------------------------------------------------
def _searchable(ctx: Any, table: str, after: int, limit: int) -> list[Any]:
    """Up to `limit` searchable rows of `table` with id > `after`, with their tenant key."""
    _kind, _index, columns, where = INDEXED[table]
    cols = ", ".join(f"r.{c}" for c in columns)
    return ctx.query(
        f"SELECT r.id, t.tenant, {cols} FROM {table} AS r "
        "JOIN search_tenants AS t ON t.owner = r.user_id "
        f"WHERE r.id > ? AND {where} ORDER BY r.id LIMIT ?",
        (after, limit),
    )


def _build(ctx: Any, table: str) -> None:
    _kind, index, columns, where = INDEXED[table]
    total = int(
        ctx.scalar(f"SELECT count(*) FROM {table} AS r WHERE r.user_id IS NOT NULL AND {where}")
    )
    done, after = 0, -(2**63)
    ctx.progress(0, total)
    insert = (
        f"INSERT INTO {index} (rowid, {', '.join(columns)}) "
        f"VALUES (?, {', '.join('?' for _ in columns)})"
    )
    while rows := _searchable(ctx, table, after, BATCH_ROWS):
        ctx.executemany(
            insert,
            [(r[0], *(indexed_text(r[1], r[2 + i]) for i in range(len(columns)))) for r in rows],
        )
        after = rows[-1][0]
        done += len(rows)
        ctx.progress(done, total)


def up(ctx: Any) -> None:
    for fts, _cols in SERVICE_FTS.values():
        for suffix in ("insert", "delete", "update"):
            ctx.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
        ctx.execute(f"DROP TABLE IF EXISTS {fts}")
    ctx.execute(TENANTS_DDL)
    ctx.execute(QUEUE_DDL)
    for table in INDEXED:
        ctx.execute(
            "INSERT OR IGNORE INTO search_tenants (owner) "
            f"SELECT DISTINCT user_id FROM {table} WHERE user_id IS NOT NULL ORDER BY user_id"
        )
    for table in INDEXED:
        ctx.execute(index_ddl(table))
        for sql in queue_triggers(table).values():
            ctx.execute(sql)
        _build(ctx, table)


def down(ctx: Any) -> None:
    for table, (_kind, index, _cols, _where) in INDEXED.items():
        for name in queue_triggers(table):
            ctx.execute(f"DROP TRIGGER {name}")
        ctx.execute(f"DROP TABLE {index}")
    ctx.execute("DROP TABLE search_queue")
    ctx.execute("DROP TABLE search_tenants")
    for table, (fts, _cols) in SERVICE_FTS.items():
        for sql in service_fts_statements(table):
            ctx.execute(sql)
        ctx.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


# -- verify: the schema, and an index that is complete and fresh ----------------------------
def verify(ctx: Any) -> bool | str:
    for table in (*CORE_TABLES, "search_tenants", "search_queue"):
        if not ctx.table_exists(table):
            return f"table {table} is missing"
    # 003's quarantine table says 003 ran (a custom set may leave it out): check as it did.
    converted = ctx.table_exists("memory_embedding_quarantine")
    texts = converted and ctx.scalar(
        "SELECT count(*) FROM memories WHERE typeof(embedding) = 'text'"
    )
    if texts:
        first = ctx.scalar("SELECT min(id) FROM memories WHERE typeof(embedding) = 'text'")
        return f"{texts} memories still hold a text embedding (first: memories.id {first})"
    for table in INDEXED:
        problem = _check_schema(ctx, table) or _check_rows(ctx, table)
        if problem:
            return problem
    return True


def _check_schema(ctx: Any, table: str) -> str | None:
    _kind, index, _cols, _where = INDEXED[table]
    if not ctx.table_exists(index):
        return f"search index {index} is missing"
    for name, sql in queue_triggers(table).items():
        stored = ctx.scalar(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
        )
        # without whitespace: a libSQL server stores trigger bodies re-indented
        if stored is None or "".join(str(stored).split()) != "".join(sql.split()):
            why = "missing" if stored is None else "changed"
            return (
                f"trigger {name} is {why}: writes to {table} would leave {index} stale "
                "(roll back and re-apply migration 009, then `memvault db reindex`)"
            )
    return None


def _check_rows(ctx: Any, table: str) -> str | None:
    """Every searchable row indexed as its text says now, and nothing else, unless queued."""
    kind, index, columns, where = INDEXED[table]
    queue = ctx.query("SELECT row_id FROM search_queue WHERE kind = ?", (kind,))
    queued = {int(r[0]) for r in queue}
    stale: list[int] = []
    expected_rows = 0
    after = -(2**63)
    stored_cols = ", ".join(f"s.{c}" for c in columns)
    while rows := _searchable(ctx, table, after, BATCH_ROWS):
        stored = {
            int(s[0]): tuple(s[1:])
            for s in ctx.query(
                f"SELECT s.rowid, {stored_cols} FROM {index} AS s "
                "WHERE s.rowid >= ? AND s.rowid <= ?",
                (rows[0][0], rows[-1][0]),
            )
        }
        for r in rows:
            want = tuple(indexed_text(r[1], r[2 + i]) for i in range(len(columns)))
            if stored.get(int(r[0])) != want and int(r[0]) not in queued:
                stale.append(int(r[0]))
        expected_rows += len(rows)
        after = rows[-1][0]
    extra = ctx.query(
        f"SELECT rowid FROM {index} WHERE rowid NOT IN (SELECT r.id FROM {table} AS r "
        f"JOIN search_tenants AS t ON t.owner = r.user_id WHERE {where}) LIMIT 1000"
    )
    stale += [int(r[0]) for r in extra if int(r[0]) not in queued]
    missing_keys = ctx.scalar(
        f"SELECT count(*) FROM {table} AS r WHERE r.user_id IS NOT NULL AND {where} "
        "AND NOT EXISTS (SELECT 1 FROM search_tenants AS t WHERE t.owner = r.user_id) "
        f"AND r.id NOT IN (SELECT row_id FROM search_queue WHERE kind = '{kind}')"
    )
    if stale or missing_keys:
        examples = ", ".join(str(i) for i in sorted(stale)[:5])
        return (
            f"search index {index} is stale: {len(stale) + int(missing_keys)} row(s) of "
            f"{table} not indexed as they read now (e.g. id {examples or '?'}); "
            "`memvault db reindex` rebuilds it"
        )
    return None
