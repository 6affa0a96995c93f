"""Data health: foreign key violations, orphans, FTS5 integrity, table sizes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from memvault.db import snapshot
from memvault.review.health import foreign_keys, fts_integrity, orphans, table_sizes
from memvault.review.schema import read_schema
from memvault.testing import build_legacy_database


def test_legacy_orphans_and_null_owners_are_counted(legacy_v1: Path) -> None:
    db = snapshot(str(legacy_v1))
    schema = read_schema(db)
    fk = foreign_keys(db, schema)
    assert fk.enforced
    assert len(fk.declared) == 4
    raw = sqlite3.connect(legacy_v1).execute("PRAGMA foreign_key_check").fetchall()
    assert fk.violations == len(raw) > 0
    by_table = {o.table: o for o in orphans(db, schema)}
    assert by_table["memories"].missing_parent == db.scalar(
        "SELECT count(*) FROM memories "
        "WHERE user_id IS NOT NULL AND user_id NOT IN (SELECT id FROM users)"
    )
    assert by_table["memories"].null_owner == db.scalar(
        "SELECT count(*) FROM memories WHERE user_id IS NULL"
    )


def test_fts_integrity_passes_then_fails_when_index_and_content_disagree(tmp_path: Path) -> None:
    legacy_v1 = build_legacy_database(tmp_path / "whole.db", service_edits=False)
    db = snapshot(str(legacy_v1))
    checks = {c.table: c for c in fts_integrity(db, read_schema(db))}
    assert checks["memories_fts"].ok and checks["entities_fts"].ok
    assert checks["memories_fts"].rows_indexed == checks["memories_fts"].content_rows
    conn = sqlite3.connect(legacy_v1)
    conn.execute("DROP TRIGGER memories_fts_update")
    conn.execute("UPDATE memories SET title = 'changed behind the index' WHERE id = 1")
    conn.commit()
    conn.close()
    db = snapshot(str(legacy_v1))
    checks = {c.table: c for c in fts_integrity(db, read_schema(db))}
    assert not checks["memories_fts"].ok and checks["memories_fts"].detail
    assert checks["entities_fts"].ok


def test_table_sizes_count_rows_and_bytes(legacy_v1: Path) -> None:
    db = snapshot(str(legacy_v1))
    sizes = {t.name: t for t in table_sizes(db, read_schema(db))}
    assert sizes["memories"].rows == db.scalar("SELECT count(*) FROM memories")
    assert sizes["memories"].bytes is not None and sizes["memories"].bytes > 0
    assert sizes["memories"].index_bytes is not None and sizes["memories"].index_bytes > 0
