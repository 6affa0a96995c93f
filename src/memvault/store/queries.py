"""Every SQL statement the memory store runs, registered in the query catalog by name.

This is the only store module that holds SQL. Each query names its representative
parameters so `memvault schema review` can EXPLAIN QUERY PLAN it on any database.
Every statement on a tenant's rows is scoped by `user_id`.
"""

from __future__ import annotations

from memvault.store.catalog import register

USER_ID = "00000000-0000-4000-8000-000000000001"
NOW = "2025-10-06T12:00:00.000Z"

USER_COLUMNS = (
    "id, email, name, organization, api_key_hash, oauth_provider, oauth_id, is_active, "
    "metadata, created_at, updated_at"
)
ENTITY_COLUMNS = (
    "id, user_id, name, entity_type, person_type, description, company, title, email, phone, "
    "address, website, social_media, notes, importance, tags, relationships, last_interaction, "
    "interaction_count, metadata, created_at, updated_at"
)
MEMORY_COLUMNS = (
    "id, user_id, title, content, memory_type, importance, tags, entity_ids, embedding, "
    "metadata, is_archived, created_at, updated_at"
)
INTERACTION_COLUMNS = (
    "id, user_id, user_prompt, assistant_response, context, feedback, sentiment, metadata, "
    "created_at, updated_at"
)
USAGE_COLUMNS = (
    "id, user_id, api_provider, model, tokens_used, cost_usd, operation_type, timestamp, date, "
    "metadata"
)

# bm25() column weights: a word in a title (or an entity's name) counts most, then tags.
MEMORY_BM25 = "bm25(memory_search, 3.0, 1.0, 2.0)"
ENTITY_BM25 = "bm25(entity_search, 3.0, 1.0, 1.0, 2.0)"


