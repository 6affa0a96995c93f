"""The tenant search index (migration 009, memvault.store.search_index): results hold only the
tenant's rows, ranked as BM25 over the tenant's rows says, any writer's change is seen, and
`verify` / `db check` / `schema review` notice an index that fell out of step."""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import subprocess
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import schema_objects
from memvault import MemoryStore
from memvault.cli.app import cli
from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect
from memvault.migrations import Migrator, load_migrations
from memvault.store import search_index

MIGRATIONS = load_migrations(BUILTIN_MIGRATIONS)
M009 = next(m for m in MIGRATIONS if m.version == 9)
VOCAB = ["tea", "green", "coffee", "black", "morning", "walk", "rain", "book"]
WEIGHTS = {"title": 3.0, "content": 1.0, "tags": 2.0}


def migration_module():  # the loaded 009 module, for its word rules
    import importlib.util

    spec = importlib.util.spec_from_file_location("m009", M009.path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryStore]:
    with MemoryStore.open(tmp_path_factory.mktemp("idx") / "idx.db") as s:
        yield s


# -- word rules --------------------------------------------------------------------------------
@given(st.text(max_size=200), st.integers(min_value=1, max_value=10**6))
def test_store_and_migration_make_the_same_tokens(text: str, tenant: int) -> None:
    assert migration_module().indexed_text(tenant, text) == search_index.indexed_text(tenant, text)


@given(st.text(max_size=300), st.integers(min_value=1, max_value=10**6))
def test_match_expression_is_only_quoted_tenant_words(text: str, tenant: int) -> None:
    query = search_index.match_expression(tenant, text)
    if query is None:
        assert search_index.words(text) == []
        return
    for phrase in re.findall(r'"([^"]*)"', query):
        assert phrase.startswith(f"{tenant}x") and phrase[len(f"{tenant}x") :].isalnum()
    assert re.fullmatch(r'("[^"\s]+")( "[^"\s]+")*', query)


# -- BM25 against a reference computed from the tenant's own rows --------------------------------
def reference_scores(
    docs: dict[int, dict[str, str]], query: list[str], total_rows: int, avgdl: float
) -> dict[int, float]:
    """FTS5's bm25 (k1 1.2, b 0.75) from the tenant's rows: term counts, document frequencies
    and lengths are the tenant's own; the row count and average length are the index's (the
    two documented shared statistics)."""
    k1, b = 1.2, 0.75
    words = {i: {c: search_index.words(t) for c, t in d.items()} for i, d in docs.items()}
    matching = [
        i for i, w in words.items() if all(any(q in ws for ws in w.values()) for q in query)
    ]
    scores = {}
    for i in matching:
        length = sum(len(ws) for ws in words[i].values())
        score = 0.0
        for q in query:
            hits = sum(1 for w in words.values() if any(q in ws for ws in w.values()))
            idf = math.log((total_rows - hits + 0.5) / (hits + 0.5))
            idf = idf if idf > 0 else 1e-6
            freq = sum(WEIGHTS[c] * Counter(ws)[q] for c, ws in words[i].items())
            score += idf * freq * (k1 + 1) / (freq + k1 * (1 - b + b * length / avgdl))
        scores[i] = score
    return scores


def shared_statistics(store: MemoryStore) -> tuple[int, float]:
    rows = store.db.query("SELECT title, content, tags FROM memory_search")
    tokens = sum(len((r[0] + " " + r[1] + " " + r[2]).split()) for r in rows)
    return len(rows), tokens / len(rows)


