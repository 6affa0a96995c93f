"""Repositories on a real SQLite file: users, entities, memories, interactions, usage."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memvault import MemoryStore, NotFoundError, User, ValidationError


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    with MemoryStore.open(tmp_path / "store.db") as opened:
        yield opened


@pytest.fixture
def ada(store: MemoryStore) -> User:
    return store.users.create("ada@example.com", name="Ada")[0]


@pytest.fixture
def bob(store: MemoryStore) -> User:
    return store.users.create("bob@example.com", name="Bob")[0]


def raw(store: MemoryStore, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Look at the file with a separate connection (what another process would see)."""
    conn = sqlite3.connect(store.db.url.path)  # type: ignore[arg-type]
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# -- users ----------------------------------------------------------------------------------
def test_user_api_key_is_stored_only_as_its_hash(store: MemoryStore) -> None:
    user, key = store.users.create("ada@example.com")
    [(stored,)] = raw(store, "SELECT api_key_hash FROM users WHERE id = ?", user.id)
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(raw(store, "SELECT * FROM users"))
    assert store.users.get_by_api_key(key) == user
    assert store.users.get_by_api_key(key + "x") is None
    assert "apiKeyHash" not in user.model_dump(by_alias=True)


def test_user_accepts_a_given_api_key_and_rotates(store: MemoryStore) -> None:
    user, key = store.users.create("ada@example.com", api_key="legacy-key-123")
    assert key == "legacy-key-123"
    assert store.users.get_by_api_key("legacy-key-123") == user
    new_key = store.users.rotate_api_key(user.id)
    assert new_key and store.users.get_by_api_key(new_key) is not None
    assert store.users.get_by_api_key("legacy-key-123") is None


def test_inactive_user_cannot_use_their_key(store: MemoryStore) -> None:
    user, key = store.users.create("ada@example.com")
    store.users.update(user.id, is_active=False)
    assert store.users.get_by_api_key(key) is None
    assert store.users.get(user.id).is_active is False  # type: ignore[union-attr]


def test_user_lookups_and_update(store: MemoryStore, ada: User) -> None:
    assert store.users.get_by_email("ada@example.com") == ada
    assert store.users.get_by_email("nobody@example.com") is None
    updated = store.users.update(ada.id, name="Ada Lovelace", metadata={"plan": "pro"})
    assert updated is not None
    assert (updated.name, updated.metadata, updated.email) == (
        "Ada Lovelace",
        {"plan": "pro"},
        ada.email,
    )
    assert updated.updated_at > ada.updated_at
    assert store.users.update("missing", name="x") is None


def test_user_errors_are_clear(store: MemoryStore, ada: User) -> None:
    with pytest.raises(ValidationError, match="email 'ada@example.com' is already in use"):
        store.users.create("ada@example.com")
    with pytest.raises(ValidationError, match="email"):
        store.users.create("not-an-email")
    with pytest.raises(ValidationError, match="unknown field 'colour'"):
        store.users.update(ada.id, colour="red")
    with pytest.raises(ValidationError, match="email cannot be null"):
        store.users.update(ada.id, email=None)


def test_user_delete_cascades_to_everything_they_own(
    store: MemoryStore, ada: User, bob: User
) -> None:
    entity = store.entities.create(ada.id, name="Grace", entity_type="person")
    store.memories.create(
        ada.id, title="Tea", content="green tea", memory_type="preference", entity_ids=[entity.id]
    )
    store.memories.create(bob.id, title="Tea", content="black tea", memory_type="preference")
    store.interactions.add(ada.id, user_prompt="hi", assistant_response="hello")
    store.usage.record(
        ada.id, api_provider="openai", model="m", cost_usd=0.1, operation_type="chat"
    )
    assert store.users.delete(ada.id) is True
    assert store.users.delete(ada.id) is False
    for table in ("entities", "memories", "interactions", "api_usage_tracking"):
        assert raw(store, f"SELECT count(*) FROM {table} WHERE user_id = ?", ada.id) == [(0,)]
    # The FTS index forgot Ada's rows (triggers fired on cascade): only Bob's tea is found.
    assert raw(store, "SELECT rowid FROM memories_fts WHERE memories_fts MATCH 'tea'") == [(2,)]
    assert [h.memory.user_id for h in store.memories.search(bob.id, "tea")] == [bob.id]


# -- entities -------------------------------------------------------------------------------
def test_entities_newest_first_and_paged(store: MemoryStore, ada: User) -> None:
    made = [store.entities.create(ada.id, name=f"E{i}", entity_type="concept") for i in range(5)]
    listed = store.entities.list(ada.id)
    assert [e.id for e in listed] == [e.id for e in reversed(made)]
    assert [e.id for e in store.entities.list(ada.id, limit=2, offset=1)] == [
        made[3].id,
        made[2].id,
    ]


