"""An index that serves the interaction history by date range, newest first, with no sort.

`memvault schema review` found `interactions.list_by_date` sorting in a temporary B-tree:
its old filter, `DATE(created_at) BETWEEN ? AND ?`, could only use the legacy expression
index idx_interactions_user_date, which does not hand rows over in created_at order. The
store now filters on the ISO text itself (`created_at >= ? AND created_at < ?`), and
(user_id, created_at DESC) serves both the range and the order. The legacy expression
index stays: the TypeScript service may still use it.
"""

description = "Index interactions(user_id, created_at DESC) for the date-range history"

INDEX = "idx_interactions_user_created"
EXPECTED_KEYS = [("user_id", 0), ("created_at", 1)]


def up(ctx):
    ctx.execute(f"CREATE INDEX {INDEX} ON interactions(user_id, created_at DESC)")


def down(ctx):
    ctx.execute(f"DROP INDEX {INDEX}")


def verify(ctx):
    if not ctx.index_exists(INDEX):
        return f"index {INDEX} is missing"
    rows = ctx.query(f"SELECT name, desc FROM pragma_index_xinfo('{INDEX}') WHERE key = 1")
    keys = [(str(r[0]), int(r[1])) for r in rows]
    if keys != EXPECTED_KEYS:
        return f"index {INDEX} covers {keys}, expected {EXPECTED_KEYS}"
    return True