texts = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8).map(" ".join)
memory = st.fixed_dictionaries(
    {"title": texts, "content": texts, "tags": st.lists(st.sampled_from(VOCAB), max_size=2)}
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    mine=st.lists(memory, min_size=1, max_size=15),
    theirs=st.lists(memory, max_size=15),
    query=st.lists(st.sampled_from(VOCAB), min_size=1, max_size=2),
)
def test_top_10_is_the_tenants_bm25_over_its_own_rows(
    store: MemoryStore, mine: list[dict], theirs: list[dict], query: list[str]
) -> None:
    me = store.users.create(f"me-{len(store.users.list(limit=10_000))}@x.org")[0]
    other = store.users.create(f"other-{len(store.users.list(limit=10_000))}@x.org")[0]
    docs = {}
    for m in mine:
        created = store.memories.create(me.id, memory_type="MEMORY", **m)
        docs[created.id] = {
            "title": m["title"],
            "content": m["content"],
            "tags": json.dumps(m["tags"]),
        }
    for m in theirs:  # the same words, another tenant
        store.memories.create(other.id, memory_type="MEMORY", **m)
    hits = store.memories.search(me.id, " ".join(query), limit=10)
    assert all(h.memory.user_id == me.id for h in hits)
    expected = reference_scores(docs, query, *shared_statistics(store))
    assert len(hits) == min(10, len(expected))
    for hit in hits:
        assert hit.score == pytest.approx(expected[hit.memory.id], rel=1e-9, abs=1e-12)
    returned = {h.memory.id for h in hits}
    if hits:  # nothing left out scores above the last hit
        assert all(
            s <= hits[-1].score * (1 + 1e-9) + 1e-12
            for i, s in expected.items()
            if i not in returned
        )


def test_entities_are_searched_per_tenant_only(store: MemoryStore) -> None:
    ada = store.users.create("ada-ent@x.org")[0]
    bob = store.users.create("bob-ent@x.org")[0]
    store.entities.create(ada.id, name="Acme", entity_type="organization", description="tea client")
    store.entities.create(bob.id, name="Acme", entity_type="organization", description="tea")
    assert [h.entity.user_id for h in store.entities.search(ada.id, "acme tea")] == [ada.id]
    assert [h.entity.user_id for h in store.entities.search(bob.id, "Acmé")] == [bob.id]
    assert store.entities.search(ada.id, '"12x" OR *') == []


