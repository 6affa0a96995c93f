"""Index a user's active memories by the instant of updated_at.

The service writes updated_at in two formats: ISO text when a row is created
(`2025-10-06T12:00:00.000Z`) and `CURRENT_TIMESTAMP` when it is updated
(`2025-10-06 12:00:00`). As text they do not sort by time (a space sorts before `T`), so the
recency listing (the seed's query pattern 4, the service's `recency` strategy) orders by
`julianday(updated_at)`, which reads both as the same instant. SQLite can index that
expression (julianday is deterministic), so the listing is read straight off these partial
indexes with no sort. No row is rewritten: both formats stay as the service wrote them.
"""

from __future__ import annotations

from typing import Any

description = "Partial expression index: active memories by julianday(updated_at)"

INDEXES = {
    "idx_memories_user_active_updated": (
        "memories(user_id, julianday(updated_at) DESC, id DESC) WHERE is_archived = 0"
    ),
}


def up(ctx: Any) -> None:
    for name, target in INDEXES.items():
        ctx.execute(f"CREATE INDEX {name} ON {target}")


def down(ctx: Any) -> None:
    for name in reversed(list(INDEXES)):
        ctx.execute(f"DROP INDEX {name}")


def verify(ctx: Any) -> bool | str:
    for name, target in INDEXES.items():
        sql = ctx.scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,))
        if sql is None:
            return f"index {name} is missing"
        # Compared without whitespace: a libSQL server stores the statement re-spelled
        # (`julianday (updated_at)`, `memories (user_id`), not as it was written.
        made = f"create index {name} on {target}"
        if "".join(str(sql).split()).lower() != "".join(made.split()).lower():
            return f"index {name} is not as 008 made it: {sql}"
    return True
