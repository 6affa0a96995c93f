"""Migration 003: embeddings from JSON text to float32 BLOBs, on legacy-shaped files."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import Result
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import integrity, schema_objects
from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect
from memvault.migrations import Event, Migrator, load_migrations
from memvault.migrations.loader import load_file
from memvault.store import embedding
from memvault.testing import LegacyShape, build_legacy_database

MIGRATION_FILE = BUILTIN_MIGRATIONS / "003_embeddings_to_float32_blobs.py"
M003: dict[str, Any] = load_file(MIGRATION_FILE).up_func.__globals__

# Embedding text a legacy file may hold that is not a JSON array of finite numbers.
GARBAGE = {
    "{not json": "invalid JSON",
    "": "invalid JSON",
    '{"a": 1}': "not a JSON array",
    "[null, 0.5]": "element 0 is not a number",
    '[1.0, "2.0"]': "element 1 is not a number",
    "[true, 1]": "element 0 is not a number",
    "[[1.0], [2.0]]": "element 0 is not a number",
    "[NaN, 1.0]": "non-finite value NaN",
    "[1.0, -Infinity]": "non-finite value -Infinity",
    "[1e39]": "beyond float32 range",
    "[" + "9" * 400 + "]": "beyond float32 range",
}
# Text that converts, with its own oddities (ints, whitespace, subnormals, -0.0).
CONVERTIBLE = ["[ ]", "[1, 2, 3]", "[-0.0, 1e-50, 3.4e38]", " [0.1,\n0.2] ", "[16777217]"]


# The last version before 009, which replaces the FTS tables whose triggers 003 narrowed.
BEFORE_009 = max(m.version for m in load_migrations(BUILTIN_MIGRATIONS) if m.version < 9)


# -- helpers ----------------------------------------------------------------------------------
def embeddings(path: Path) -> dict[int, Any]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT id, embedding FROM memories ORDER BY id").fetchall())
    finally:
        conn.close()


def rows_without_embedding(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(memories)") if r[1] != "embedding"]
        return conn.execute(f"SELECT {', '.join(cols)} FROM memories ORDER BY id").fetchall()
    finally:
        conn.close()


def sql(path: Path, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def add_memories(path: Path, texts: list[str | None], user: str = "user-1") -> list[int]:
    conn = sqlite3.connect(path)
    try:
        ids = []
        for i, text in enumerate(texts):
            cur = conn.execute(
                "INSERT INTO memories (user_id, title, content, memory_type, embedding, "
                "created_at, updated_at) VALUES (?, ?, 'odd embedding', 'MEMORY', ?, "
                "'2025-10-07T00:00:00Z', '2025-10-07T00:00:00Z')",
                (user, f"odd {i}", text),
            )
            ids.append(int(cur.lastrowid or 0))
        conn.commit()
        return ids
    finally:
        conn.close()


def as_float32(text: str) -> np.ndarray:
    return np.asarray(json.loads(text), dtype=np.float32)


def assert_ok(result: Result) -> None:
    assert result.exit_code == 0, result.output


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A v1.3.5 file whose FTS index is still whole (no service edits yet: they would damage
    it, see 007), plus every kind of embedding text a field file may hold."""
    legacy_v1 = build_legacy_database(tmp_path / "legacy_v1.db", service_edits=False)
    add_memories(legacy_v1, [*GARBAGE, *CONVERTIBLE, None])
    return legacy_v1


def migrate_to(path: Path, target: int, listener: Callable[[Event], None] | None = None) -> None:
    db = connect(str(path))
    try:
        Migrator(db, load_migrations(BUILTIN_MIGRATIONS), applied_by="t", listener=listener).to(
            target
        )
    finally:
        db.close()


