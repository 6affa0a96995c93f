"""The store runs only catalogued SQL: no SQL literals outside queries.py, the runner takes
names only, every statement seen on the wire is a catalog query, and every query EXPLAINs."""

from __future__ import annotations

import ast
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import memvault.store
from memvault.store import MemoryStore, catalog
from memvault.store.runner import QueryRunner
from memvault.store.vectors import VectorModel

STORE_DIR = Path(memvault.store.__file__).parent
# Upper-case keywords anywhere, or a lower-case statement shape (docstrings say "Delete ...").
SQL_START = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|REPLACE INTO|WITH RECURSIVE|CREATE|DROP|ALTER|PRAGMA|"
    r"BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|EXPLAIN|VACUUM|ATTACH)\b"
)
SQL_INSIDE = re.compile(
    r"\b(select\s.+\sfrom|insert\s+into|update\s+\w+\s+set|delete\s+from)\s+\w+",
    re.IGNORECASE | re.DOTALL,
)
TRANSACTION_CONTROL = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
ALLOWED_SQL_MODULES = {"queries.py", "catalog.py"}


def sql_literals(path: Path) -> list[tuple[int, str]]:
    """String constants in a module that look like SQL (docstrings included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if SQL_START.search(text) or SQL_INSIDE.search(text):
                found.append((node.lineno, text))
    return sorted(found)


def test_sql_detector_finds_sql(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'X = "SELECT id FROM memories"\nY = f"DELETE FROM t WHERE id = {1}"\n'
        'Z = "select title from memories"\nW = "update users set name = ?"\n'
        "D = 'Delete the entity; None when it is not theirs, set aside.'\n"
    )
    assert [line for line, _ in sql_literals(sample)] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "module",
    sorted(p.name for p in STORE_DIR.glob("*.py") if p.name not in ALLOWED_SQL_MODULES),
)
def test_no_sql_outside_queries_module(module: str) -> None:
    assert sql_literals(STORE_DIR / module) == []


def test_queries_module_holds_the_sql() -> None:
    assert len(sql_literals(STORE_DIR / "queries.py")) > 10


def test_runner_refuses_raw_sql(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path / "m.db") as store:
        run = QueryRunner(store.db)
        with pytest.raises(KeyError, match="not in the catalog"):
            run.rows("SELECT * FROM users")
        with pytest.raises(KeyError, match="not in the catalog"):
            run.execute("DELETE FROM memories")
        assert run.rows("users.list", limit=5, offset=0) == []


def test_repositories_hold_no_database() -> None:
    """Repositories get a QueryRunner only: no path to a raw connection."""
    from memvault.store import entities, interactions, memories, usage, users

    for repo_class in (
        users.UserRepository,
        entities.EntityRepository,
        memories.MemoryRepository,
        interactions.InteractionRepository,
        usage.UsageRepository,
    ):
        source = Path(repo_class.__module__.replace(".", "/") + ".py").name
        text = (STORE_DIR / source).read_text()
        assert "Database" not in text and ".conn" not in text and "sqlite3.connect" not in text


def _workout(store: MemoryStore) -> None:
    """Call every repository method once, so every statement the store runs is traced."""
    user, key = store.users.create("ada@example.com", name="Ada")
    other, _ = store.users.create("bob@example.com")
    store.users.get(user.id)
    store.users.get_by_email("ada@example.com")
    store.users.get_by_api_key(key)
    store.users.list()
    store.users.update(user.id, name="Ada L.")
    store.users.rotate_api_key(user.id)
    entity = store.entities.create(user.id, name="Grace", entity_type="person")
    store.entities.list(user.id)
    store.entities.search(user.id, "grace")
    store.entities.update(user.id, entity.id, notes="admiral")
    store.entities.record_interaction(user.id, entity.id)
    memory = store.memories.create(
        user.id,
        title="Tea",
        content="green tea",
        memory_type="preference",
        entity_ids=[entity.id],
        embedding=[1.0, 0.0],
    )
    store.memories.create_many(
        user.id, [{"title": "x", "content": "y", "memory_type": "MEMORY", "embedding": [0, 1]}]
    )
    store.memories.list(user.id)
    store.memories.list(user.id, order="updated")
    store.memories.list(user.id, order="importance")
    store.memories.search(user.id, "tea")
    store.memories.similar(user.id, [1.0, 0.0])
    store.memories.hybrid(user.id, "tea", [1.0, 0.0])
    store.memories.update(user.id, memory.id, embedding=[0.5, 0.5])
    pending = store.vectors.pending(user.id, 0, 10, missing=False)
    store.vectors.write(user.id, {m.id: [0.5, 0.5] for m in pending}, VectorModel("p", "m", 2))
    store.vectors.counts(user.id)
    store.vectors.model(user.id)
    store.memories.archive(user.id, memory.id)
    store.memories.delete(user.id, memory.id)
    store.entities.delete(user.id, entity.id)
    store.interactions.add(user.id, user_prompt="hi", assistant_response="hello")
    store.interactions.list(user.id, "2000-01-01", "2100-01-01")
    store.usage.record(
        user.id, api_provider="openai", model="m", cost_usd=0.1, operation_type="chat"
    )
    store.usage.daily_totals(user.id, "2000-01-01", "2100-01-01")
    store.usage.monthly_totals(user.id, "2000-01", "2100-12")
    store.users.delete(other.id)
    store.search_index.rebuild()


class RecordingConnection:
    """Stands in for the sqlite3 connection and notes the SQL text of every statement."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.seen: list[str] = []

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self.seen.append(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self.seen.append(sql)
        return self._conn.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_every_statement_run_is_a_catalog_query(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path / "m.db") as store:
        recorder = RecordingConnection(store.db.conn)
        store.db.conn = recorder  # type: ignore[assignment]
        _workout(store)
        store.db.conn = recorder._conn
    known = {q.sql for q in catalog.catalog().values()}
    seen = recorder.seen
    unknown = [s for s in seen if s not in known and not TRANSACTION_CONTROL.match(s)]
    assert unknown == []
    used = {s for s in seen if s in known}
    names = {q.name for q in catalog.catalog().values() if q.sql in used}
    store_prefixes = ("users.", "entities.", "memories.", "interactions.", "usage.", "store.",
                      "search.", "embedding_models.")  # fmt: skip
    registered = {n for n in catalog.catalog() if n.startswith(store_prefixes)}
    assert names == registered  # the workout ran every store query: none is dead


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "fresh.db"
    MemoryStore.open(path).close()
    return path


@pytest.mark.parametrize("name", sorted(catalog.catalog()))
def test_every_catalog_query_explains_on_a_fresh_database(migrated: Path, name: str) -> None:
    query = catalog.catalog()[name]
    conn = sqlite3.connect(migrated)
    try:
        plan = conn.execute(f"EXPLAIN QUERY PLAN {query.sql}", query.params).fetchall()
        conn.execute(f"EXPLAIN {query.sql}", query.params).fetchall()
    finally:
        conn.close()
    assert query.description
    assert plan or query.sql.startswith(("INSERT", "SELECT last_insert_rowid"))


def test_tenant_queries_are_scoped_by_user() -> None:
    tenant_tables = ("entities", "memories", "interactions", "api_usage_tracking")
    for query in catalog.catalog().values():
        touches_tenant_rows = any(f" {t} " in f" {query.sql} " for t in tenant_tables)
        # The search index's upkeep reads the rows the triggers queued, whoever owns them,
        # and files each under its owner's key (memvault.store.search_index).
        upkeep = query.name.startswith("search.")
        if touches_tenant_rows and not query.sql.startswith("INSERT") and not upkeep:
            assert "user_id = :user_id" in query.sql, query.name


def test_listings_use_their_indexes(migrated: Path) -> None:
    conn = sqlite3.connect(migrated)
    try:
        for name, index in (
            ("memories.list", "idx_memories_user_active_created"),
            ("entities.list", "idx_entities_user_created"),
        ):
            query = catalog.catalog()[name]
            plan = " | ".join(
                str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {query.sql}", query.params)
            )
            assert index in plan and "TEMP B-TREE" not in plan, (name, plan)
    finally:
        conn.close()
