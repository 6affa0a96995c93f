"""Indexes `memvault schema review` found missing on the newest schema (after 001-004).

EXPLAIN QUERY PLAN of the store's catalog, on a database at version 4:

- `usage.daily_totals` (`WHERE user_id = ? AND date BETWEEN ? AND ? GROUP BY date,
  api_provider, model ORDER BY date, api_provider, model`) used
  idx_usage_user_provider_date for user_id only, then grouped in a temporary B-tree.
  (user_id, date, api_provider, model) serves the date range and hands the rows over
  already grouped and ordered.
- `users.list` (`ORDER BY created_at DESC, id LIMIT ? OFFSET ?`, an operator's listing)
  read every user and sorted them in a temporary B-tree. (created_at DESC, id) gives the
  page straight off the index.

The review proposed both after re-planning each query with the index in place. Nothing
is dropped: the redundant idx_users_email is checked by 001's verify.
"""

from __future__ import annotations

from typing import Any

description = "Indexes for daily usage totals and the user listing (found by schema review)"

INDEXES = {
    "idx_usage_user_date_provider_model": (
        "api_usage_tracking",
        [("user_id", 0), ("date", 0), ("api_provider", 0), ("model", 0)],
    ),
    "idx_users_created": ("users", [("created_at", 1), ("id", 0)]),
}

def _ddl(name: str) -> str:
    table, keys = INDEXES[name]
    cols = ", ".join(col + (" DESC" if desc else "") for col, desc in keys)
    return f"CREATE INDEX {name} ON {table}({cols})"


def up(ctx: Any) -> None:
    for name in INDEXES:
        ctx.execute(_ddl(name))


def down(ctx: Any) -> None:
    for name in reversed(list(INDEXES)):
        ctx.execute(f"DROP INDEX {name}")


def verify(ctx: Any) -> bool | str:
    for name, (_table, expected) in INDEXES.items():
        if not ctx.index_exists(name):
            return f"index {name} is missing"
        rows = ctx.query(f"SELECT name, desc FROM pragma_index_xinfo('{name}') WHERE key = 1")
        keys = [(str(r[0]), int(r[1])) for r in rows]
        if keys != expected:
            return f"index {name} covers {keys}, expected {expected}"
    return True