# -- up ---------------------------------------------------------------------------------------
def test_up_turns_every_text_embedding_into_float32_or_quarantine(messy: Path) -> None:
    migrate_to(messy, 2)
    before = embeddings(messy)
    migrate_to(messy, 3)
    after = embeddings(messy)
    quarantine = {
        mid: (text, reason)
        for mid, text, reason in sql(
            messy, "SELECT memory_id, original_text, reason FROM memory_embedding_quarantine"
        )
    }
    assert sql(messy, "SELECT count(*) FROM memories WHERE typeof(embedding) = 'text'") == [(0,)]
    assert after.keys() == before.keys()
    for mid, old in before.items():
        new = after[mid]
        if old is None:
            assert new is None and mid not in quarantine
        elif old in GARBAGE:
            assert new is None
            assert quarantine[mid][0] == old  # verbatim
            assert GARBAGE[old] in quarantine[mid][1]
        else:
            assert isinstance(new, bytes) and mid not in quarantine
            expected = as_float32(old)
            assert np.array_equal(np.frombuffer(new, dtype="<f4"), expected)
            decoded = embedding.decode(new)  # what the store reads
            assert (decoded is None and expected.size == 0) or np.array_equal(decoded, expected)
    assert len(quarantine) == len(GARBAGE)
    empties = {mid for mid, old in before.items() if old in ("[]", "[ ]")}
    assert len(empties) >= 3 and {after[mid] for mid in empties} == {b""}


def test_up_changes_nothing_but_the_embedding_column(messy: Path) -> None:
    migrate_to(messy, 2)
    rows, schema, checks = rows_without_embedding(messy), schema_objects(messy), integrity(messy)
    migrate_to(messy, 3)
    assert rows_without_embedding(messy) == rows  # updated_at included
    now = schema_objects(messy)
    changed = {name for name in now.keys() | schema.keys() if now.get(name) != schema.get(name)}
    assert changed == {"memories_fts_update", "entities_fts_update", "memory_embedding_quarantine"}
    assert integrity(messy) == checks  # "ok", and the legacy orphans, no more


def test_blob_format_is_the_store_codec() -> None:
    text = "[0.25, -1.5, 3.0000001]"
    assert M003["text_to_blob"](text) == embedding.encode(json.loads(text))


# -- the narrowed FTS triggers ------------------------------------------------------------
FTS_QUERIES = ["coffee", "berlin OR tokyo", "ipsum", "Zürich", "東京", "memory NOT piano", "odd"]


def fts_hits(path: Path) -> dict[str, list[int]]:
    return {
        q: [
            r[0]
            for r in sql(
                path,
                "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? ORDER BY rank, rowid",
                (q,),
            )
        ]
        for q in FTS_QUERIES
    }


