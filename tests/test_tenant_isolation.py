"""Tenant isolation as a property: over random sequences of operations by three users, nobody
reads, changes or deletes another user's rows, and every listing and search shows exactly the
caller's own rows (checked against a plain-Python model of who owns what)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)

from memvault import MemoryStore

USERS = ("user-a", "user-b", "user-c")
WORDS = ("apple", "banana", "cherry")
_TEMPLATE: dict[str, Path] = {}


def template_database() -> Path:
    """A migrated database with three users, made once and copied for every run."""
    if "path" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="memvault-tenants-"))
        path = folder / "template.db"
        with MemoryStore.open(path) as store:
            for user_id in USERS:
                store.users.create(f"{user_id}@example.com", user_id=user_id)
        _TEMPLATE["path"] = path
    return _TEMPLATE["path"]


@dataclass
class ModelMemory:
    owner: str
    title: str
    word: str
    archived: bool = False
    has_embedding: bool = False


users = st.sampled_from(USERS)
words = st.sampled_from(WORDS)


class TenantIsolation(RuleBasedStateMachine):
    memory_ids = Bundle("memory_ids")
    entity_ids = Bundle("entity_ids")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="memvault-tenant-run-"))
        shutil.copy(template_database(), self.folder / "t.db")
        self.store = MemoryStore.open(self.folder / "t.db")
        self.memories: dict[int, ModelMemory] = {}
        self.entities: dict[int, tuple[str, str]] = {}  # id -> (owner, name)

    @initialize()
    def nothing_yet(self) -> None:
        for user_id in USERS:
            assert self.store.memories.list(user_id) == []

    # -- writes by owners ---------------------------------------------------------------------
    @rule(target=memory_ids, owner=users, word=words, n=st.integers(0, 999), vec=st.booleans())
    def create_memory(self, owner: str, word: str, n: int, vec: bool) -> int:
        title = f"{word} note {n}"
        embedding = [1.0, float(n % 7), 0.5] if vec else None
        created = self.store.memories.create(
            owner, title=title, content=f"about {word}", memory_type="MEMORY", embedding=embedding
        )
        self.memories[created.id] = ModelMemory(owner, title, word, has_embedding=vec)
        return created.id

    @rule(target=memory_ids, owner=users, word=words, count=st.integers(1, 4))
    def create_many(self, owner: str, word: str, count: int):  # type: ignore[no-untyped-def]
        items = [
            {"title": f"{word} bulk {i}", "content": word, "memory_type": "LEARNED"}
            for i in range(count)
        ]
        ids = self.store.memories.create_many(owner, items)
        for memory_id, item in zip(ids, items, strict=True):
            self.memories[memory_id] = ModelMemory(owner, item["title"], word)
        return multiple(*ids)

    @rule(target=entity_ids, owner=users, word=words)
    def create_entity(self, owner: str, word: str) -> int:
        created = self.store.entities.create(owner, name=f"{word} inc", entity_type="organization")
        self.entities[created.id] = (owner, created.name)
        return created.id

    # -- anyone tries anything ----------------------------------------------------------------
    @rule(actor=users, memory_id=memory_ids)
    def get_memory(self, actor: str, memory_id: int) -> None:
        got = self.store.memories.get(actor, memory_id)
        model = self.memories.get(memory_id)
        if model is not None and model.owner == actor:
            assert got is not None and got.title == model.title
        else:
            assert got is None

    @rule(actor=users, memory_id=memory_ids, n=st.integers(0, 999))
    def update_memory(self, actor: str, memory_id: int, n: int) -> None:
        model = self.memories.get(memory_id)
        new_title = f"{model.word if model else 'x'} renamed {n}"
        result = self.store.memories.update(actor, memory_id, title=new_title)
        if model is not None and model.owner == actor:
            assert result is not None and result.title == new_title
            model.title = new_title
        else:
            assert result is None

    @rule(actor=users, memory_id=memory_ids, archived=st.booleans())
    def archive_memory(self, actor: str, memory_id: int, archived: bool) -> None:
        model = self.memories.get(memory_id)
        result = self.store.memories.archive(actor, memory_id, archived)
        if model is not None and model.owner == actor:
            assert result is not None and result.is_archived == archived
            model.archived = archived
        else:
            assert result is None

    @rule(actor=users, memory_id=consumes(memory_ids))
    def delete_memory(self, actor: str, memory_id: int) -> None:
        model = self.memories.get(memory_id)
        deleted = self.store.memories.delete(actor, memory_id)
        owned = model is not None and model.owner == actor
        assert deleted == owned
        if owned:
            del self.memories[memory_id]

    @rule(actor=users, entity_id=entity_ids)
    def touch_entity(self, actor: str, entity_id: int) -> None:
        model = self.entities.get(entity_id)
        owned = model is not None and model[0] == actor
        got = self.store.entities.get(actor, entity_id)
        updated = self.store.entities.update(actor, entity_id, notes="seen")
        counted = self.store.entities.record_interaction(actor, entity_id)
        assert (got is not None, updated is not None, counted is not None) == (owned,) * 3

    @rule(actor=users, entity_id=consumes(entity_ids))
    def delete_entity(self, actor: str, entity_id: int) -> None:
        model = self.entities.get(entity_id)
        owned = model is not None and model[0] == actor
        assert self.store.entities.delete(actor, entity_id) == owned
        if owned:
            del self.entities[entity_id]

    @rule(actor=users, memory_id=memory_ids, owner_entity=entity_ids)
    def link_entity(self, actor: str, memory_id: int, owner_entity: int) -> None:
        """Linking a memory to another tenant's entity is refused."""
        model, entity = self.memories.get(memory_id), self.entities.get(owner_entity)
        if model is None or model.owner != actor or entity is None:
            return
        try:
            result = self.store.memories.update(actor, memory_id, entity_ids=[owner_entity])
        except ValueError:
            assert entity[0] != actor
        else:
            assert entity[0] == actor and result is not None

    # -- what every user sees -------------------------------------------------------------------
    @invariant()
    def listings_show_exactly_the_callers_rows(self) -> None:
        for user_id in USERS:
            listed = {m.id for m in self.store.memories.list(user_id, limit=10_000)}
            expected = {
                i for i, m in self.memories.items() if m.owner == user_id and not m.archived
            }
            assert listed == expected
            entities = {e.id for e in self.store.entities.list(user_id, limit=10_000)}
            assert entities == {i for i, (owner, _) in self.entities.items() if owner == user_id}

    @invariant()
    def searches_show_only_the_callers_active_matches(self) -> None:
        for user_id in USERS:
            for word in WORDS:
                found = {h.memory.id for h in self.store.memories.search(user_id, word, 10_000)}
                expected = {
                    i
                    for i, m in self.memories.items()
                    if m.owner == user_id and not m.archived and word in (m.title + " " + m.word)
                }
                assert found == expected
            near = {h.memory.id for h in self.store.memories.similar(user_id, [1, 1, 1], 10_000)}
            assert near == {
                i
                for i, m in self.memories.items()
                if m.owner == user_id and not m.archived and m.has_embedding
            }

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)


TenantIsolation.TestCase.settings = settings(max_examples=20, stateful_step_count=20, deadline=None)
test_tenant_isolation = TenantIsolation.TestCase
