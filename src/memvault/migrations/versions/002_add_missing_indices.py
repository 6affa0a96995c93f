"""Add the two indexes the v1.3.5 review found missing: entity and memory listings by date."""

description = "Indexes for entity listings by created_at and memory listings by updated_at"

INDEXES = {
    "idx_entities_user_created": ("entities", "user_id, created_at DESC"),
    "idx_memories_user_updated": ("memories", "user_id, updated_at DESC"),
}

EXPECTED_COLUMNS = {
    "idx_entities_user_created": [("user_id", 0), ("created_at", 1)],
    "idx_memories_user_updated": [("user_id", 0), ("updated_at", 1)],
}


def up(ctx):
    for name, (table, cols) in INDEXES.items():
        ctx.execute(f"CREATE INDEX {name} ON {table}({cols})")


def down(ctx):
    for name in reversed(list(INDEXES)):
        ctx.execute(f"DROP INDEX {name}")


def verify(ctx):
    for name, expected in EXPECTED_COLUMNS.items():
        if not ctx.index_exists(name):
            return f"index {name} is missing"
        rows = ctx.query(f"SELECT name, desc FROM pragma_index_xinfo('{name}') WHERE key = 1")
        actual = [(r[0], r[1]) for r in rows]
        if actual != expected:
            return f"index {name} covers {actual}, expected {expected}"
    return True