def fts_integrity(path: Path) -> None:
    for fts in ("memories_fts", "entities_fts"):
        sql(path, f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")


def test_fts_index_is_not_rewritten_and_search_is_unchanged(messy: Path) -> None:
    migrate_to(messy, 2)
    hits, shadow = fts_hits(messy), sql(messy, "SELECT * FROM memories_fts_data ORDER BY id")
    migrate_to(messy, 3)
    assert fts_hits(messy) == hits
    assert sql(messy, "SELECT * FROM memories_fts_data ORDER BY id") == shadow  # untouched
    fts_integrity(messy)
    migrate_to(messy, 2)
    assert fts_hits(messy) == hits
    fts_integrity(messy)


def test_narrowed_triggers_still_follow_indexed_columns_and_ids(messy: Path) -> None:
    # At 007: the update triggers are still narrowed as 003 made them, and in FTS5's
    # 'delete'-command form (the service's own form leaves old terms behind until 007).
    migrate_to(messy, 7)
    sql(messy, "UPDATE memories SET title = 'zanzibar' WHERE id = 1")
    sql(messy, "UPDATE memories SET id = 999999 WHERE id = 2")
    sql(messy, "UPDATE memories SET is_archived = 1, embedding = X'' WHERE id = 3")
    sql(messy, "UPDATE entities SET notes = 'quokka' WHERE id = 1")
    sql(messy, "UPDATE entities SET interaction_count = 5 WHERE id = 2")
    assert fts_hits(messy)  # queries still run
    assert sql(messy, "SELECT rowid FROM memories_fts WHERE memories_fts MATCH 'zanzibar'") == [
        (1,)
    ]
    content_of_2 = sql(messy, "SELECT content FROM memories WHERE id = 999999")[0][0]
    first_word = content_of_2.split()[0]
    hits = {
        r[0]
        for r in sql(
            messy, "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?", (first_word,)
        )
    }
    assert 999999 in hits and 2 not in hits
    assert sql(messy, "SELECT rowid FROM entities_fts WHERE entities_fts MATCH 'quokka'") == [(1,)]
    fts_integrity(messy)


def test_down_restores_the_original_trigger_text_exactly(messy: Path) -> None:
    migrate_to(messy, 2)
    schema = schema_objects(messy)
    migrate_to(messy, 3)
    migrate_to(messy, 2)
    assert schema_objects(messy) == schema


def test_up_refuses_a_trigger_that_reads_other_columns(messy: Path, run: Any) -> None:
    migrate_to(messy, 2)
    conn = sqlite3.connect(messy)
    conn.executescript(
        "DROP TRIGGER memories_fts_update;"
        "CREATE TRIGGER memories_fts_update AFTER UPDATE ON memories BEGIN "
        "INSERT INTO memories_fts(memories_fts, rowid, title, content, tags) "
        "VALUES ('delete', old.id, old.title, old.content, old.tags);"
        "INSERT INTO memories_fts(rowid, title, content, tags) "
        "VALUES (new.id, new.title, new.content || coalesce(new.metadata, ''), new.tags); END;"
    )
    conn.close()
    before = embeddings(messy)
    result = run("migrate", "up", database=messy)
    assert result.exit_code == 1
    assert "memories_fts_update reads column(s) metadata" in result.output
    assert embeddings(messy) == before


# -- down -----------------------------------------------------------------------------------
def test_down_gives_back_text_that_reads_as_the_same_float32s(messy: Path) -> None:
    migrate_to(messy, 2)
    original = embeddings(messy)
    migrate_to(messy, 3)
    migrate_to(messy, 2)
    restored = embeddings(messy)
    assert sql(messy, "SELECT count(*) FROM memories WHERE typeof(embedding) = 'blob'") == [(0,)]
    assert not sql(messy, "SELECT 1 FROM sqlite_master WHERE name = 'memory_embedding_quarantine'")
    for mid, old in original.items():
        new = restored[mid]
        if old is None or old in GARBAGE:
            assert new == old  # NULL stays NULL; quarantined text comes back verbatim
        elif not json.loads(old):
            assert new == "[]"
        else:
            assert np.array_equal(as_float32(new), as_float32(old))


def test_up_down_up_gives_the_same_blobs(messy: Path) -> None:
    migrate_to(messy, 3)
    first = embeddings(messy)
    migrate_to(messy, 2)
    migrate_to(messy, 3)
    assert embeddings(messy) == first


def test_down_keeps_an_embedding_written_after_up(messy: Path) -> None:
    migrate_to(messy, 2)
    garbage_id = next(mid for mid, text in embeddings(messy).items() if text == "{not json")
    migrate_to(messy, 3)
    fresh = embedding.encode([0.5, 0.25])
    sql(messy, "UPDATE memories SET embedding = ? WHERE id = ?", (fresh, garbage_id))
    migrate_to(messy, 2)
    assert embeddings(messy)[garbage_id] == "[0.5,0.25]"


def test_deleting_a_memory_drops_its_quarantined_text(messy: Path) -> None:
    migrate_to(messy, 2)
    garbage_id = next(mid for mid, text in embeddings(messy).items() if text == "{not json")
    migrate_to(messy, 3)
    db = connect(str(messy))  # foreign keys on, as memvault always runs
    try:
        db.execute("DELETE FROM memories WHERE id = ?", (garbage_id,))
    finally:
        db.close()
    left = sql(
        messy, "SELECT count(*) FROM memory_embedding_quarantine WHERE memory_id = ?", (garbage_id,)
    )
    assert left == [(0,)]
    migrate_to(messy, 2)  # and down does not trip over it
    assert garbage_id not in embeddings(messy)


def test_down_refuses_a_blob_that_is_not_float32(messy: Path, run: Any) -> None:
    migrate_to(messy, 3)
    sql(messy, "UPDATE memories SET embedding = X'010203' WHERE id = 5")
    before = embeddings(messy)
    result = run("migrate", "down", database=messy)
    assert result.exit_code == 1
    assert "memories.id 5: embedding BLOB of 3 bytes is not float32 data" in result.output
    assert embeddings(messy) == before


def test_down_falls_back_to_exact_text_when_the_short_form_does_not_read_back(
    messy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vector = np.asarray([0.1, -2.5, 1e-8], dtype="<f4")
    monkeypatch.setitem(M003["blob_to_text"].__globals__, "_reads_back_as", lambda t, v: False)
    text = M003["blob_to_text"](vector.tobytes(), 1)
    assert np.array_equal(as_float32(text), vector)
    assert "0.10000000149011612" in text  # the double nearest the float32


@settings(max_examples=200, deadline=None)
@given(
    arrays(
        np.float32,
        st.integers(0, 64),
        elements=st.floats(width=32, allow_nan=False, allow_infinity=False),
    )
)
def test_blob_to_text_reads_back_bit_for_bit(vector: np.ndarray) -> None:
    vector = vector.astype("<f4")
    text = M003["blob_to_text"](vector.tobytes(), 1)
    assert M003["text_to_blob"](text) == vector.tobytes()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(-3e38, 3e38), st.integers(-(2**60), 2**60)), max_size=40))