def _prefixed(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def _placeholders(columns: str) -> str:
    return ", ".join(f":{c.strip()}" for c in columns.split(","))


def _assignments(columns: str) -> str:
    return ", ".join(f"{c.strip()} = :{c.strip()}" for c in columns.split(","))


# -- users ----------------------------------------------------------------------------------
USER_VALUES = {
    "id": USER_ID, "email": "ada@example.com", "name": "Ada", "organization": None,
    "api_key_hash": "0" * 64, "oauth_provider": None, "oauth_id": None, "is_active": 1,
    "metadata": None, "created_at": NOW, "updated_at": NOW,
}  # fmt: skip
USER_MUTABLE = (
    "email, name, organization, api_key_hash, oauth_provider, oauth_id, is_active, metadata, "
    "updated_at"
)

register(
    "users.insert",
    f"INSERT INTO users ({USER_COLUMNS}) VALUES ({_placeholders(USER_COLUMNS)})",
    USER_VALUES,
    "Create an account.",
)
register(
    "users.get",
    f"SELECT {USER_COLUMNS} FROM users WHERE id = :user_id",
    {"user_id": USER_ID},
    "One account by id.",
)
register(
    "users.exists",
    "SELECT 1 FROM users WHERE id = :user_id",
    {"user_id": USER_ID},
    "Does an account exist (checked before writing rows that belong to it).",
)
register(
    "users.get_by_email",
    f"SELECT {USER_COLUMNS} FROM users WHERE email = :email",
    {"email": "ada@example.com"},
    "One account by email (unique).",
)
register(
    "users.ids_by_email_nocase",
    "SELECT id FROM users WHERE email = :email COLLATE NOCASE",
    {"email": "ADA@example.com"},
    "Accounts whose email equals this one ignoring case (uniqueness check on create/update; "
    "migration 011's index users(email COLLATE NOCASE)).",
)
register(
    "users.get_by_api_key_hash",
    f"SELECT {USER_COLUMNS} FROM users WHERE api_key_hash = :api_key_hash AND is_active = 1",
    {"api_key_hash": "0" * 64},
    "The active account an API key belongs to (only the key's SHA-256 is stored).",
)
register(
    "users.list",
    f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at DESC, id LIMIT :limit OFFSET :offset",
    {"limit": 50, "offset": 0},
    "Accounts, newest first (an operator's listing, not a tenant's).",
)
register(
    "users.update",
    f"UPDATE users SET {_assignments(USER_MUTABLE)} WHERE id = :user_id",
    {**{k.strip(): USER_VALUES[k.strip()] for k in USER_MUTABLE.split(",")}, "user_id": USER_ID},
    "Write an account's changeable columns.",
)
register(
    "users.delete",
    "DELETE FROM users WHERE id = :user_id",
    {"user_id": USER_ID},
    "Delete an account; ON DELETE CASCADE removes its rows (and triggers queue them for the "
    "search index to forget).",
)

# -- entities -------------------------------------------------------------------------------
ENTITY_VALUES = {
    "user_id": USER_ID, "name": "Grace Hopper", "entity_type": "person",
    "person_type": "colleague", "description": None, "company": None, "title": None,
    "email": None, "phone": None, "address": None, "website": None, "social_media": None,
    "notes": None, "importance": 2, "tags": "[]", "relationships": None,
    "last_interaction": None, "interaction_count": 0, "metadata": None, "created_at": NOW,
    "updated_at": NOW,
}  # fmt: skip
ENTITY_INSERT_COLUMNS = ENTITY_COLUMNS.removeprefix("id, ")
ENTITY_MUTABLE = (
    "name, entity_type, person_type, description, company, title, email, phone, address, "
    "website, social_media, notes, importance, tags, relationships, metadata, updated_at"
)

register(
    "entities.insert",
    f"INSERT INTO entities ({ENTITY_INSERT_COLUMNS}) "
    f"VALUES ({_placeholders(ENTITY_INSERT_COLUMNS)})",
    ENTITY_VALUES,
    "Create an entity.",
)
register(
    "entities.get",
    f"SELECT {ENTITY_COLUMNS} FROM entities WHERE id = :id AND user_id = :user_id",
    {"id": 1, "user_id": USER_ID},
    "One of a user's entities.",
)
register(
    "entities.list",
    f"SELECT {ENTITY_COLUMNS} FROM entities WHERE user_id = :user_id "
    "ORDER BY created_at DESC LIMIT :limit OFFSET :offset",
    {"user_id": USER_ID, "limit": 50, "offset": 0},
    "A user's entities, newest first (idx_entities_user_created).",
)
register(
    "entities.search",
    f"SELECT {_prefixed(ENTITY_COLUMNS, 'e')}, hits.score FROM ("
    f"SELECT rowid AS id, -{ENTITY_BM25} AS score FROM entity_search "
    "WHERE entity_search MATCH :query ORDER BY score DESC LIMIT :limit"
    ") AS hits CROSS JOIN entities AS e ON e.id = hits.id "  # hits drive: each by rowid
    "WHERE e.user_id = :user_id ORDER BY hits.score DESC",
    {"query": '"1xgrace"', "user_id": USER_ID, "limit": 20},
    "Full-text search over a user's entities (name, description, notes, tags), BM25-ranked, "
    "reading only that user's postings (tenant-keyed words).",
)
register(
    "entities.update",
    f"UPDATE entities SET {_assignments(ENTITY_MUTABLE)} WHERE id = :id AND user_id = :user_id",
    {
        **{k.strip(): ENTITY_VALUES[k.strip()] for k in ENTITY_MUTABLE.split(",")},
        "id": 1,
        "user_id": USER_ID,
    },
    "Write an entity's changeable columns.",
)
register(
    "entities.record_interaction",
    "UPDATE entities SET last_interaction = :at, "
    "interaction_count = COALESCE(interaction_count, 0) + 1, updated_at = :at "
    "WHERE id = :id AND user_id = :user_id",
    {"at": NOW, "id": 1, "user_id": USER_ID},
    "Count one more interaction with an entity.",
)
register(
    "entities.delete",
    "DELETE FROM entities WHERE id = :id AND user_id = :user_id",
    {"id": 1, "user_id": USER_ID},
    "Delete one of a user's entities.",
)
# Lookups by a list of ids: json_each drives the join (CROSS JOIN keeps it outermost) so
# each id is one rowid search; `id IN (...) AND user_id = ?` let the planner walk the
# user's index instead, reading every row the user owns.
register(
    "entities.owned_ids",
    "SELECT e.id FROM json_each(:ids) AS wanted CROSS JOIN entities AS e "
    "ON e.id = wanted.value WHERE e.user_id = :user_id",
    {"user_id": USER_ID, "ids": "[1, 2]"},
    "Which of the given entity ids belong to the user (memories may only link to those).",
)

# -- memories -------------------------------------------------------------------------------
MEMORY_VALUES = {
    "user_id": USER_ID, "title": "Tea", "content": "Prefers green tea", "memory_type": "preference",
    "importance": 0.5, "tags": '["drinks"]', "entity_ids": "[]", "embedding": None,
    "metadata": None, "is_archived": 0, "created_at": NOW, "updated_at": NOW,
}  # fmt: skip
MEMORY_INSERT_COLUMNS = MEMORY_COLUMNS.removeprefix("id, ")
MEMORY_MUTABLE = (
    "title, content, memory_type, importance, tags, entity_ids, embedding, metadata, "
    "is_archived, updated_at"
)

register(
    "memories.insert",
    f"INSERT INTO memories ({MEMORY_INSERT_COLUMNS}) "
    f"VALUES ({_placeholders(MEMORY_INSERT_COLUMNS)})",
    MEMORY_VALUES,
    "Create a memory (also run with executemany by create_many).",
)
register(
    "store.change_version",
    "SELECT total_changes() AS changes, data_version FROM pragma_data_version",
    {},
    "Rows changed on this connection and SQLite's data version (moves when another "
    "connection commits): while both stay put, cached vectors are current.",
)
register(
    "store.last_insert_id",
    "SELECT last_insert_rowid()",
    {},
    "The rowid of the last row inserted on this connection (create_many's ids end there).",
)
register(
    "memories.get",
    f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = :id AND user_id = :user_id",
    {"id": 1, "user_id": USER_ID},
    "One of a user's memories (archived or not).",
)
register(
    "memories.get_many",
    f"SELECT {_prefixed(MEMORY_COLUMNS, 'm')} FROM json_each(:ids) AS wanted "
    "CROSS JOIN memories AS m ON m.id = wanted.value WHERE m.user_id = :user_id",
    {"user_id": USER_ID, "ids": "[1, 2, 3]"},
    "Several of a user's memories by id (the hits of a semantic search), each by rowid.",
)
register(
    "memories.list",
    f"SELECT {MEMORY_COLUMNS} FROM memories WHERE user_id = :user_id AND is_archived = 0 "
    "ORDER BY created_at DESC LIMIT :limit OFFSET :offset",
    {"user_id": USER_ID, "limit": 50, "offset": 0},
    "A user's memories that are not archived, newest first.",
)
# Pattern 4 of the seed (its searchMemories; the service's `recency` recall strategy).
# julianday() reads both updated_at formats the service writes (ISO text and
# CURRENT_TIMESTAMP) as the same instant; migration 008 indexes exactly these expressions.
register(
    "memories.list_by_updated",
    f"SELECT {MEMORY_COLUMNS} FROM memories WHERE user_id = :user_id AND is_archived = 0 "
    "ORDER BY julianday(updated_at) DESC, id DESC LIMIT :limit OFFSET :offset",
    {"user_id": USER_ID, "limit": 50, "offset": 0},
    "A user's memories that are not archived, most recently updated first (pattern 4).",
)
register(
    "memories.list_by_importance",
    f"SELECT {MEMORY_COLUMNS} FROM memories WHERE user_id = :user_id AND is_archived = 0 "
    "ORDER BY importance DESC, id LIMIT :limit OFFSET :offset",
    {"user_id": USER_ID, "limit": 50, "offset": 0},
    "A user's memories that are not archived, most important first (ties: oldest first; "
    "the legacy idx_memories_user_importance serves it).",
)
# Ranking happens on (id, score) pairs only; the full rows of the top `limit` are read after,
# so a common word does not drag every matching row (and its embedding) through the sorter.
register(
    "memories.search",
    f"SELECT {_prefixed(MEMORY_COLUMNS, 'm')}, hits.score FROM ("
    f"SELECT rowid AS id, -{MEMORY_BM25} AS score FROM memory_search "
    "WHERE memory_search MATCH :query ORDER BY score DESC LIMIT :limit"
    ") AS hits CROSS JOIN memories AS m ON m.id = hits.id "  # hits drive: each by rowid
    "WHERE m.user_id = :user_id AND m.is_archived = 0 ORDER BY hits.score DESC",
    {"query": '"1xgreen" "1xtea"', "user_id": USER_ID, "limit": 20},
    "Full-text search over a user's memories (title, content, tags), BM25-ranked: the query's "
    "words carry the user's tenant key, so FTS5 reads that user's postings only.",
)
register(
    "memories.similar_candidates",
    "SELECT id, embedding FROM memories WHERE user_id = :user_id AND is_archived = 0 "
    "AND embedding IS NOT NULL",
    {"user_id": USER_ID},
    "Every embedding of a user's memories that are not archived, for exact cosine top-k.",
)
register(
    "memories.similar_capacity",
    "SELECT count(*) FROM memories WHERE user_id = :user_id AND is_archived = 0",
    {"user_id": USER_ID},
    "At least as many rows as memories.similar_candidates returns, from the index alone: "
    "the size of the matrix the candidates are copied into.",
)
register(
    "memories.embedding_sample",
    "SELECT embedding FROM memories WHERE user_id = :user_id AND id <> :exclude_id "
    "AND embedding IS NOT NULL",
    {"user_id": USER_ID, "exclude_id": -1},
    "Read until one embedding decodes: its dimension is the one the user's vectors must have.",
)
register(
    "memories.update",
    f"UPDATE memories SET {_assignments(MEMORY_MUTABLE)} WHERE id = :id AND user_id = :user_id",
    {
        **{k.strip(): MEMORY_VALUES[k.strip()] for k in MEMORY_MUTABLE.split(",")},
        "id": 1,
        "user_id": USER_ID,
    },
    "Write a memory's changeable columns.",
)
register(
    "memories.set_archived",
    "UPDATE memories SET is_archived = :is_archived, updated_at = :updated_at "
    "WHERE id = :id AND user_id = :user_id",
    {"is_archived": 1, "updated_at": NOW, "id": 1, "user_id": USER_ID},
    "Archive (or restore) one of a user's memories.",
)
register(
    "memories.delete",
    "DELETE FROM memories WHERE id = :id AND user_id = :user_id",
    {"id": 1, "user_id": USER_ID},
    "Delete one of a user's memories.",
)

# -- interactions ---------------------------------------------------------------------------
INTERACTION_INSERT_COLUMNS = INTERACTION_COLUMNS.removeprefix("id, ")

register(
    "interactions.insert",
    f"INSERT INTO interactions ({INTERACTION_INSERT_COLUMNS}) "
    f"VALUES ({_placeholders(INTERACTION_INSERT_COLUMNS)})",
    {
        "user_id": USER_ID, "user_prompt": "hi", "assistant_response": "hello", "context": None,
        "feedback": None, "sentiment": None, "metadata": None, "created_at": NOW,
        "updated_at": NOW,
    },
    "Record one prompt and response.",
)  # fmt: skip
register(
    "interactions.list_by_date",
    f"SELECT {INTERACTION_COLUMNS} FROM interactions WHERE user_id = :user_id "
    "AND created_at >= :start AND created_at < :after "
    "ORDER BY created_at DESC LIMIT :limit",
    {"user_id": USER_ID, "start": "2025-10-01", "after": "2025-11-01", "limit": 100},
    "A user's interactions from one day to the day before `after` (ISO text compares in time "
    "order), newest first, read in order from idx_interactions_user_created.",
)

# -- API usage ------------------------------------------------------------------------------
register(
    "usage.insert",
    f"INSERT INTO api_usage_tracking ({USAGE_COLUMNS}) VALUES ({_placeholders(USAGE_COLUMNS)})",
    {
        "id": "00000000-0000-4000-8000-0000000000aa", "user_id": USER_ID,
        "api_provider": "openai", "model": "gpt-4o-mini", "tokens_used": 120, "cost_usd": 0.0002,
        "operation_type": "embedding", "timestamp": 1759752000, "date": "2025-10-06",
        "metadata": None,
    },
    "Record one call to a model provider.",
)  # fmt: skip
register(
    "usage.daily_totals",
    "SELECT date AS period, api_provider, model, count(*) AS requests, "
    "COALESCE(sum(tokens_used), 0) AS tokens_used, COALESCE(sum(cost_usd), 0.0) AS cost_usd "
    "FROM api_usage_tracking WHERE user_id = :user_id AND date BETWEEN :start AND :end "
    "GROUP BY date, api_provider, model ORDER BY date, api_provider, model",
    {"user_id": USER_ID, "start": "2025-10-01", "end": "2025-10-31"},
    "A user's usage per day, provider and model between two dates, inclusive.",
)
register(
    "usage.monthly_totals",
    "SELECT substr(date, 1, 7) AS period, api_provider, model, count(*) AS requests, "
    "COALESCE(sum(tokens_used), 0) AS tokens_used, COALESCE(sum(cost_usd), 0.0) AS cost_usd "
    "FROM api_usage_tracking WHERE user_id = :user_id "
    "AND date >= :start_month || '-01' AND date <= :end_month || '-31' "
    "GROUP BY substr(date, 1, 7), api_provider, model ORDER BY period, api_provider, model",
    {"user_id": USER_ID, "start_month": "2025-01", "end_month": "2025-12"},
    "A user's usage per month, provider and model between two months, inclusive.",
)

# -- the tenant search index (memvault.store.search_index, migration 009) -------------------
register(
    "search.tenant",
    "SELECT tenant FROM search_tenants WHERE owner = :user_id",
    {"user_id": USER_ID},
    "The user's tenant key in the search index.",
)
register(
    "search.pending",
    "SELECT EXISTS (SELECT 1 FROM search_queue WHERE seq > 0) AS pending",
    {},
    "Whether changed rows (of any tenant: the queue is upkeep, not data) wait to be indexed.",
)
register(
    "search.queue_batch",
    "SELECT max(seq) AS upto, count(*) AS size, "
    "json_group_array(row_id) FILTER (WHERE kind = 'memory') AS memories, "
    "json_group_array(row_id) FILTER (WHERE kind = 'entity') AS entities "
    "FROM (SELECT seq, kind, row_id FROM search_queue WHERE seq > 0 ORDER BY seq LIMIT :batch)",
    {"batch": 500},
    "The oldest queued changes (ids the triggers queued, any writer), by kind, in one read.",
)
register(
    "search.queue_done",
    "DELETE FROM search_queue WHERE seq <= :upto",
    {"upto": 500},
    "Forget queue entries once their rows are indexed (same transaction).",
)
register(
    "search.requeue_all",
    "INSERT INTO search_queue (kind, row_id) SELECT 'memory', id FROM memories "
    "UNION ALL SELECT 'entity', id FROM entities",
    {},
    "Queue every memory and entity: a rebuild of the whole index (`memvault db reindex`).",
)
for _kind, _table, _cols, _archived in (
    ("memory", "memories", "title, content, tags", " AND r.is_archived = 0"),
    ("entity", "entities", "name, description, notes, tags", ""),
):
    register(
        f"search.{_kind}_tenants",
        f"INSERT OR IGNORE INTO search_tenants (owner) SELECT user_id FROM {_table} "
        "WHERE id IN (SELECT value FROM json_each(:ids)) AND user_id IS NOT NULL",
        {"ids": "[1, 2]"},
        f"Give a tenant key to each owner of changed {_table} that has none yet.",
    )
    register(
        f"search.{_kind}_clear",
        f"DELETE FROM {_kind}_search",
        {},
        f"Empty the {_table} index before a rebuild (same transaction as the rebuild).",
    )
    register(
        f"search.{_kind}_forget",
        f"DELETE FROM {_kind}_search WHERE rowid IN (SELECT value FROM json_each(:ids))",
        {"ids": "[1, 2]"},
        f"Drop the index rows of changed {_table} (put back by search.{_kind}_put).",
    )
    register(
        f"search.{_kind}_rows",
        f"SELECT r.id, t.tenant, {_prefixed(_cols, 'r')} "
        "FROM (SELECT DISTINCT value FROM json_each(:ids)) AS q "  # a row may be queued twice
        f"CROSS JOIN {_table} AS r ON r.id = q.value "  # the ids drive: each by rowid
        "JOIN search_tenants AS t ON t.owner = r.user_id "
        f"WHERE r.user_id IS NOT NULL{_archived}",
        {"ids": "[1, 2]"},
        f"The searchable text of changed {_table}, with the owner's tenant key.",
    )
    register(
        f"search.{_kind}_put",
        f"INSERT INTO {_kind}_search (rowid, {_cols}) VALUES (:id, {_placeholders(_cols)})",
        {"id": 1, **{c.strip(): "1xword" for c in _cols.split(",")}},
        f"Index one of {_table} (every word carrying the tenant key).",
    )

# -- embeddings: back-fill, statistics and the model of each user's vectors -----------------
register(
    "memories.embedding_page",
    "SELECT id, title, content, tags FROM memories WHERE user_id = :user_id AND id > :after "
    "AND (:missing = 0 OR embedding IS NULL) ORDER BY id LIMIT :limit",
    {"user_id": USER_ID, "after": 0, "missing": 1, "limit": 64},
    "The next page of a user's memories to embed, in id order (a back-fill resumes by id).",
)
register(
    "memories.set_embedding",
    "UPDATE memories SET embedding = :embedding WHERE id = :id AND user_id = :user_id",
    {"embedding": None, "id": 1, "user_id": USER_ID},
    "Write one memory's embedding only (its text, updated_at and search index stay as they are).",
)
register(
    "memories.stats",
    "SELECT memory_type, count(*) AS total, count(embedding) AS embedded FROM memories "
    "WHERE user_id = :user_id GROUP BY memory_type ORDER BY memory_type",
    {"user_id": USER_ID},
    "A user's memories (archived too) counted per type, with how many have a vector.",
)
register(
    "entities.count",
    "SELECT count(*) FROM entities WHERE user_id = :user_id",
    {"user_id": USER_ID},
    "How many entities a user has.",
)
register(
    "embedding_models.get",
    "SELECT user_id, provider, model, dimension, reembed_after_id, updated_at "
    "FROM embedding_models WHERE user_id = :user_id",
    {"user_id": USER_ID},
    "The model that made a user's vectors (and the progress of a re-embedding).",
)
register(
    "embedding_models.put",
    "INSERT INTO embedding_models (user_id, provider, model, dimension, reembed_after_id, "
    "updated_at) VALUES (:user_id, :provider, :model, :dimension, :reembed_after_id, "
    ":updated_at) ON CONFLICT (user_id) DO UPDATE SET provider = excluded.provider, "
    "model = excluded.model, dimension = excluded.dimension, "
    "reembed_after_id = excluded.reembed_after_id, updated_at = excluded.updated_at",
    {
        "user_id": USER_ID, "provider": "offline", "model": "wordllama-l2-supercat-256",
        "dimension": 256, "reembed_after_id": None, "updated_at": NOW,
    },
    "Record which model made a user's vectors.",
)  # fmt: skip
