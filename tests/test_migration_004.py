"""Migration 004: the partial index that serves the active-memory listing in order."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conftest import schema_objects
from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect
from memvault.migrations import Migrator, load_migrations

INDEX = "idx_memories_user_active_created"
LISTING = (
    "SELECT id, created_at FROM memories WHERE user_id = ? AND is_archived = 0 "
    "ORDER BY created_at DESC LIMIT ? OFFSET ?"
)


def migrate_to(path: Path, target: int) -> None:
    db = connect(str(path))
    try:
        Migrator(db, load_migrations(BUILTIN_MIGRATIONS), applied_by="t").to(target)
    finally:
        db.close()


def plan(path: Path, query: str, params: Any) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {query}", params)]
    finally:
        conn.close()


def rows(path: Path, query: str, params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def run_sql(path: Path, script: str) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.executescript(script)
    finally:
        conn.close()


def test_listing_plan_drops_the_temp_btree(legacy_v1: Path) -> None:
    migrate_to(legacy_v1, 3)
    before = plan(legacy_v1, LISTING, ("user-0", 20, 0))
    assert any("USE TEMP B-TREE FOR ORDER BY" in line for line in before), before
    migrate_to(legacy_v1, 4)
    after = plan(legacy_v1, LISTING, ("user-0", 20, 0))
    assert after == [f"SEARCH memories USING INDEX {INDEX} (user_id=?)"]


def test_the_store_listing_query_uses_the_index(legacy_v1: Path) -> None:
    queries = pytest.importorskip("memvault.store.queries")
    from memvault.store.catalog import catalog

    listing = catalog()["memories.list"]
    migrate_to(legacy_v1, 4)
    del queries
    lines = plan(legacy_v1, listing.sql, dict(listing.params))
    assert any(INDEX in line for line in lines) and not any("TEMP B-TREE" in x for x in lines)


def test_listing_results_are_unchanged(legacy_v1: Path) -> None:
    migrate_to(legacy_v1, 3)
    users = ["user-0", "user-1", "user-2", "ghost-user"]
    pages = [(-1, 0), (5, 0), (7, 3)]
    before = {(u, p): rows(legacy_v1, LISTING, (u, *p)) for u in users for p in pages}
    migrate_to(legacy_v1, 4)
    for (user, (limit, offset)), old in before.items():
        new = rows(legacy_v1, LISTING, (user, limit, offset))
        # Same order of creation times; rows sharing a created_at may come in any order.
        assert [c for _, c in new] == [c for _, c in old]
        if limit == -1:
            assert sorted(new) == sorted(old)
    assert before[("user-0", (-1, 0))], "the fixture should list something"


def test_archived_rows_stay_out_and_in_step(legacy_v1: Path) -> None:
    migrate_to(legacy_v1, 4)
    run_sql(
        legacy_v1,
        "UPDATE memories SET is_archived = 1 WHERE user_id = 'user-0' AND id % 2 = 0;"
        "UPDATE memories SET is_archived = 0 WHERE user_id = 'user-0' AND id % 3 = 0;",
    )
    listed = {r[0] for r in rows(legacy_v1, LISTING, ("user-0", -1, 0))}
    expected = {
        r[0]
        for r in rows(
            legacy_v1,
            "SELECT id FROM memories NOT INDEXED WHERE user_id = 'user-0' AND is_archived = 0",
            (),
        )
    }
    assert listed == expected and listed
    assert rows(legacy_v1, "PRAGMA integrity_check", ()) == [("ok",)]


def test_existing_indexes_are_kept(legacy_v1: Path) -> None:
    migrate_to(legacy_v1, 3)
    before = {n for n, s in schema_objects(legacy_v1).items() if s.startswith("CREATE INDEX")}
    migrate_to(legacy_v1, 4)
    after = {n for n, s in schema_objects(legacy_v1).items() if s.startswith("CREATE INDEX")}
    assert after == before | {INDEX}


def test_down_restores_the_schema(legacy_v1: Path) -> None:
    migrate_to(legacy_v1, 3)
    schema = schema_objects(legacy_v1)
    migrate_to(legacy_v1, 4)
    migrate_to(legacy_v1, 3)
    assert schema_objects(legacy_v1) == schema


@pytest.mark.parametrize(
    ("replacement", "problem"),
    [
        ("", f"index {INDEX} is missing"),
        (f"CREATE INDEX {INDEX} ON memories(user_id, created_at DESC)", "is not partial"),
        (
            f"CREATE INDEX {INDEX} ON memories(user_id, created_at) WHERE is_archived = 0",
            "covers [('user_id', 0), ('created_at', 0)]",
        ),
    ],
)
def test_verify_finds_a_wrong_index(
    legacy_v1: Path, run: Any, replacement: str, problem: str
) -> None:
    assert run("migrate", "up", database=legacy_v1).exit_code == 0
    run_sql(legacy_v1, f"DROP INDEX {INDEX}; {replacement};")
    result = run("migrate", "verify", database=legacy_v1)
    assert result.exit_code == 1 and problem in result.output, result.output


def test_skewed_statistics_are_a_review_finding_not_a_verify_failure(
    legacy_v1: Path, run: Any
) -> None:
    assert run("migrate", "up", database=legacy_v1).exit_code == 0
    # Statistics claiming the new index is useless and the old one selective: the planner
    # goes back to idx_memories_user_archived and a sort. The index is still in place as
    # made, so verify passes; the schema review is where the plan regression shows.
    run_sql(
        legacy_v1,
        "ANALYZE;"
        f"UPDATE sqlite_stat1 SET stat = '5000 5000' WHERE idx = '{INDEX}';"
        "UPDATE sqlite_stat1 SET stat = '5000 1 1' WHERE idx = 'idx_memories_user_archived';",
    )
    verify = run("migrate", "verify", database=legacy_v1)
    assert verify.exit_code == 0, verify.output
    review = json.loads(run("schema", "review", "--json", database=legacy_v1).output)
    listing = next(q for q in review["queries"] if q["name"] == "memories.list")
    assert listing["temp_btree"] and INDEX not in listing["index_used"]


def test_cli_up_down_up(legacy_v2: Path, run: Any) -> None:
    assert run("migrate", "up", database=legacy_v2).exit_code == 0
    down = run("migrate", "to", "3", database=legacy_v2)
    assert down.exit_code == 0 and "rolled back 004_partial_index_active_memories" in down.output
    assert run("migrate", "up", database=legacy_v2).exit_code == 0
    verify = run("migrate", "verify", database=legacy_v2)
    assert verify.exit_code == 0, verify.output
