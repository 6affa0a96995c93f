"""Build SQLite files the way the TypeScript memory service (v1.3.5, and legacy v2) left them.

Written independently of migration 001 (from the legacy-format contract), so that tests
adopting these files check 001 against the contract rather than against itself. The data
includes what real legacy files hold: NULL user ids, orphans, invalid JSON, `[]` and NULL
embeddings, very long and non-ASCII text, timestamps with and without milliseconds.
"""

from __future__ import annotations

import json
import math
import random
from enum import Enum
from pathlib import Path
from typing import Any

from memvault.db import driver


class LegacyShape(Enum):
    V1_3_5 = "v1.3.5"  # schema_version holds 1
    V2 = "v2"  # schema_version holds 1 and 2; entities.contact_info after title
    # v1.7.5 after its own `npm run migrate` (status, up): schema_version 2, contact_info,
    # the service's schema_migrations rows, and 002's indexes missing.
    V1_7_5_MIGRATED = "v1.7.5-migrated"


# What the service's migration system (v1.4+) writes into its own schema_migrations.
SERVICE_LEDGER_DDL = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    applied_at TEXT NOT NULL,
    applied_by TEXT,
    duration_ms INTEGER,
    checksum TEXT,
    status TEXT NOT NULL DEFAULT 'applied'
  )"""
SERVICE_LEDGER_ROWS = [
    (2, "001_initial_schema", "Migrated from legacy schema_version table",
     "2025-10-06T12:00:00.000Z", None, None, None, "applied"),
    (1, "001_initial_schema",
     "Initial database schema with users, entities, memories, interactions, and API usage "
     "tracking", "2025-10-06T12:00:01.000Z", "system", 11,
     "d1c30be319fb4854010748905e88e03d88286bf8a7750245b5a3e8f9a143b7b6", "applied"),
]  # fmt: skip


_ENTITY_COLS_V1 = """id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT, name TEXT NOT NULL,
 entity_type TEXT NOT NULL, person_type TEXT, description TEXT, company TEXT, title TEXT,{extra}
 email TEXT, phone TEXT, address TEXT, website TEXT, social_media TEXT, notes TEXT,
 importance INTEGER DEFAULT 2, tags TEXT, relationships TEXT, last_interaction TEXT,
 interaction_count INTEGER DEFAULT 0, metadata TEXT, created_at TEXT NOT NULL,
 updated_at TEXT NOT NULL, FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE"""

_LEGACY_SCRIPT = """
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL, name TEXT,
 organization TEXT, api_key_hash TEXT, oauth_provider TEXT, oauth_id TEXT,
 is_active BOOLEAN DEFAULT 1, metadata TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities ({entity_cols});
