"""Full-text, semantic and hybrid search: ranked, one user only, archived excluded, and any
typed text is a safe query."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvault import MemoryStore, User, ValidationError
from memvault.store.search import cosine_top_k, fts_query, reciprocal_rank_fusion

HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    "'",
    "*",
    "tea*",
    '"tea',
    'tea"',
    "NEAR(",
    "NEAR(tea coffee, 2)",
    "tea OR 1=1 --",
    "' OR '1'='1",
    "'; DROP TABLE memories; --",
    "title:tea",
    "-tea",
    "^tea",
    "(tea",
    "tea)",
    "{title content}: tea",
    "AND",
    "NOT tea",
    "tea AND",
    "\x00tea",
    "tea\x00",
    "😀 tea",
    "東京",
    "a" * 10_000,
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MemoryStore, User, User]]:
    path = tmp_path_factory.mktemp("search") / "search.db"
    with MemoryStore.open(path) as store:
        ada = store.users.create("ada@example.com")[0]
        bob = store.users.create("bob@example.com")[0]
        add = store.memories.create
        add(
            ada.id,
            title="Green tea",
            content="Ada drinks green tea every morning",
            memory_type="preference",
            tags=["tea"],
            embedding=[1.0, 0.0, 0.0],
        )
        add(
            ada.id,
            title="Travel",
            content="Ada had tea once in Tokyo (東京)",
            memory_type="personal",
            embedding=[0.0, 1.0, 0.0],
        )
        old = add(
            ada.id,
            title="Old tea habit",
            content="tea tea tea",
            memory_type="MEMORY",
            embedding=[0.9, 0.1, 0.0],
        )
        store.memories.archive(ada.id, old.id)
        add(ada.id, title="Coffee", content="No coffee after noon", memory_type="preference")
        add(
            bob.id,
            title="Bob's tea",
            content="Bob drinks tea tea tea tea",
            memory_type="MEMORY",
            embedding=[1.0, 0.0, 0.0],
        )
        yield store, ada, bob


def test_fts_query_quotes_every_word() -> None:
    assert fts_query('green "tea* NEAR( OR 1=1 --') == '"green" "tea" "NEAR" "OR" "1" "1"'
    assert fts_query("  ") is None and fts_query("*") is None and fts_query("--") is None
    assert fts_query("Zürich café") == '"Zürich" "café"'


@given(st.text(max_size=80))
def test_fts_query_output_is_only_quoted_words(text: str) -> None:
    query = fts_query(text)
    if query is not None:
        for token in query.split(" "):
            assert token.startswith('"') and token.endswith('"') and '"' not in token[1:-1]


def test_search_ranks_only_the_callers_active_matches(seeded: tuple[MemoryStore, User, User]):
    store, ada, bob = seeded
    hits = store.memories.search(ada.id, "tea")
    assert [h.memory.title for h in hits] == ["Green tea", "Travel"]  # title+tag beat content
    assert all(h.memory.user_id == ada.id and not h.memory.is_archived for h in hits)
    assert hits[0].score > hits[1].score
    assert [h.memory.title for h in store.memories.search(bob.id, "tea")] == ["Bob's tea"]
    assert [h.memory.title for h in store.memories.search(ada.id, "GREEN  Tea!")] == ["Green tea"]
    assert [h.memory.title for h in store.memories.search(ada.id, "東京")] == ["Travel"]
    assert store.memories.search(ada.id, "tea", limit=1)[0].memory.title == "Green tea"
    assert store.memories.search("someone-else", "tea") == []


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_a_safe_query(seeded: tuple[MemoryStore, User, User], text: str) -> None:
    store, ada, _ = seeded
    hits = store.memories.search(ada.id, text)
    assert all(h.memory.user_id == ada.id and not h.memory.is_archived for h in hits)
    assert store.entities.search(ada.id, text) == []
    assert store.db.row_count("memories") == 5  # nothing was injected


def test_hostile_text_still_finds_its_words(seeded: tuple[MemoryStore, User, User]) -> None:
    store, ada, _ = seeded
    for text in ('"tea', "tea*", "(green) tea (", "green:tea", "-green +tea", "'green' --"):
        assert "Green tea" in [h.memory.title for h in store.memories.search(ada.id, text)], text


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60))
def test_any_text_searches_without_error(seeded: tuple[MemoryStore, User, User], text: str):
    store, ada, _ = seeded
    for hit in store.memories.search(ada.id, text):
        assert hit.memory.user_id == ada.id


def test_similar_ranks_nearest_first_skipping_missing_and_archived(
    seeded: tuple[MemoryStore, User, User],
) -> None:
    store, ada, bob = seeded
    hits = store.memories.similar(ada.id, [0.95, 0.05, 0.0], limit=10)
    assert [h.memory.title for h in hits] == ["Green tea", "Travel"]  # no archived, no Coffee
    assert hits[0].score == pytest.approx(0.9986, abs=1e-3)
    assert [h.memory.title for h in store.memories.similar(bob.id, [1, 0, 0])] == ["Bob's tea"]
    assert store.memories.similar(ada.id, [1.0, 0.0]) == []  # no vectors of that size
    assert store.memories.similar(ada.id, [1.0, 0.0, 0.0], limit=1)[0].memory.title == "Green tea"
    with pytest.raises(ValidationError, match="query vector"):
        store.memories.similar(ada.id, [])
    with pytest.raises(ValidationError, match="finite"):
        store.memories.similar(ada.id, [float("inf"), 0, 0])


def test_hybrid_fuses_text_and_vector_ranks(seeded: tuple[MemoryStore, User, User]) -> None:
    store, ada, _ = seeded
    # Text ranks Green tea 1st and Travel 2nd; the vector ranks Travel 1st and Green tea 2nd:
    # equal fused scores, the lower id (Green tea) first.
    hits = store.memories.hybrid(ada.id, "tea", [0.0, 1.0, 0.0])
    assert [h.memory.title for h in hits] == ["Green tea", "Travel"]
    assert hits[0].score == pytest.approx(1 / 61 + 1 / 62)
    # Coffee has no embedding but is the only text match; Travel is the nearest vector.
    mixed = store.memories.hybrid(ada.id, "coffee", [0.0, 1.0, 0.0], limit=5)
    assert [h.memory.title for h in mixed] == ["Travel", "Coffee", "Green tea"]
    assert all(h.memory.user_id == ada.id for h in mixed)


def test_reciprocal_rank_fusion_prefers_agreement() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [2, 4]])
    assert [item for item, _ in fused] == [2, 1, 4, 3]


def test_cosine_top_k_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(500, 16)).astype(np.float32)
    matrix[7] = 0.0  # a zero vector is never returned
    query = rng.normal(size=16).astype(np.float32)
    ids = list(range(1000, 1500))
    got = cosine_top_k(query, ids, matrix, 10)
    norms = np.linalg.norm(matrix, axis=1)
    sims = [
        (ids[i], float(matrix[i] @ query / (norms[i] * np.linalg.norm(query))))
        for i in range(500)
        if norms[i] > 0
    ]
    expected = sorted(sims, key=lambda p: -p[1])[:10]
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert cosine_top_k(np.zeros(16, np.float32), ids, matrix, 5) == []


def test_similar_reads_legacy_json_embeddings(tmp_path: Path) -> None:
    """A database where migration 003 has not run yet: embeddings are JSON text."""
    path = tmp_path / "legacy.db"
    with MemoryStore.open(path) as store:
        ada = store.users.create("ada@example.com")[0]
        a = store.memories.create(
            ada.id, title="a", content="x", memory_type="MEMORY", embedding=[1.0, 0.0]
        )
        b = store.memories.create(
            ada.id, title="b", content="x", memory_type="MEMORY", embedding=[0.0, 1.0]
        )
    conn = sqlite3.connect(path)
    conn.execute("UPDATE memories SET embedding = '[0.0, 1.0]' WHERE id = ?", (b.id,))
    conn.execute("UPDATE memories SET embedding = '[]' WHERE id = ?", (a.id,))
    conn.commit()
    conn.close()
    with MemoryStore.open(path) as store:
        hits = store.memories.similar(ada.id, [0.1, 1.0])
        assert [h.memory.id for h in hits] == [b.id]
        assert hits[0].memory.embedding == [0.0, 1.0]
        with pytest.raises(ValidationError, match="3 dimensions"):
            store.memories.create(
                ada.id, title="c", content="x", memory_type="MEMORY", embedding=[1.0, 2.0, 3.0]
            )


def test_entity_search_is_per_user(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path / "e.db") as store:
        ada = store.users.create("ada@example.com")[0]
        bob = store.users.create("bob@example.com")[0]
        store.entities.create(ada.id, name="Acme", entity_type="organization", tags=["client"])
        store.entities.create(bob.id, name="Acme", entity_type="organization")
        hits = store.entities.search(ada.id, "acme")
        assert [h.entity.user_id for h in hits] == [ada.id]
        assert [h.entity.name for h in store.entities.search(ada.id, "client")] == ["Acme"]


def test_similar_never_serves_stale_vectors(tmp_path: Path) -> None:
    """The vector cache is dropped by any write: the store's own, a raw statement on the same
    connection, or a commit from another connection."""
    path = tmp_path / "cache.db"
    with MemoryStore.open(path) as store:
        ada = store.users.create("ada@example.com")[0]
        a = store.memories.create(
            ada.id, title="a", content="x", memory_type="MEMORY", embedding=[1.0, 0.0]
        )
        assert [h.memory.id for h in store.memories.similar(ada.id, [0.0, 1.0])] == [a.id]
        b = store.memories.create(
            ada.id, title="b", content="x", memory_type="MEMORY", embedding=[0.0, 1.0]
        )
        assert store.memories.similar(ada.id, [0.0, 1.0])[0].memory.id == b.id
        store.memories.archive(ada.id, b.id)
        assert [h.memory.id for h in store.memories.similar(ada.id, [0.0, 1.0])] == [a.id]
        store.db.execute("UPDATE memories SET is_archived = 0 WHERE id = ?", (b.id,))
        assert store.memories.similar(ada.id, [0.0, 1.0])[0].memory.id == b.id
        other = sqlite3.connect(path)
        other.execute("UPDATE memories SET embedding = NULL WHERE id = ?", (b.id,))
        other.commit()
        other.close()
        assert [h.memory.id for h in store.memories.similar(ada.id, [0.0, 1.0])] == [a.id]


def test_similar_is_the_same_with_and_without_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "same.db"
    rng = np.random.default_rng(5)
    with MemoryStore.open(path) as store:
        ada = store.users.create("ada@example.com")[0]
        store.memories.create_many(
            ada.id,
            [
                {
                    "title": f"m{i}",
                    "content": "x",
                    "memory_type": "MEMORY",
                    "embedding": rng.normal(size=8).tolist(),
                }
                for i in range(200)
            ],
        )
        query = rng.normal(size=8).tolist()
        cached = [(h.memory.id, h.score) for h in store.memories.similar(ada.id, query, 15)]
        again = [(h.memory.id, h.score) for h in store.memories.similar(ada.id, query, 15)]
    with MemoryStore.open(path, vector_cache_mb=0) as uncached_store:
        uncached = [
            (h.memory.id, h.score) for h in uncached_store.memories.similar(ada.id, query, 15)
        ]
    assert cached == again == uncached and len(cached) == 15
