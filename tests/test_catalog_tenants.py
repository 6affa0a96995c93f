"""Every catalog query that takes a user id, run with another tenant's id: it reads,
changes and deletes nothing of the tenant whose rows its other parameters point at.

Deterministic and exhaustive over the catalog: tenant A owns the rows the example
parameters name (ids 1-3, the words searched for, the dates summed); each query runs with
user_id = B (who owns nothing) on a database with A's rows and on one without them. What
B sees must be the same on both, and A's rows must be untouched.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from memvault import MemoryStore
from memvault.store import catalog
from memvault.store import queries as _queries  # noqa: F401  (registers the catalog)

A, B = "tenant-a", "tenant-b"
TENANT_TABLES = ("entities", "memories", "interactions", "api_usage_tracking", "embedding_models")


def _seed_a(path: Path) -> None:
    with MemoryStore.open(path) as store:
        store.users.create("b@example.com", user_id=B)
        store.users.create("a@example.com", user_id=A)
        for n in range(3):
            store.entities.create(A, name=f"Grace {n}", entity_type="person", notes="grace")
            store.memories.create(
                A,
                title=f"green tea {n}",
                content="green tea in the morning",
                memory_type="preference",
                entity_ids=[n + 1],
                embedding=[0.1, 0.2, 0.3 + n],
            )
        store.memories.create(A, title="no vector yet", content="tea", memory_type="semantic")
    conn = sqlite3.connect(path)
    for name in ("interactions.insert", "usage.insert", "embedding_models.put"):
        query = catalog.catalog()[name]
        for n in range(3):
            params = dict(query.params) | {"user_id": A}
            if "id" in params:
                params["id"] = f"{params['id']}-{n}"
            conn.execute(query.sql, params)
    conn.execute("UPDATE interactions SET created_at = '2025-10-15T00:00:00.000Z'")
    conn.commit()
    conn.close()


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(with A's rows, without them): the same schema and the same user B."""
    folder = tmp_path_factory.mktemp("tenants")
    with_a = folder / "with_a.db"
    _seed_a(with_a)
    without_a = folder / "without_a.db"
    shutil.copy(with_a, without_a)
    conn = sqlite3.connect(without_a)
    for table in TENANT_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE user_id = ?", (A,))
    conn.commit()
    conn.close()
    return with_a, without_a


def tenant_queries() -> list[str]:
    return sorted(
        q.name
        for q in catalog.catalog().values()
        if isinstance(q.params, dict) and "user_id" in q.params
    )


def _a_rows(conn: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    rows = {t: conn.execute(f"SELECT * FROM {t} WHERE user_id = ?", (A,)).fetchall()
            for t in TENANT_TABLES}  # fmt: skip
    rows["users"] = conn.execute("SELECT * FROM users WHERE id = ?", (A,)).fetchall()
    return rows


def _run_as_b(path: Path, name: str) -> tuple[list[tuple[Any, ...]], int, dict[str, Any]]:
    """Run `name` with user_id = B in a transaction rolled back afterwards: the rows it
    returns, the rows it changed, and A's rows as they were inside the transaction."""
    query = catalog.catalog()[name]
    params = dict(query.params) | {"user_id": B}  # type: ignore[arg-type]
    if name == "usage.insert":
        params["id"] = "b-usage"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        cursor = conn.execute(query.sql, params)
        returned = [tuple(r) for r in cursor.fetchall()]
        changed = cursor.rowcount if not returned else 0
        a_rows = _a_rows(conn)
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    return returned, changed, a_rows


@pytest.mark.parametrize("name", tenant_queries())
def test_another_tenants_id_reads_changes_and_deletes_nothing(
    databases: tuple[Path, Path], name: str
) -> None:
    with_a, without_a = databases
    conn = sqlite3.connect(with_a)
    a_before = _a_rows(conn)
    conn.close()
    seen_with, changed_with, a_after = _run_as_b(with_a, name)
    seen_without, changed_without, _ = _run_as_b(without_a, name)
    assert seen_with == seen_without, f"{name} as B sees A's rows"
    assert changed_with == changed_without, f"{name} as B changes a different number of rows"
    assert a_after == a_before, f"{name} as B changed or deleted A's rows"


def test_the_seed_is_visible_to_its_owner(databases: tuple[Path, Path]) -> None:
    """The test above could pass vacuously if A's rows did not match the parameters."""
    with_a, _ = databases
    conn = sqlite3.connect(with_a)
    hits: dict[str, int] = {}
    for name in tenant_queries():
        query = catalog.catalog()[name]
        if not query.sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        params = dict(query.params) | {"user_id": A}  # type: ignore[arg-type]
        hits[name] = len(conn.execute(query.sql, params).fetchall())
    conn.close()
    empty_for_a = sorted(n for n, count in hits.items() if count == 0)
    assert empty_for_a == [], "A's seed does not reach these queries"
