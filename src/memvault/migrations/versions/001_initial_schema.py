"""Initial schema: the memory store's layout, exactly as the TypeScript service (v1.3.5) made it.

Five tables, the legacy schema_version table, ten named indexes, two external-content
FTS5 tables and the six triggers the service wrote for them (their flaw included: see
007). Frozen: never edit an applied migration; add a new one instead.
"""

description = "Initial schema: users, entities, memories, interactions, API usage, FTS5"

TABLES = {
    "users": """CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT UNIQUE NOT NULL,
  name TEXT,
  organization TEXT,
  api_key_hash TEXT,
  oauth_provider TEXT,
  oauth_id TEXT,
  is_active BOOLEAN DEFAULT 1,
  metadata TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
)""",
    "entities": """CREATE TABLE entities (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT,
  name TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  person_type TEXT,
  description TEXT,
  company TEXT,
  title TEXT,
  email TEXT,
  phone TEXT,
  address TEXT,
  website TEXT,
  social_media TEXT,
  notes TEXT,
  importance INTEGER DEFAULT 2,
  tags TEXT,
  relationships TEXT,
  last_interaction TEXT,
  interaction_count INTEGER DEFAULT 0,
  metadata TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
)""",
    "memories": """CREATE TABLE memories (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT,
  title TEXT NOT NULL,
  content TEXT NOT NULL,
  memory_type TEXT NOT NULL,
  importance INTEGER DEFAULT 2,
  tags TEXT,
  entity_ids TEXT,
  embedding TEXT,
  metadata TEXT,
  is_archived BOOLEAN DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
)""",
    "interactions": """CREATE TABLE interactions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT,
  user_prompt TEXT NOT NULL,
  assistant_response TEXT NOT NULL,
  context TEXT,
  feedback TEXT,
  sentiment TEXT,
  metadata TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
)""",
    "api_usage_tracking": """CREATE TABLE api_usage_tracking (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  api_provider TEXT NOT NULL CHECK (api_provider IN ('openai', 'openrouter')),
  model TEXT NOT NULL,
  tokens_used INTEGER NOT NULL DEFAULT 0,
  cost_usd REAL NOT NULL,
  operation_type TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  date TEXT NOT NULL,
  metadata TEXT,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
)""",
    "schema_version": """CREATE TABLE schema_version (
  version INTEGER PRIMARY KEY,
  applied_at TEXT NOT NULL
)""",
}

INDEXES = {
    "idx_users_email": "users(email)",
    "idx_users_api_key_hash": "users(api_key_hash)",
    "idx_entities_user_type": "entities(user_id, entity_type)",
    "idx_entities_user_importance": "entities(user_id, importance DESC)",
    "idx_memories_user_type": "memories(user_id, memory_type)",
    "idx_memories_user_importance": "memories(user_id, importance DESC)",
    "idx_memories_user_archived": "memories(user_id, is_archived)",
    "idx_memories_created": "memories(created_at DESC)",
    "idx_interactions_user_date": "interactions(user_id, DATE(created_at))",
    "idx_usage_user_provider_date": "api_usage_tracking(user_id, api_provider, date)",
}

FTS = {
    "memories": ("memories_fts", ["title", "content", "tags"]),
    "entities": ("entities_fts", ["name", "description", "notes", "tags"]),
}


def _fts_statements(table, fts, cols):
    # The service's own trigger bodies, kept exactly (the legacy layout): its delete runs
    # `DELETE FROM <fts> WHERE rowid = old.id`, which on an external-content table cannot
    # remove the old terms. Migration 007 replaces them with FTS5's 'delete' command.
    names = ", ".join(cols)
    new = ", ".join(f"new.{c}" for c in cols)
    insert = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"
    delete = f"DELETE FROM {fts} WHERE rowid = old.id;"
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', content_rowid='id')",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN\n  {insert}\nEND",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN\n  {delete}\nEND",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE ON {table} BEGIN\n  {delete}\n  {insert}\nEND",
    ]


# Columns every table must have for this migration to count as in effect (a legacy
# version-2 database has one more, entities.contact_info, which is fine).
REQUIRED_COLUMNS = {
    "users": ["id", "email", "name", "organization", "api_key_hash", "oauth_provider",
              "oauth_id", "is_active", "metadata", "created_at", "updated_at"],
    "entities": ["id", "user_id", "name", "entity_type", "person_type", "description",
                 "company", "title", "email", "phone", "address", "website", "social_media",
                 "notes", "importance", "tags", "relationships", "last_interaction",
                 "interaction_count", "metadata", "created_at", "updated_at"],
    "memories": ["id", "user_id", "title", "content", "memory_type", "importance", "tags",
                 "entity_ids", "embedding", "metadata", "is_archived", "created_at",
                 "updated_at"],
    "interactions": ["id", "user_id", "user_prompt", "assistant_response", "context",
                     "feedback", "sentiment", "metadata", "created_at", "updated_at"],
    "api_usage_tracking": ["id", "user_id", "api_provider", "model", "tokens_used",
                           "cost_usd", "operation_type", "timestamp", "date", "metadata"],
    "schema_version": ["version", "applied_at"],
}


def up(ctx):
    for ddl in TABLES.values():
        ctx.execute(ddl)
    for name, target in INDEXES.items():
        ctx.execute(f"CREATE INDEX {name} ON {target}")
    for table, (fts, cols) in FTS.items():
        for stmt in _fts_statements(table, fts, cols):
            ctx.execute(stmt)
    # The TypeScript service reads this table; keep it truthful for a fresh database.
    ctx.execute(
        "INSERT INTO schema_version (version, applied_at) "
        "VALUES (1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
    )


def down(ctx):
    for _table, (fts, _cols) in FTS.items():
        for suffix in ("update", "delete", "insert"):
            ctx.execute(f"DROP TRIGGER {fts}_{suffix}")
        ctx.execute(f"DROP TABLE {fts}")
    for name in reversed(list(INDEXES)):
        ctx.execute(f"DROP INDEX {name}")
    for table in reversed(list(TABLES)):
        ctx.execute(f"DROP TABLE {table}")


def verify(ctx):
    for table, required in REQUIRED_COLUMNS.items():
        if not ctx.table_exists(table):
            return f"table {table} is missing"
        missing = [c for c in required if not ctx.column_exists(table, c)]
        if missing:
            return f"table {table} lacks column(s) {', '.join(missing)}"
    for name in INDEXES:
        if not ctx.index_exists(name):
            return f"index {name} is missing"
    for _table, (fts, _cols) in FTS.items():
        if not ctx.table_exists(fts):
            return f"full-text table {fts} is missing"
        for suffix in ("insert", "delete", "update"):
            if not ctx.trigger_exists(f"{fts}_{suffix}"):
                return f"trigger {fts}_{suffix} is missing"
    return True