def test_text_to_blob_is_float32_of_the_parsed_values(values: list[float]) -> None:
    text = json.dumps(values)
    blob = M003["text_to_blob"](text)
    assert np.array_equal(np.frombuffer(blob, dtype="<f4"), np.asarray(values, dtype=np.float32))


# -- verify, progress, memory -------------------------------------------------------------
def test_verify_finds_a_text_embedding_written_later(messy: Path, run: Any) -> None:
    assert_ok(run("migrate", "to", str(BEFORE_009), database=messy))  # 009 supersedes 003
    sql(messy, "UPDATE memories SET embedding = '[1.0, 2.0]' WHERE id = 7")
    result = run("migrate", "verify", database=messy)
    assert result.exit_code == 1
    assert "1 memories still hold a text embedding (first: memories.id 7)" in result.output


def test_verify_finds_a_widened_trigger(messy: Path, run: Any) -> None:
    assert_ok(run("migrate", "to", str(BEFORE_009), database=messy))  # 009 supersedes 003
    legacy_sql = sql(messy, "SELECT sql FROM sqlite_master WHERE name = 'entities_fts_update'")
    widened = legacy_sql[0][0].replace(" OF id, name, description, notes, tags", "")
    conn = sqlite3.connect(messy)
    conn.executescript(f"DROP TRIGGER entities_fts_update; {widened};")
    conn.close()
    result = run("migrate", "verify", database=messy)
    assert result.exit_code == 1 and "entities_fts_update fires on every UPDATE" in result.output


