"""A partial index for the memory listing: a user's active memories, newest first.

`SELECT ... FROM memories WHERE user_id = ? AND is_archived = 0 ORDER BY created_at DESC
LIMIT ?` used idx_memories_user_archived and then sorted every active memory of the user
in a temporary B-tree before returning the first page. This index holds only active rows,
already in that order, so the page is read straight off the index. The query must say
`is_archived = 0` literally: SQLite only uses a partial index when the query's WHERE
implies the index's WHERE, which a bound parameter never does.

verify checks the index is in place as made (columns, order, partial WHERE); the query plan
is checked by `memvault schema review` and by the tests, since plans follow statistics.

idx_memories_user_archived stays: counts and archived listings (`is_archived = 1`) still
use it, and the legacy service may rely on it.
"""

from __future__ import annotations

from typing import Any

description = "Partial index: a user's active memories by created_at DESC (listing page)"

INDEX = "idx_memories_user_active_created"
INDEX_DDL = f"CREATE INDEX {INDEX} ON memories(user_id, created_at DESC) WHERE is_archived = 0"
EXPECTED_KEYS = [("user_id", 0), ("created_at", 1)]  # (column, descending)
def up(ctx: Any) -> None:
    ctx.execute(INDEX_DDL)


def down(ctx: Any) -> None:
    ctx.execute(f"DROP INDEX {INDEX}")


def verify(ctx: Any) -> bool | str:
    if not ctx.index_exists(INDEX):
        return f"index {INDEX} is missing"
    keys = [
        (str(r[0]), int(r[1]))
        for r in ctx.query(f"SELECT name, desc FROM pragma_index_xinfo('{INDEX}') WHERE key = 1")
    ]
    if keys != EXPECTED_KEYS:
        return f"index {INDEX} covers {keys}, expected {EXPECTED_KEYS}"
    sql = str(
        ctx.scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (INDEX,))
    )
    if not " ".join(sql.split()).lower().endswith("where is_archived = 0"):
        return f"index {INDEX} is not partial on is_archived = 0: {sql}"
    # Whether the planner reads it is `memvault schema review`'s question, not verify's:
    # plans depend on statistics (ANALYZE), and verify must not turn red with the data.
    return True
