"""MemoryStore.open: creates and migrates, or refuses pending migrations; legacy files load,
broken rows included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from memvault import DatabaseError, MemoryStore, MigrationError
from memvault.testing import snapshot_rows


def test_open_creates_and_migrates(db_path: Path) -> None:
    with MemoryStore.open(db_path) as store:
        assert [s.migration.version for s in store.applied][:2] == [1, 2]
        assert store.db.table_exists("memory_search")
    with MemoryStore.open(db_path) as again:
        assert again.applied == []


def test_open_without_migrate_refuses_pending_and_names_them(
    db_path: Path, run: Callable[..., Result]
) -> None:
    assert run("migrate", "up", "--to", "2").exit_code == 0
    before = db_path.read_bytes()
    with pytest.raises(MigrationError, match=r"pending migration\(s\): 003_\w+, 004_\w+") as exc:
        MemoryStore.open(db_path, migrate=False)
    assert "memvault migrate up" in str(exc.value)
    assert db_path.read_bytes() == before
    assert run("migrate", "up").exit_code == 0
    with MemoryStore.open(db_path, migrate=False) as store:
        assert store.applied == []
        user, _ = store.users.create("ada@example.com")
        assert store.users.get(user.id) == user


def test_open_without_migrate_does_not_create_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(DatabaseError, match="does not exist"):
        MemoryStore.open(missing, migrate=False)
    assert not missing.exists()


def test_open_accepts_a_sqlite_url(tmp_path: Path) -> None:
    with MemoryStore.open(f"sqlite:///{tmp_path / 'url.db'}") as store:
        assert store.db.url.path == tmp_path / "url.db"


def test_legacy_database_is_adopted_and_its_broken_rows_load(legacy_v1: Path) -> None:
    with pytest.raises(MigrationError, match="pending"):
        MemoryStore.open(legacy_v1, migrate=False)
    with MemoryStore.open(legacy_v1) as store:
        listing = store.memories.list("user-0", limit=1000)
        broken = next(m for m in listing if m.title == "broken json")
        assert broken.tags == "{not json"  # the raw value, kept
        assert broken.metadata == "{'single': quotes}"
        assert any("tags" in p for p in broken.problems)
        assert any("metadata" in p for p in broken.problems)
        dumped = broken.model_dump(mode="json", by_alias=True)
        assert dumped["tags"] == "{not json" and dumped["problems"]
        clean = next(m for m in listing if m.title == "日本語のメモ")
        assert clean.problems == [] and "problems" not in clean.model_dump(by_alias=True)
        renamed = store.memories.update("user-0", broken.id, title="broken json, renamed")
        assert renamed is not None and renamed.tags == "{not json"  # written back unchanged
        raw = store.db.query("SELECT tags, metadata FROM memories WHERE id = ?", (broken.id,))
        assert tuple(raw[0]) == ("{not json", "{'single': quotes}")
        hits = store.memories.search("user-0", "naïve emoji")
        assert [h.memory.title for h in hits] == ["日本語のメモ"]
        # A row whose user_id is NULL belongs to no tenant: nobody's search finds it.
        for user_id in ("user-0", "user-1", "user-2", "", "NULL"):
            assert store.memories.search(user_id, "whose user_id is NULL") == []


def test_legacy_rows_read_before_the_blob_migration(legacy_v1: Path, migrations_dir: Path) -> None:
    """A server that has only migrations 001-002 still reads JSON-text embeddings."""
    for later in migrations_dir.glob("00[34]_*.py"):
        later.unlink()
    before = snapshot_rows(legacy_v1)
    with MemoryStore.open(legacy_v1, migrations_dir=migrations_dir) as store:
        assert store.db.scalar("SELECT typeof(embedding) FROM memories WHERE id = 1") == "text"
        listing = store.memories.list("user-1", limit=1000)
        assert listing and all(m.embedding is None or len(m.embedding) == 16 for m in listing)
        target = next(m for m in listing if m.embedding is not None)
        hits = store.memories.similar("user-1", target.embedding or [], limit=3)
        assert hits[0].memory.id == target.id
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    after = snapshot_rows(legacy_v1)
    assert {t: after[t] for t in before} == before  # reading changed no row