def test_progress_counts_every_text_row_in_batches(
    messy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate_to(messy, 2)
    texts = sql(messy, "SELECT count(*) FROM memories WHERE typeof(embedding) = 'text'")[0][0]
    events: list[Event] = []
    migration = load_file(MIGRATION_FILE)
    monkeypatch.setitem(migration.up_func.__globals__, "BATCH_ROWS", 10)
    db = connect(str(messy))
    try:
        Migrator(
            db,
            [*load_migrations(BUILTIN_MIGRATIONS)[:2], migration],
            applied_by="t",
            listener=events.append,
        ).up(3)
    finally:
        db.close()
    progress = [(e.done, e.total) for e in events if e.kind == "progress"]
    assert progress[0] == (0, texts) and progress[-1] == (texts, texts)
    assert len(progress) == 1 + -(-texts // 10)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


def peak_memory_of_up(path: Path, batch_rows: int) -> int:
    migration = load_file(MIGRATION_FILE)
    migration.up_func.__globals__["BATCH_ROWS"] = batch_rows
    migrate_to(path, 2)
    db = connect(str(path))
    try:
        migrator = Migrator(
            db, [*load_migrations(BUILTIN_MIGRATIONS)[:2], migration], applied_by="t"
        )
        tracemalloc.start()
        migrator.up(3)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        db.close()


def test_memory_does_not_grow_with_the_table(tmp_path: Path) -> None:
    small = build_legacy_database(
        tmp_path / "small.db", users=1, memories_per_user=40, embedding_dim=1536, oddities=False
    )
    large = build_legacy_database(
        tmp_path / "large.db", users=1, memories_per_user=240, embedding_dim=1536, oddities=False
    )
    peak_small, peak_large = peak_memory_of_up(small, 10), peak_memory_of_up(large, 10)
    # 6x the rows (~3 MB more JSON text): the peak stays within one batch's worth of slack.
    assert peak_large < peak_small + 1_000_000, (peak_small, peak_large)


# -- size, on a v1.3.5-shaped file with 1536-dimension embeddings ----------------------------
def sdk_style_embeddings(path: Path, seed: int = 3) -> None:
    """Rewrite every embedding as the TypeScript service stored OpenAI's: a unit vector of
    float32 values (the SDK decodes base64 float32) written by JSON.stringify, which prints
    each as the shortest text of its double: ~20 characters, not the builder's 6 decimals."""
    rng = np.random.default_rng(seed)
    conn = sqlite3.connect(path)
    try:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM memories WHERE embedding IS NOT NULL AND embedding <> '[]'"
            )
        ]
        for mid in ids:
            vec = rng.standard_normal(1536).astype(np.float32)
            vec /= np.linalg.norm(vec)
            text = json.dumps(vec.astype(np.float64).tolist(), separators=(",", ":"))
            conn.execute("UPDATE memories SET embedding = ? WHERE id = ?", (text, mid))
        conn.commit()
    finally:
        conn.close()


def vacuumed_size(path: Path) -> int:
    target = path.with_suffix(".vacuumed")
    target.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute("VACUUM INTO ?", (str(target),))
    finally:
        conn.close()
    return target.stat().st_size


def size_ratio(path: Path) -> float:
    migrate_to(path, 2)
    before_size, before = vacuumed_size(path), embeddings(path)
    migrate_to(path, 3)
    after = embeddings(path)
    for mid, old in before.items():
        if isinstance(old, str) and old != "[]":
            assert np.array_equal(np.frombuffer(after[mid], dtype="<f4"), as_float32(old))
    return before_size / vacuumed_size(path)


@pytest.fixture
def sized(tmp_path: Path) -> Iterator[Path]:
    path = build_legacy_database(
        tmp_path / "sized.db",
        LegacyShape.V1_3_5,
        users=2,
        memories_per_user=150,
        embedding_dim=1536,
    )
    yield path


def test_file_is_at_least_twice_smaller_with_service_style_embeddings(sized: Path) -> None:
    sdk_style_embeddings(sized)
    ratio = size_ratio(sized)
    print(f"service-style values: {ratio:.3f}x smaller")
    assert ratio >= 2.0


def test_file_is_at_least_twice_smaller_with_the_builders_embeddings(sized: Path) -> None:
    # The builder writes full-precision unit vectors without spaces, as JSON.stringify does.
    ratio = size_ratio(sized)
    print(f"builder's values: {ratio:.3f}x smaller")
    assert ratio >= 2.0


# -- the CLI ------------------------------------------------------------------------------------
def test_cli_up_down_up_on_a_legacy_file(messy: Path, run: Any, tmp_path: Path) -> None:
    backup = tmp_path / "before.db"
    shutil.copy(messy, backup)
    up = run("migrate", "up", database=messy)
    assert_ok(up)
    assert "applied 003_embeddings_to_float32_blobs" in up.output
    assert_ok(run("migrate", "verify", database=messy))
    down = run("migrate", "to", "2", database=messy)
    assert_ok(down)
    assert "rolled back 003_embeddings_to_float32_blobs" in down.output
    assert_ok(run("migrate", "up", database=messy))
    assert_ok(run("migrate", "verify", database=messy))
    assert integrity(messy)[0] == "ok"
