"""Repair full-text search: FTS5 'delete'-command triggers for both FTS tables, then rebuild.

The service's delete and update triggers (kept by 001 as the legacy layout) run
`DELETE FROM <fts> WHERE rowid = old.id`. On an external-content FTS5 table that cannot
remove the old terms, so every file in which a memory or entity was ever updated or deleted
has a damaged index: stale words still match and FTS5's integrity-check fails. The new
triggers hand FTS5 the old values with `INSERT INTO <fts>(<fts>, rowid, ...) VALUES
('delete', old.id, old....)`, and a `'rebuild'` re-indexes every row from its content table.
The update triggers stay narrowed to the indexed columns, as 003 made them.

`down` restores the service's trigger bodies (narrowed as 003 left them); the rebuilt
index stays correct until the next update or delete through those triggers.
"""

from __future__ import annotations

from typing import Any

description = "Repair full-text search: FTS5 'delete'-command triggers, both indexes rebuilt"

# content table -> (FTS table, indexed columns)
FTS = {
    "memories": ("memories_fts", ("title", "content", "tags")),
    "entities": ("entities_fts", ("name", "description", "notes", "tags")),
}


def _insert(fts: str, cols: tuple[str, ...]) -> str:
    return (
        f"INSERT INTO {fts}(rowid, {', '.join(cols)}) "
        f"VALUES (new.id, {', '.join('new.' + c for c in cols)});"
    )


def _delete_command(fts: str, cols: tuple[str, ...]) -> str:
    return (
        f"INSERT INTO {fts}({fts}, rowid, {', '.join(cols)}) "
        f"VALUES ('delete', old.id, {', '.join('old.' + c for c in cols)});"
    )


def _service_delete(fts: str) -> str:
    return f"DELETE FROM {fts} WHERE rowid = old.id;"


def triggers(table: str, repaired: bool) -> dict[str, str]:
    """The delete and update triggers of `table`'s FTS table, repaired or as the service had."""
    fts, cols = FTS[table]
    delete = _delete_command(fts, cols) if repaired else _service_delete(fts)
    narrowed = ", ".join(("id", *cols))  # as migration 003 narrowed the update trigger
    return {
        f"{fts}_delete": f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN\n"
        f"  {delete}\nEND",
        f"{fts}_update": f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {narrowed} ON {table} "
        f"BEGIN\n  {delete}\n  {_insert(fts, cols)}\nEND",
    }


def _replace(ctx: Any, repaired: bool) -> None:
    for table in FTS:
        for name, sql in triggers(table, repaired).items():
            ctx.execute(f"DROP TRIGGER {name}")
            ctx.execute(sql)


def up(ctx: Any) -> None:
    _replace(ctx, repaired=True)
    for fts, _cols in FTS.values():
        ctx.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def down(ctx: Any) -> None:
    _replace(ctx, repaired=False)


def verify(ctx: Any) -> bool | str:
    for fts, _cols in FTS.values():
        for suffix in ("delete", "update"):
            name = f"{fts}_{suffix}"
            sql = ctx.scalar(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
            )
            if sql is None:
                return f"trigger {name} is missing"
            if "('delete'," not in "".join(str(sql).split()).lower():
                return f"trigger {name} does not use FTS5's 'delete' command"
    return True