CREATE TABLE IF NOT EXISTS memories (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT,
 title TEXT NOT NULL, content TEXT NOT NULL, memory_type TEXT NOT NULL,
 importance INTEGER DEFAULT 2, tags TEXT, entity_ids TEXT, embedding TEXT, metadata TEXT,
 is_archived BOOLEAN DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
 FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS interactions (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT,
 user_prompt TEXT NOT NULL, assistant_response TEXT NOT NULL, context TEXT, feedback TEXT,
 sentiment TEXT, metadata TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
 FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_usage_tracking (id TEXT PRIMARY KEY, user_id TEXT NOT NULL,
 api_provider TEXT NOT NULL CHECK (api_provider IN ('openai', 'openrouter')), model TEXT NOT NULL,
 tokens_used INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL, operation_type TEXT NOT NULL,
 timestamp INTEGER NOT NULL, date TEXT NOT NULL, metadata TEXT,
 FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS idx_users_email ON users(email);
CREATE INDEX IF NOT EXISTS idx_users_api_key_hash ON users(api_key_hash);
CREATE INDEX IF NOT EXISTS idx_entities_user_type ON entities(user_id, entity_type);
CREATE INDEX IF NOT EXISTS idx_entities_user_importance ON entities(user_id, importance DESC);
CREATE INDEX IF NOT EXISTS idx_memories_user_type ON memories(user_id, memory_type);
CREATE INDEX IF NOT EXISTS idx_memories_user_importance ON memories(user_id, importance DESC);
CREATE INDEX IF NOT EXISTS idx_memories_user_archived ON memories(user_id, is_archived);
CREATE INDEX IF NOT EXISTS idx_memories_created ON memories(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_interactions_user_date ON interactions(user_id, DATE(created_at));
CREATE INDEX IF NOT EXISTS idx_usage_user_provider_date
 ON api_usage_tracking(user_id, api_provider, date);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(title, content, tags,
 content='memories', content_rowid='id');
CREATE VIRTUAL TABLE IF NOT EXISTS entities_fts USING fts5(name, description, notes, tags,
 content='entities', content_rowid='id');
CREATE TRIGGER IF NOT EXISTS memories_fts_insert AFTER INSERT ON memories BEGIN
      INSERT INTO memories_fts(rowid, title, content, tags)
      VALUES (new.id, new.title, new.content, new.tags);
    END;
CREATE TRIGGER IF NOT EXISTS memories_fts_delete AFTER DELETE ON memories BEGIN
      DELETE FROM memories_fts WHERE rowid = old.id;
    END;
CREATE TRIGGER IF NOT EXISTS memories_fts_update AFTER UPDATE ON memories BEGIN
      DELETE FROM memories_fts WHERE rowid = old.id;
      INSERT INTO memories_fts(rowid, title, content, tags)
      VALUES (new.id, new.title, new.content, new.tags);
    END;
CREATE TRIGGER IF NOT EXISTS entities_fts_insert AFTER INSERT ON entities BEGIN
      INSERT INTO entities_fts(rowid, name, description, notes, tags)
      VALUES (new.id, new.name, new.description, new.notes, new.tags);
    END;
CREATE TRIGGER IF NOT EXISTS entities_fts_delete AFTER DELETE ON entities BEGIN
      DELETE FROM entities_fts WHERE rowid = old.id;
    END;
CREATE TRIGGER IF NOT EXISTS entities_fts_update AFTER UPDATE ON entities BEGIN
      DELETE FROM entities_fts WHERE rowid = old.id;
      INSERT INTO entities_fts(rowid, name, description, notes, tags)
      VALUES (new.id, new.name, new.description, new.notes, new.tags);
    END;
"""

MEMORY_TYPES = [
    "SYSTEM",
    "LEARNED",
    "MEMORY",
    "biographical",
    "professional",
    "personal",
    "technical",
    "project",
    "interaction",
    "preference",
    "episodic",
    "semantic",
    "procedural",
    "working",
    "sensory",
]
# Memory importance as the service stores it: a REAL from 0 to 1 (an INTEGER column's
# affinity keeps 0 and 1 as integers).
MEMORY_IMPORTANCE = [0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1]
ENTITY_TYPES = ["person", "organization", "project", "concept", "location", "event"]
WORDS = [
    "alpha", "beta", "gamma", "delta", "project", "meeting", "coffee", "berlin", "tokyo",
    "python", "sqlite", "memory", "garden", "piano", "marathon", "budget", "launch", "design",
    "review", "café", "naïve", "東京", "Zürich",
]  # fmt: skip


def _ts(rng: random.Random, with_ms: bool) -> str:
    day = rng.randint(1, 28)
    month = rng.randint(1, 12)
    secs = rng.randint(0, 86399)
    base = f"2025-{month:02d}-{day:02d}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    return base + (f".{rng.randint(0, 999):03d}Z" if with_ms else "Z")


def build_legacy_database(
    path: Path,
    shape: LegacyShape = LegacyShape.V1_3_5,
    *,
    users: int = 3,
    entities_per_user: int = 20,
    memories_per_user: int = 40,
    embedding_dim: int = 16,
    seed: int = 7,
    oddities: bool = True,
    service_edits: bool = True,
) -> Path:
    """Write a legacy-shaped database with realistic (and realistically messy) rows.

    `service_edits` updates and deletes a few rows the way the service does (through its
    triggers, so the FTS indexes are damaged as in every field file); False keeps them whole.
    """
    rng = random.Random(seed)
    conn = driver.open_sqlite(path)
    newer = shape in (LegacyShape.V2, LegacyShape.V1_7_5_MIGRATED)
    extra = "\n contact_info TEXT," if newer else ""
    conn.executescript(_LEGACY_SCRIPT.format(entity_cols=_ENTITY_COLS_V1.format(extra=extra)))
    if shape is not LegacyShape.V1_7_5_MIGRATED:
        conn.execute("INSERT INTO schema_version VALUES (1, '2025-06-01T10:00:00.000Z')")
    if newer:
        conn.execute("INSERT INTO schema_version VALUES (2, '2025-09-01T10:00:00Z')")
    if shape is LegacyShape.V1_7_5_MIGRATED:
        conn.execute(SERVICE_LEDGER_DDL)
        conn.executemany(
            "INSERT INTO schema_migrations VALUES (?, ?, ?, ?, ?, ?, ?, ?)", SERVICE_LEDGER_ROWS
        )
    user_ids = [f"user-{i}" for i in range(users)]
    for i, uid in enumerate(user_ids):
        conn.execute(
            "INSERT INTO users (id, email, name, api_key_hash, is_active, metadata, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                uid,
                f"{uid}@example.com",
                f"User {i} Ünïcode",
                f"hash{i}",
                1,
                json.dumps({"plan": "pro"}),
                _ts(rng, True),
                _ts(rng, False),
            ),
        )
    _fill(conn, rng, user_ids, entities_per_user, memories_per_user, embedding_dim)
    if oddities:
        _add_oddities(conn, rng, user_ids[0] if user_ids else None)
    if service_edits:
        _service_updates(conn)
    conn.commit()
    conn.close()
    return path


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _unit_vector(rng: random.Random, dim: int) -> list[float]:
    """A unit-length vector of full-precision floats, as embedding APIs return them."""
    raw = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def _fill(
    conn: driver.SQLiteConnection,
    rng: random.Random,
    user_ids: list[str],
    n_ent: int,
    n_mem: int,
    dim: int,
) -> None:
    ent_rows: list[tuple[Any, ...]] = []
    mem_rows: list[tuple[Any, ...]] = []
    for uid in user_ids:
        for _ in range(n_ent):
            ts = _ts(rng, rng.random() < 0.7)
            ent_rows.append(
                (
                    uid,
                    _words(rng, 2).title(),
                    rng.choice(ENTITY_TYPES),
                    "friend",
                    _words(rng, 8),
                    rng.randint(1, 4),
                    json.dumps([rng.choice(WORDS)]),
                    ts,
                    ts,
                )
            )
        for _ in range(n_mem):
            ts = _ts(rng, rng.random() < 0.7)
            vec = _unit_vector(rng, dim)
            mem_rows.append(
                (
                    uid,
                    _words(rng, 3),
                    _words(rng, 30),
                    rng.choice(MEMORY_TYPES),
                    rng.choice(MEMORY_IMPORTANCE),
                    json.dumps([rng.choice(WORDS)]),
                    "[1, 2]",
                    json.dumps(vec, separators=(",", ":")),
                    json.dumps({"k": 1}),
                    int(rng.random() < 0.2),
                    ts,
                    _ts(rng, True),
                )
            )
    conn.executemany(
        "INSERT INTO entities (user_id, name, entity_type, person_type, description, importance,"
        " tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ent_rows,
    )
    conn.executemany(
        "INSERT INTO memories (user_id, title, content, memory_type, importance, tags, entity_ids,"
        " embedding, metadata, is_archived, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        mem_rows,
    )
    for uid in user_ids:
        for d in range(3):
            ts = f"2025-10-0{d + 1}T09:00:00.000Z"
            conn.execute(
                "INSERT INTO interactions (user_id, user_prompt, assistant_response, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?)",
                (uid, "hi?", "hello!", ts, ts),
            )
            conn.execute(
                "INSERT INTO api_usage_tracking (id, user_id, api_provider, model, tokens_used,"
                " cost_usd, operation_type, timestamp, date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    f"{uid}-u{d}",
                    uid,
                    rng.choice(["openai", "openrouter"]),
                    "gpt-4o-mini",
                    100 * d,
                    0.01 * d,
                    "embedding",
                    1759741200000 + d * 86400000 + rng.randint(0, 999),  # Date.now(): ms
                    f"2025-10-0{d + 1}",
                ),
            )


def _add_oddities(conn: driver.SQLiteConnection, rng: random.Random, uid: str | None) -> None:
    """Rows every real legacy file has somewhere; they must survive untouched."""
    odd = [
        (None, "no owner", "a memory whose user_id is NULL", "MEMORY", "[]", None, "{}", 0),
        (
            "ghost-user",
            "orphan",
            "its user does not exist",
            "LEARNED",
            "[0.5, 0.25]",
            "[]",
            "{}",
            0,
        ),
        (
            uid,
            "broken json",
            "tags and metadata are not JSON",
            "personal",
            "[1.0, 2.0]",
            "{not json",
            "{'single': quotes}",
            0,
        ),
        (uid, "empty embedding", "embedding is []", "technical", "[]", '["x"]', None, 1),
        (uid, "null embedding", "embedding is NULL", "preference", None, '["y"]', None, 0),
        (uid, "long", "lorem ipsum " * 20000, "project", None, None, None, 0),
        (
            uid,
            "日本語のメモ",
            "Zürich café naïve — emoji 🧠",
            "biographical",
            None,
            '["ü"]',
            None,
            0,
        ),
    ]
    for user, title, content, mtype, emb, tags, meta, archived in odd:
        conn.execute(
            "INSERT INTO memories (user_id, title, content, memory_type, embedding, tags, metadata,"
            " is_archived, created_at, updated_at, importance)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0.5)",
            (
                user,
                title,
                content,
                mtype,
                emb,
                tags,
                meta,
                archived,
                "2025-10-06T12:00:00Z",
                "2025-10-06T12:00:00.000Z",
            ),
        )
    conn.execute(
        "INSERT INTO entities (user_id, name, entity_type, metadata, created_at, updated_at)"
        " VALUES (NULL, 'nobody''s', 'concept', '{bad', '2025-10-06T12:00:00Z',"
        " '2025-10-06T12:00:00Z')"
    )
    conn.execute(
        "INSERT INTO interactions (user_id, user_prompt, assistant_response, created_at,"
        " updated_at) VALUES ('ghost-user', 'orphan?', 'yes', '2025-10-06T12:00:00Z',"
        " '2025-10-06T12:00:00Z')"
    )


def _service_updates(conn: driver.SQLiteConnection) -> None:
    """What the service's updateMemory and deleteMemory do: updated_at = CURRENT_TIMESTAMP,
    and through its triggers an FTS index that keeps the old terms (damaged)."""
    conn.execute(
        "UPDATE memories SET content = content || ' (edited)', updated_at = CURRENT_TIMESTAMP "
        "WHERE id IN (SELECT id FROM memories ORDER BY id LIMIT 3)"
    )
    conn.execute("UPDATE entities SET description = 'changed', updated_at = CURRENT_TIMESTAMP "
                 "WHERE id = (SELECT min(id) FROM entities)")  # fmt: skip
    conn.execute(
        "INSERT INTO memories (user_id, title, content, memory_type, importance, created_at, "
        "updated_at) VALUES (NULL, 'deleted later', 'marmalade', 'semantic', 0.5, "
        "'2025-10-06T12:00:00.000Z', "
        "'2025-10-06T12:00:00.000Z')"
    )
    conn.execute("DELETE FROM memories WHERE title = 'deleted later'")


def snapshot_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every legacy user table, ordered, for before/after comparisons."""
    tables = [
        "users",
        "entities",
        "memories",
        "interactions",
        "api_usage_tracking",
        "schema_version",
    ]
    conn = driver.open_sqlite(path)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    finally:
        conn.close()