def test_entity_search_update_interaction_delete(store: MemoryStore, ada: User) -> None:
    grace = store.entities.create(
        ada.id,
        name="Grace Hopper",
        entity_type="person",
        person_type="colleague",
        tags=["navy", "cobol"],
    )
    store.entities.create(ada.id, name="Alan", entity_type="person", notes="met Grace once")
    hits = store.entities.search(ada.id, "grace")
    assert [h.entity.name for h in hits] == ["Grace Hopper", "Alan"]  # name outweighs notes
    assert [h.entity.id for h in store.entities.search(ada.id, "cobol")] == [grace.id]
    changed = store.entities.update(ada.id, grace.id, description="Rear admiral", importance=4)
    assert changed is not None and (changed.description, changed.importance) == ("Rear admiral", 4)
    assert [h.entity.id for h in store.entities.search(ada.id, "admiral")] == [grace.id]
    once = store.entities.record_interaction(ada.id, grace.id)
    twice = store.entities.record_interaction(ada.id, grace.id)
    assert once is not None and twice is not None
    assert (once.interaction_count, twice.interaction_count) == (1, 2)
    assert twice.last_interaction is not None and twice.last_interaction > once.last_interaction  # type: ignore[operator]
    assert store.entities.delete(ada.id, grace.id) is True
    assert store.entities.get(ada.id, grace.id) is None
    assert store.entities.search(ada.id, "cobol") == []


def test_entity_validation(store: MemoryStore, ada: User) -> None:
    with pytest.raises(ValidationError, match="entity_type"):
        store.entities.create(ada.id, name="X", entity_type="planet")
    with pytest.raises(ValidationError, match="person_type"):
        store.entities.create(ada.id, name="X", entity_type="person", person_type="enemy")
    with pytest.raises(NotFoundError, match="user 'ghost' does not exist"):
        store.entities.create("ghost", name="X", entity_type="person")


# -- memories -------------------------------------------------------------------------------
def test_memory_create_get_camel_case(store: MemoryStore, ada: User) -> None:
    memory = store.memories.create(
        ada.id,
        title="Tea",
        content="Prefers green tea",
        memory_type="preference",
        importance=0.9,
        tags=["drinks"],
        embedding=[0.5, 0.25],
        metadata={"source": "chat"},
    )
    assert store.memories.get(ada.id, memory.id) == memory
    dumped = memory.model_dump(mode="json", by_alias=True)
    assert {"userId", "memoryType", "isArchived", "entityIds", "createdAt", "updatedAt"} <= set(
        dumped
    )
    assert dumped["memoryType"] == "preference" and dumped["embedding"] == [0.5, 0.25]
    assert memory.created_at.endswith("Z") and len(memory.created_at) == 24


def test_memory_embeddings_are_float32_blobs(store: MemoryStore, ada: User) -> None:
    memory = store.memories.create(
        ada.id, title="t", content="c", memory_type="MEMORY", embedding=[1.0, -2.5, 3.25]
    )
    [(kind, size)] = raw(
        store, "SELECT typeof(embedding), length(embedding) FROM memories WHERE id = ?", memory.id
    )
    assert (kind, size) == ("blob", 12)


