"""Schema drift: the live schema against the one its migrations build."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect, snapshot
from memvault.migrations import Migrator, load_migrations
from memvault.review.drift import find_drift

MIGRATIONS = load_migrations(BUILTIN_MIGRATIONS)


def test_legacy_v1_not_yet_adopted_matches_what_adoption_would_record(legacy_v1: Path) -> None:
    report = find_drift(snapshot(str(legacy_v1)), MIGRATIONS)
    assert report.applied_versions == [1]
    assert "not yet adopted" in report.basis
    assert report.clean, report


def test_legacy_v2_extra_column_is_drift(legacy_v2: Path) -> None:
    report = find_drift(snapshot(str(legacy_v2)), MIGRATIONS)
    assert report.extra == ["column entities.contact_info TEXT"]
    assert report.missing == [] and report.changed == []


def test_fully_migrated_database_has_no_drift(db_path: Path, run: Callable[..., Result]) -> None:
    assert run("migrate", "up").exit_code == 0
    report = find_drift(snapshot(str(db_path)), MIGRATIONS)
    assert report.applied_versions == [m.version for m in MIGRATIONS]
    assert report.clean, report


def test_hand_made_changes_are_listed_as_missing_extra_and_changed(
    db_path: Path, run: Callable[..., Result]
) -> None:
    assert run("migrate", "up").exit_code == 0
    conn = sqlite3.connect(db_path)
    conn.executescript(
        """
        DROP INDEX idx_memories_created;
        DROP TRIGGER entity_search_queue_delete;
        CREATE INDEX idx_by_hand ON memories(title);
        CREATE TABLE scratch (x);
        DROP INDEX idx_entities_user_type;
        CREATE INDEX idx_entities_user_type ON entities(user_id);
        """
    )
    conn.close()
    report = find_drift(snapshot(str(db_path)), MIGRATIONS)
    assert report.missing == ["index idx_memories_created", "trigger entity_search_queue_delete"]
    assert report.extra == ["index idx_by_hand", "table scratch"]
    assert len(report.changed) == 1 and report.changed[0].startswith("index idx_entities_user_type")


def test_column_type_and_default_changes_are_drift(tmp_path: Path) -> None:
    folder = tmp_path / "migs"
    folder.mkdir()
    (folder / "001_t.sql").write_text(
        "-- migrate:up\nCREATE TABLE t (a TEXT NOT NULL, b INTEGER DEFAULT 1);\n"
        "-- migrate:down\nDROP TABLE t;\n"
    )
    migrations = load_migrations(folder)
    path = tmp_path / "d.db"
    db = connect(str(path))
    Migrator(db, migrations, applied_by="test").up()
    db.execute("ALTER TABLE t RENAME TO old_t")
    db.execute("CREATE TABLE t (a TEXT, b TEXT DEFAULT 2)")
    db.execute("DROP TABLE old_t")
    report = find_drift(db, migrations)
    assert sorted(report.changed) == [
        "column t.a: NOT NULL expected",
        "column t.b: type INTEGER expected, TEXT found; default 1 expected, 2 found",
    ]


def test_applied_migration_without_file_is_noted(
    db_path: Path, run: Callable[..., Result], tmp_path: Path
) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(BUILTIN_MIGRATIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    assert run("migrate", "up", migrations=folder).exit_code == 0
    newest = max(folder.glob("[0-9]*.py"))
    newest.unlink()
    report = find_drift(snapshot(str(db_path)), load_migrations(folder))
    assert any("has no file" in note for note in report.notes)


def test_edited_migration_file_is_noted(
    db_path: Path, run: Callable[..., Result], migrations_dir: Path
) -> None:
    assert run("migrate", "up", migrations=migrations_dir).exit_code == 0
    newest = max(migrations_dir.glob("[0-9]*.py"))
    newest.write_text(newest.read_text() + "\n# edited after it was applied\n")
    report = find_drift(snapshot(str(db_path)), load_migrations(migrations_dir))
    assert any("edited after it was applied" in note for note in report.notes)
    assert report.clean