# -- any writer ----------------------------------------------------------------------------------
def test_plain_sqlite_writes_are_seen_by_the_next_search(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with MemoryStore.open(path) as store:
        ada = store.users.create("ada@x.org")[0]
        kept = store.memories.create(ada.id, title="Tea", content="green tea", memory_type="MEMORY")
        outside = sqlite3.connect(path)  # another program: no memvault, autocommit
        outside.execute("UPDATE memories SET content = 'black coffee' WHERE id = ?", (kept.id,))
        outside.execute(
            "INSERT INTO memories (user_id, title, content, memory_type, created_at, updated_at) "
            "VALUES (?, 'Rain', 'walk in the rain', 'semantic', 'x', 'x')",
            (ada.id,),
        )
        outside.commit()
        assert store.memories.search(ada.id, "green") == []
        assert [h.memory.title for h in store.memories.search(ada.id, "coffee")] == ["Tea"]
        assert [h.memory.title for h in store.memories.search(ada.id, "rain")] == ["Rain"]
        outside.execute("UPDATE memories SET is_archived = 1 WHERE title = 'Rain'")
        outside.execute("DELETE FROM memories WHERE id = ?", (kept.id,))
        outside.commit()
        outside.close()
        assert store.memories.search(ada.id, "rain") == store.memories.search(ada.id, "tea") == []
        assert store.db.scalar("SELECT count(*) FROM search_queue") == 0


def test_a_read_only_search_with_queued_changes_writes_nothing_and_says_so(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ro.db"
    with MemoryStore.open(path) as store:
        ada = store.users.create("ada@x.org")[0]
        store.memories.create(ada.id, title="Tea", content="green tea", memory_type="MEMORY")
    outside = sqlite3.connect(path)  # another program changes a row: only the queue knows
    outside.execute("UPDATE memories SET content = 'black coffee'")
    outside.commit()
    outside.close()
    dump = "\n".join(sqlite3.connect(path).iterdump())
    with MemoryStore.open(path, read_only=True) as store:
        store.memories.search(ada.id, "green")  # the index as it is: no drain, no error
        assert store.search_index.searched_with_pending
    result = CliRunner().invoke(cli, ["-d", str(path), "memory", "search", "-u", ada.id, "tea"])
    assert result.exit_code == 0, result.output
    assert "not in the search index yet" in result.output
    assert "\n".join(sqlite3.connect(path).iterdump()) == dump
    with MemoryStore.open(path) as store:  # a writable store drains before it searches
        assert [h.memory.title for h in store.memories.search(ada.id, "coffee")] == ["Tea"]
        assert not store.search_index.searched_with_pending


def test_replace_and_key_lookalike_words_stay_with_their_tenant(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with MemoryStore.open(path) as store:
        users = [store.users.create(f"u{i}@x.org")[0] for i in range(12)]
        one, twelve = users[0], users[11]
        store.memories.create(one.id, title="2xtea", content="x", memory_type="MEMORY")
        for user in users[1:11]:  # keys are given in order of first indexed row: 2 .. 11
            store.memories.create(user.id, title="filler", content="x", memory_type="MEMORY")
        store.memories.create(twelve.id, title="xtea", content="tea", memory_type="MEMORY")
        keys = dict(store.db.query("SELECT owner, tenant FROM search_tenants"))
        assert (keys[one.id], keys[twelve.id]) == (1, 12)  # "1x2xtea" against "12xxtea"
        assert [h.memory.user_id for h in store.memories.search(one.id, "2xtea")] == [one.id]
        assert store.memories.search(one.id, "xtea") == []
        assert [h.memory.title for h in store.memories.search(twelve.id, "xtea")] == ["xtea"]
        outside = sqlite3.connect(path)  # replaces row 2 (users[1]'s) by one of twelve's
        outside.execute(
            "INSERT OR REPLACE INTO memories (id, user_id, title, content, memory_type, "
            "created_at, updated_at) VALUES (2, ?, 'yak', 'hair', 'MEMORY', 'x', 'x')",
            (twelve.id,),
        )
        outside.commit()
        outside.close()
        assert [h.memory.id for h in store.memories.search(twelve.id, "yak")] == [2]
        assert store.memories.search(users[1].id, "filler") == []  # row 2 was users[1]'s


def test_a_legacy_file_is_indexed_and_the_service_writing_again_is_seen(legacy_v1: Path) -> None:
    """Adopt a legacy-shaped file, migrate, then re-create the service's FTS table and insert
    trigger (IF NOT EXISTS, as its start-up does on a schema_version 1 file) and write
    through them with plain sqlite3 (the real service: see the test below)."""
    with MemoryStore.open(legacy_v1) as store:
        user = store.db.scalar("SELECT user_id FROM memories WHERE user_id IS NOT NULL LIMIT 1")
        first = store.db.query(
            "SELECT id, title FROM memories WHERE user_id = ? AND is_archived = 0", (user,)
        )[0]
        word = search_index.words(first["title"])[0]
        assert first["id"] in [h.memory.id for h in store.memories.search(user, word, limit=1000)]
    service = sqlite3.connect(legacy_v1)
    service.executescript(  # the service's start-up: IF NOT EXISTS, its (correct) insert trigger
        "CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(title, content, tags, "
        "content='memories', content_rowid='id');"
        "CREATE TRIGGER IF NOT EXISTS memories_fts_insert AFTER INSERT ON memories BEGIN "
        "INSERT INTO memories_fts(rowid, title, content, tags) "
        "VALUES (new.id, new.title, new.content, new.tags); END;"
    )
    new_id = service.execute(
        "INSERT INTO memories (user_id, title, content, memory_type, created_at, updated_at) "
        "VALUES (?, 'zebra crossing', 'stripes', 'semantic', 'x', 'x')",
        (user,),
    ).lastrowid
    service.execute("UPDATE memories SET title = 'yak shaving' WHERE id = ?", (first["id"],))
    service.commit()
    service.close()
    with MemoryStore.open(legacy_v1) as store:
        assert [h.memory.id for h in store.memories.search(user, "zebra")] == [new_id]
        assert [h.memory.id for h in store.memories.search(user, "yak")] == [first["id"]]


# -- the migration -------------------------------------------------------------------------------
def migrate(path: Path, target: int | None = None, progress: list | None = None) -> None:
    db = connect(str(path))
    try:
        listener = None
        if progress is not None:
            listener = lambda e: progress.append(e) if getattr(e, "total", None) else None  # noqa: E731
        Migrator(db, MIGRATIONS, applied_by="t", listener=listener).to(
            target if target is not None else max(m.version for m in MIGRATIONS)
        )
    finally:
        db.close()


def test_up_builds_the_index_and_down_gives_back_the_services_tables(legacy_v1: Path) -> None:
    migrate(legacy_v1, 6)
    before = schema_objects(legacy_v1)
    conn = sqlite3.connect(legacy_v1)
    old_hits = conn.execute(
        "SELECT rowid FROM memories_fts WHERE memories_fts MATCH 'tea' ORDER BY rowid"
    ).fetchall()
    conn.close()
    migrate(legacy_v1)
    after = schema_objects(legacy_v1)
    assert "memories_fts" not in after and "memory_search" in after and "entity_search" in after
    conn = sqlite3.connect(legacy_v1)
    searchable = conn.execute(
        "SELECT count(*) FROM memories WHERE user_id IS NOT NULL AND is_archived = 0"
    ).fetchone()[0]
    assert conn.execute("SELECT count(*) FROM memory_search").fetchone()[0] == searchable
    conn.close()
    migrate(legacy_v1, 6)
    # The service's tables and triggers are back (in the correct 'delete'-command form that
    # migrations 001 and 003 write, whatever spelling the service had used).
    assert set(schema_objects(legacy_v1)) == set(before)
    conn = sqlite3.connect(legacy_v1)
    conn.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
    assert (
        conn.execute(
            "SELECT rowid FROM memories_fts WHERE memories_fts MATCH 'tea' ORDER BY rowid"
        ).fetchall()
        == old_hits
    )
    conn.close()


def verify_009(path: Path) -> str | None:
    db = connect(str(path))
    try:
        from memvault.migrations.migration import MigrationContext

        return M009.check(MigrationContext(db, M009))
    finally:
        db.close()


@pytest.mark.parametrize(
    "damage",
    [
        "DROP TRIGGER memory_search_queue_update",
        "DELETE FROM memory_search WHERE rowid = (SELECT min(rowid) FROM memory_search)",
        "UPDATE memory_search SET content = '1xwrong' "
        "WHERE rowid = (SELECT max(rowid) FROM memory_search)",
        "INSERT INTO memory_search(rowid, title, content, tags) VALUES (999999, '1xghost', '', '')",
    ],
)
def test_verify_db_check_and_review_report_a_stale_index(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "d.db"
    with MemoryStore.open(path) as store:
        ada = store.users.create("ada@x.org")[0]
        for i in range(3):
            store.memories.create(
                ada.id, title=f"Tea {i}", content="green tea", memory_type="MEMORY"
            )
    assert verify_009(path) is None
    conn = sqlite3.connect(path)
    conn.execute(damage)
    if "DROP TRIGGER" in damage:  # a write nobody queues any more
        conn.execute("UPDATE memories SET content = 'coffee' WHERE id = 1")
    conn.commit()
    conn.close()
    problem = verify_009(path)
    assert problem is not None and ("stale" in problem or "missing" in problem), problem
    runner = CliRunner()
    check = runner.invoke(cli, ["-d", str(path), "db", "check"])
    assert check.exit_code == 1 and "009" in check.output, check.output
    review = json.loads(runner.invoke(cli, ["-d", str(path), "schema", "review", "--json"]).output)
    assert any(f.startswith("migration 009") for f in review["verify_failures"])
    if "DROP TRIGGER" not in damage:  # a lost trigger needs 009 re-applied, not a reindex
        assert runner.invoke(cli, ["-d", str(path), "db", "reindex"]).exit_code == 0
        assert verify_009(path) is None
        assert runner.invoke(cli, ["-d", str(path), "db", "check"]).exit_code == 0


def test_queued_changes_are_pending_not_stale(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with MemoryStore.open(path) as store:
        ada = store.users.create("ada@x.org")[0]
        store.memories.create(ada.id, title="Tea", content="green tea", memory_type="MEMORY")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE memories SET content = 'coffee'")
    conn.commit()
    conn.close()
    assert verify_009(path) is None  # queued: the next search drains it


def test_down_restores_exactly_what_001_and_003_made(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    migrate(path, 6)
    before = schema_objects(path)
    migrate(path)
    migrate(path, 6)
    assert schema_objects(path) == before


def test_up_reports_progress_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "many.db"
    migrate(path, 6)
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO users (id, email, created_at, updated_at) VALUES ('u', 'u@x', 'x', 'x')"
    )
    conn.executemany(
        "INSERT INTO memories (user_id, title, content, memory_type, created_at, updated_at) "
        "VALUES ('u', ?, 'tea', 'MEMORY', 'x', 'x')",
        [(f"m{i}",) for i in range(2500)],
    )
    conn.commit()
    conn.close()
    events: list = []
    migrate(path, 9, events)
    done = [(e.done, e.total) for e in events if getattr(e, "total", 0) == 2500]
    assert done[0] == (0, 2500) and done[-1] == (2500, 2500) and len(done) == 4  # 1000 a batch


def peak_memory_of_009(tmp_path: Path, rows: int) -> int:
    path = tmp_path / f"flat-{rows}.db"
    migrate(path, 6)
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO users (id, email, created_at, updated_at) VALUES ('u', 'u@x', 'x', 'x')"
    )
    words = " ".join(VOCAB * 3)
    conn.executemany(
        "INSERT INTO memories (user_id, title, content, memory_type, created_at, updated_at) "
        "VALUES ('u', ?, ?, 'MEMORY', 'x', 'x')",
        [(f"memory {i}", f"{words} {i}") for i in range(rows)],
    )
    conn.commit()
    conn.close()
    db = connect(str(path))
    try:
        tracemalloc.start()
        Migrator(db, MIGRATIONS, applied_by="t").up(9)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        db.close()


def test_building_the_index_keeps_memory_flat(tmp_path: Path) -> None:
    small, large = peak_memory_of_009(tmp_path, 1_000), peak_memory_of_009(tmp_path, 5_000)
    # 5x the rows (~1 MB more text, several MB as Python rows): the peak stays within one
    # batch's worth of slack.
    assert large < small + 1_000_000, (small, large)


# -- the real service writing ------------------------------------------------------------------
SERVICE = Path(os.environ.get("MEMVAULT_SERVICE_DIR", "/tmp/svc175"))
TSX = SERVICE / "node_modules" / ".bin" / "tsx"
WRITER = Path(__file__).parent / "fixtures" / "service" / "write.mts"


def service_writes(path: Path, phase: str) -> dict:
    done = subprocess.run(
        [str(TSX), str(WRITER), str(SERVICE), str(path), phase],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))


@pytest.mark.skipif(
    not TSX.exists(), reason="needs a TypeScript service checkout with node_modules"
)
@pytest.mark.parametrize("made_by", ["service", "memvault"])
def test_the_real_service_writing_before_and_after_009(tmp_path: Path, made_by: str) -> None:
    """The service (v1.7.5's database layer and libsql driver) writes rows into a file it made
    (memvault then adopts and migrates it) or into one memvault made (schema_version 1, so the
    service's start-up re-creates its own memories_fts and triggers); it starts again, adds,
    updates and deletes memories with its own SQL; memvault's next search sees all of it."""
    path = tmp_path / "field.db"
    if made_by == "memvault":
        MemoryStore.open(path).close()
    seeded = service_writes(path, "seed")
    with MemoryStore.open(path) as store:
        assert [h.memory.title for h in store.memories.search("ada-0000", "tea")] == ["Green tea"]
        assert [h.memory.title for h in store.memories.search("bob-0000", "tea")] == ["Tea"]
    again = service_writes(path, "again")
    assert again["UPDATE"] == again["DELETE"] == "ok", again
    with MemoryStore.open(path) as store:
        zebra = store.memories.search("ada-0000", "zebra")
        assert [h.memory.id for h in zebra] == [int(again["created"])]
        assert [h.memory.title for h in store.memories.search("ada-0000", "yak")] == ["Yak shaving"]
        assert store.memories.search("bob-0000", "tea") == []  # the service deleted it
        assert seeded["bob"] == ["3"]
    problem = verify_009(path)  # the service writes JSON text embeddings: verify says so
    assert problem is None or "still hold a text embedding" in problem
    run_cli = CliRunner().invoke(cli, ["-d", str(path), "db", "convert-embeddings"])
    assert run_cli.exit_code == 0, run_cli.output
    assert verify_009(path) is None  # and the index is complete and fresh