def test_memory_validation_errors_name_the_field(store: MemoryStore, ada: User) -> None:
    base = {"title": "t", "content": "c", "memory_type": "MEMORY"}
    cases = [
        ({"memory_type": "dream"}, "memory_type"),
        ({"importance": -0.1}, "importance"),
        ({"importance": 1.5}, "importance"),
        ({"importance": 2}, "importance"),
        ({"importance": float("nan")}, "importance"),
        ({"embedding": []}, "embedding"),
        ({"embedding": [1.0, float("nan")]}, "embedding"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ]
    for override, message in cases:
        with pytest.raises(ValidationError, match=message):
            store.memories.create(ada.id, **(base | override))
    with pytest.raises(ValidationError, match="title is required"):
        store.memories.create(ada.id, content="c", memory_type="MEMORY")
    assert store.memories.list(ada.id) == []


def test_embedding_dimension_must_match_the_users_others(
    store: MemoryStore, ada: User, bob: User
) -> None:
    first = store.memories.create(
        ada.id, title="a", content="c", memory_type="MEMORY", embedding=[1.0, 0.0, 0.0]
    )
    with pytest.raises(
        ValidationError, match="2 dimensions but the user's other embeddings have 3"
    ):
        store.memories.create(
            ada.id, title="b", content="c", memory_type="MEMORY", embedding=[1.0, 0.0]
        )
    # Another user has their own dimension; a memory may change its own sole embedding.
    store.memories.create(bob.id, title="b", content="c", memory_type="MEMORY", embedding=[1.0])
    assert store.memories.update(ada.id, first.id, embedding=[1.0, 2.0]) is not None
    with pytest.raises(ValidationError, match="different sizes"):
        store.memories.create_many(
            ada.id,
            [
                {"title": "x", "content": "c", "memory_type": "MEMORY", "embedding": [1.0, 2.0]},
                {"title": "y", "content": "c", "memory_type": "MEMORY", "embedding": [1.0]},
            ],
        )


def test_memory_entity_links_must_be_the_users_own(
    store: MemoryStore, ada: User, bob: User
) -> None:
    bobs = store.entities.create(bob.id, name="Bob's friend", entity_type="person")
    mine = store.entities.create(ada.id, name="Mine", entity_type="person")
    with pytest.raises(ValidationError, match=f"entity_ids \\[{bobs.id}\\]"):
        store.memories.create(
            ada.id, title="t", content="c", memory_type="MEMORY", entity_ids=[mine.id, bobs.id]
        )
    ok = store.memories.create(
        ada.id, title="t", content="c", memory_type="MEMORY", entity_ids=[mine.id]
    )
    assert ok.entity_ids == [mine.id]


def test_memory_list_newest_first_without_archived(store: MemoryStore, ada: User) -> None:
    made = [
        store.memories.create(ada.id, title=f"m{i}", content="c", memory_type="MEMORY")
        for i in range(4)
    ]
    archived = store.memories.archive(ada.id, made[1].id)
    assert archived is not None and archived.is_archived
    assert [m.id for m in store.memories.list(ada.id)] == [made[3].id, made[2].id, made[0].id]
    assert [m.id for m in store.memories.list(ada.id, limit=1, offset=1)] == [made[2].id]
    restored = store.memories.archive(ada.id, made[1].id, archived=False)
    assert restored is not None and not restored.is_archived
    assert len(store.memories.list(ada.id)) == 4


def test_memory_update_and_delete(store: MemoryStore, ada: User) -> None:
    memory = store.memories.create(
        ada.id, title="Tea", content="green", memory_type="MEMORY", tags=["a"]
    )
    changed = store.memories.update(ada.id, memory.id, content="oolong", memoryType="preference")
    assert changed is not None
    assert (changed.content, changed.memory_type, changed.tags) == ("oolong", "preference", ["a"])
    assert changed.created_at == memory.created_at and changed.updated_at > memory.updated_at
    with pytest.raises(ValidationError, match="importance"):
        store.memories.update(ada.id, memory.id, importance=9)
    assert store.memories.get(ada.id, memory.id) == changed  # a rejected update changes nothing
    assert store.memories.delete(ada.id, memory.id) is True
    assert store.memories.get(ada.id, memory.id) is None
    assert store.memories.delete(ada.id, memory.id) is False


def test_create_many_is_one_transaction_with_ids_in_order(store: MemoryStore, ada: User) -> None:
    items = [
        {
            "title": f"bulk {i}",
            "content": f"row {i} kiwi",
            "memory_type": "LEARNED",
            "embedding": [float(i), 1.0],
        }
        for i in range(50)
    ]
    ids = store.memories.create_many(ada.id, items)
    assert len(ids) == 50
    for memory_id, item in zip(ids, items, strict=True):
        got = store.memories.get(ada.id, memory_id)
        assert got is not None and got.title == item["title"]
    assert len(store.memories.search(ada.id, "kiwi", limit=100)) == 50  # FTS kept in step
    bad = [*items[:3], {"title": "bad", "content": "c", "memory_type": "nope"}]
    with pytest.raises(ValidationError, match="memory #3: memory_type"):
        store.memories.create_many(ada.id, bad)
    assert raw(store, "SELECT count(*) FROM memories") == [(50,)]
    assert store.memories.create_many(ada.id, []) == []


def test_create_many_rolls_back_on_a_database_error(store: MemoryStore, ada: User) -> None:
    items = [{"title": "t", "content": "c", "memory_type": "MEMORY"}] * 3
    with pytest.raises(NotFoundError):
        store.memories.create_many("ghost", items)
    assert raw(store, "SELECT count(*) FROM memories") == [(0,)]


# -- interactions and usage -----------------------------------------------------------------
def test_interactions_by_date_range(store: MemoryStore, ada: User) -> None:
    today = datetime.now(UTC).date()
    first = store.interactions.add(
        ada.id,
        user_prompt="hi",
        assistant_response="hello",
        sentiment="positive",
        metadata={"k": 1},
    )
    second = store.interactions.add(ada.id, user_prompt="bye", assistant_response="ciao")
    listed = store.interactions.list(ada.id, today, today)
    assert [i.id for i in listed] == [second.id, first.id]
    assert listed[1].metadata == {"k": 1}
    assert store.interactions.list(ada.id, "2000-01-01", "2000-12-31") == []
    with pytest.raises(ValidationError, match="invalid start date 'yesterday'"):
        store.interactions.list(ada.id, "yesterday", today)


def test_interaction_range_is_whole_days_for_legacy_timestamps(
    store: MemoryStore, ada: User
) -> None:
    stamps = [
        "2025-10-05T23:59:59.999Z",
        "2025-10-06T00:00:00Z",
        "2025-10-06T12:00:00.000Z",
        "2025-10-07T23:59:59Z",
        "2025-10-08T00:00:00.000Z",
    ]
    conn = sqlite3.connect(store.db.url.path)  # type: ignore[arg-type]
    conn.executemany(
        "INSERT INTO interactions (user_id, user_prompt, assistant_response, created_at, "
        "updated_at) VALUES (?, ?, 'a', ?, ?)",
        [(ada.id, stamp, stamp, stamp) for stamp in stamps],
    )
    conn.commit()
    conn.close()
    listed = store.interactions.list(ada.id, "2025-10-06", "2025-10-07")
    assert [i.user_prompt for i in listed] == stamps[3:0:-1]


def test_usage_daily_and_monthly_totals(store: MemoryStore, ada: User, bob: User) -> None:
    def at(day: int, month: int = 10) -> datetime:
        return datetime(2025, month, day, 12, tzinfo=UTC)

    record = store.usage.record
    record(
        ada.id,
        at=at(1),
        api_provider="openai",
        model="gpt",
        tokens_used=100,
        cost_usd=0.5,
        operation_type="chat",
    )
    record(
        ada.id,
        at=at(1),
        api_provider="openai",
        model="gpt",
        tokens_used=50,
        cost_usd=0.25,
        operation_type="chat",
    )
    record(
        ada.id,
        at=at(2),
        api_provider="openrouter",
        model="llama",
        tokens_used=10,
        cost_usd=0.0,
        operation_type="embedding",
    )
    record(
        ada.id,
        at=at(3, 11),
        api_provider="openai",
        model="gpt",
        tokens_used=1,
        cost_usd=1.0,
        operation_type="chat",
    )
    record(
        bob.id,
        at=at(1),
        api_provider="openai",
        model="gpt",
        tokens_used=999,
        cost_usd=9.0,
        operation_type="chat",
    )
    daily = store.usage.daily_totals(ada.id, "2025-10-01", "2025-10-31")
    assert [(t.period, t.api_provider, t.model, t.requests, t.tokens_used) for t in daily] == [
        ("2025-10-01", "openai", "gpt", 2, 150),
        ("2025-10-02", "openrouter", "llama", 1, 10),
    ]
    assert daily[0].cost_usd == pytest.approx(0.75)
    monthly = store.usage.monthly_totals(ada.id, "2025-10", "2025-11")
    assert [(t.period, t.model, t.requests) for t in monthly] == [
        ("2025-10", "gpt", 2),
        ("2025-10", "llama", 1),
        ("2025-11", "gpt", 1),
    ]
    with pytest.raises(ValidationError, match="api_provider"):
        record(ada.id, api_provider="anthropic", model="m", cost_usd=0, operation_type="chat")
    with pytest.raises(ValidationError, match="invalid month '2025-13'"):
        store.usage.monthly_totals(ada.id, "2025-13", "2025-12")


def test_memory_importance_is_the_services_0_to_1_float(store: MemoryStore, ada: User) -> None:
    default = store.memories.create(ada.id, title="t", content="c", memory_type="semantic")
    assert default.importance == 0.5
    top = store.memories.create(ada.id, title="t", content="c", memory_type="MEMORY", importance=1)
    assert top.importance == 1.0 and top.problems == []
    assert top.model_dump(mode="json", by_alias=True)["importance"] == 1.0


def test_the_five_assistant_memory_types_are_valid(store: MemoryStore, ada: User) -> None:
    for kind in ("episodic", "semantic", "procedural", "working", "sensory"):
        made = store.memories.create(ada.id, title=kind, content="c", memory_type=kind)
        assert (made.memory_type, made.problems) == (kind, [])


def test_importance_and_type_outside_the_model_load_with_a_note(
    store: MemoryStore, ada: User
) -> None:
    made = store.memories.create(ada.id, title="t", content="c", memory_type="MEMORY")
    conn = sqlite3.connect(store.db.url.path)  # type: ignore[arg-type]
    conn.execute(
        "UPDATE memories SET importance = 3, memory_type = 'dream' WHERE id = ?", (made.id,)
    )
    conn.commit()
    conn.close()
    loaded = store.memories.get(ada.id, made.id)
    assert loaded is not None and (loaded.importance, loaded.memory_type) == (3, "dream")
    assert loaded.problems == [
        "memory_type: unknown value 'dream'",
        "importance: 3 is outside 0 to 1",
    ]
