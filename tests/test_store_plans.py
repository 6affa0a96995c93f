"""Lookups by id use the primary key: EXPLAIN QUERY PLAN on a populated file with statistics,
and schema review flags a lookup by id that does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import Database, connect
from memvault.migrations import load_migrations
from memvault.review.coverage import plan_query
from memvault.review.report import review
from memvault.review.schema import read_schema
from memvault.store import MemoryStore, catalog
from memvault.store.catalog import CatalogQuery

# The shape get_many had: the planner could walk the user's index and check each id after.
OLD_GET_MANY = (
    "SELECT id, title FROM memories WHERE user_id = :user_id "
    "AND id IN (SELECT value FROM json_each(:ids))"
)


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One user with 3,000 memories and 50 entities, another with a few, and ANALYZE run:
    the statistics that made the old get_many walk the user's index."""
    path = tmp_path_factory.mktemp("plans") / "plans.db"
    with MemoryStore.open(str(path)) as store:
        big, _ = store.users.create("big@example.com")
        small, _ = store.users.create("small@example.com")
        for _ in range(50):
            store.entities.create(big.id, name="E", entity_type="person")
        items = [{"title": f"t{i}", "content": "c", "memory_type": "MEMORY"} for i in range(3000)]
        store.memories.create_many(big.id, items)
        store.memories.create_many(small.id, items[:20])
        store.db.execute("ANALYZE")
    return path


@pytest.fixture
def db(populated: Path, tmp_path: Path) -> Database:
    """A copy of the populated file (tests change its statistics)."""
    copy = tmp_path / "copy.db"
    shutil.copy(populated, copy)
    database = connect(str(copy))
    yield database  # type: ignore[misc]
    database.close()


def plan_details(db: Database, name: str) -> list[str]:
    query = catalog.catalog()[name]
    return [str(r[3]) for r in db.query(f"EXPLAIN QUERY PLAN {query.sql}", dict(query.params))]


@pytest.mark.parametrize(
    ("name", "alias"), [("memories.get_many", "m"), ("entities.owned_ids", "e")]
)
@pytest.mark.parametrize("tenants", ["few", "many"])
def test_lookups_by_a_list_of_ids_search_the_rowid(
    db: Database, name: str, alias: str, tenants: str
) -> None:
    if tenants == "many":
        assume_many_small_tenants(db)
    details = plan_details(db, name)
    assert f"SEARCH {alias} USING INTEGER PRIMARY KEY (rowid=?)" in details, details
    assert not any(d.startswith(f"SCAN {alias}") or "INDEX idx_" in d for d in details), details


@pytest.mark.parametrize("tenants", ["few", "many"])
def test_every_catalog_lookup_by_id_uses_the_primary_key(db: Database, tenants: str) -> None:
    if tenants == "many":
        assume_many_small_tenants(db)
    schema = read_schema(db)
    missed = {}
    for query in catalog.catalog().values():
        plan, _shape = plan_query(db, schema, query.name, query.sql, dict(query.params))
        if plan.key_lookups_missed:
            missed[query.name] = plan.plan
    assert not missed


def assume_many_small_tenants(db: Database) -> None:
    """Statistics of a million memories over a million users (ANALYZE's own table, which
    SQLite documents as writable): the user's index now looks better than the id list."""
    db.execute(
        "UPDATE sqlite_stat1 SET stat = '1000000 1 1' WHERE idx = 'idx_memories_user_archived'"
    )
    db.execute("ANALYZE sqlite_schema")  # reload the statistics


def test_review_flags_a_lookup_by_id_that_walks_another_index(db: Database) -> None:
    db.execute("DROP INDEX idx_memories_user_id_id")  # 010's (user_id, id) also serves it
    assume_many_small_tenants(db)
    schema = read_schema(db)
    params = {"user_id": "x", "ids": "[1, 2, 3]"}
    old, _ = plan_query(db, schema, "old.get_many", OLD_GET_MANY, params)
    assert not any("INTEGER PRIMARY KEY" in s.detail for s in old.plan), old.plan  # precondition
    assert old.key_lookups_missed == ["memories"]
    assert old.has_problem
    assert any("does not search its primary key" in n for n in old.notes)
    report = review(
        db,
        load_migrations(BUILTIN_MIGRATIONS),
        queries={"old.get_many": CatalogQuery("old.get_many", OLD_GET_MANY, params)},
    )
    assert [q.name for q in report.problem_queries] == ["old.get_many"]
    assert "primary key" in report.unfixable["old.get_many"]


def test_get_many_keeps_only_the_users_rows_in_id_order(populated: Path) -> None:
    with MemoryStore.open(str(populated)) as store:
        big = store.users.get_by_email("big@example.com")
        small = store.users.get_by_email("small@example.com")
        assert big is not None and small is not None
        theirs = [m.id for m in store.memories.list(small.id, limit=3)]
        mine = [m.id for m in store.memories.list(big.id, limit=3)]
        hits = store.memories._hits(big.id, [(theirs[0], 0.9), (mine[2], 0.8), (mine[0], 0.7)])
        assert [h.memory.id for h in hits] == [mine[2], mine[0]]
