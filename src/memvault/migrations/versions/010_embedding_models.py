"""Which embedding model made each user's vectors, so vectors of two models never mix.

One row per user: the provider, model and dimension of every vector the user's memories
hold, and, while `memvault memory embed --all` re-embeds them with another model, the id
of the last memory done (`reembed_after_id`; NULL when no re-embedding is under way), so a
killed run resumes where it stopped. Users without a row have no vectors of known origin.
The index on memories(user_id, id) hands the back-fill its pages in id order, with no sort.
"""

description = "Record the embedding model of each user's vectors (embedding_models)"

TABLE = "embedding_models"
INDEX = "idx_memories_user_id_id"
COLUMNS = ["user_id", "provider", "model", "dimension", "reembed_after_id", "updated_at"]


def up(ctx):
    ctx.execute(
        f"CREATE TABLE {TABLE} (\n"
        "  user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,\n"
        "  provider TEXT NOT NULL,\n"
        "  model TEXT NOT NULL,\n"
        "  dimension INTEGER NOT NULL CHECK (dimension > 0),\n"
        "  reembed_after_id INTEGER,\n"
        "  updated_at TEXT NOT NULL\n"
        ")"
    )
    ctx.execute(f"CREATE INDEX {INDEX} ON memories(user_id, id)")


def down(ctx):
    ctx.execute(f"DROP INDEX {INDEX}")
    ctx.execute(f"DROP TABLE {TABLE}")


def verify(ctx):
    if not ctx.table_exists(TABLE):
        return f"table {TABLE} is missing"
    names = [str(r[1]) for r in ctx.query(f"PRAGMA table_info({TABLE})")]
    if names != COLUMNS:
        return f"table {TABLE} has columns {names}, expected {COLUMNS}"
    if not ctx.index_exists(INDEX):
        return f"index {INDEX} is missing"
    return True
