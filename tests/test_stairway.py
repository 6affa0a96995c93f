"""The stairway test: up, verify, down, compare, up again, for each migration, on scratch."""

from __future__ import annotations

import hashlib
import json
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from conftest import copy_fixture
from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect
from memvault.migrations import Migrator, load_migrations
from memvault.migrations.stairway import compare_schemas, read_schema, run_stairway
from memvault.testing import LegacyShape, build_legacy_database

Run = Callable[..., Result]


def folder_with(tmp_path: Path, source: str, name: str = "003_change.py") -> Path:
    """Built-in 001 and 002 plus one more migration."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for builtin in sorted(BUILTIN_MIGRATIONS.glob("00[12]_*.py")):
        shutil.copy(builtin, folder / builtin.name)
    (folder / name).write_text(textwrap.dedent(source))
    return folder


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_built_in_migrations_climb_the_stairway() -> None:
    report = run_stairway(load_migrations(BUILTIN_MIGRATIONS))
    assert report.ok, report.failure and report.failure.describe()
    assert [s.migration.version for s in report.steps] == [
        m.version for m in load_migrations(BUILTIN_MIGRATIONS)
    ]


def test_cli_passes_on_built_ins_and_never_creates_the_database(run: Run, db_path: Path) -> None:
    result = run("migrate", "test", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert [s["name"] for s in data["steps"]][:2] == ["initial_schema", "add_missing_indices"]
    assert not db_path.exists()


def test_cli_names_the_migration_whose_down_leaves_an_index(
    run: Run, tmp_path: Path, db_path: Path
) -> None:
    folder = copy_fixture("bad_down", tmp_path)
    result = run("migrate", "test", migrations=folder)
    assert result.exit_code == 1
    assert "003_index_memories_by_type_and_date" in result.stderr
    assert "index idx_memories_type_created" in result.stderr
    assert "left over" in result.stderr
    assert "FAIL (compare)" in result.stdout
    assert not db_path.exists()


def test_json_report_of_the_planted_failure(run: Run, tmp_path: Path) -> None:
    folder = copy_fixture("bad_down", tmp_path)
    result = run("migrate", "test", "--json", migrations=folder)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    failed = data["steps"][-1]
    assert (failed["version"], failed["phase"]) == (3, "compare")
    assert failed["differences"] == [
        {
            "kind": "index",
            "name": "idx_memories_type_created",
            "change": "extra",
            "detail": "on memories(memory_type, created_at DESC) is left over "
            "(it was not there before)",
        }
    ]
    assert [s["ok"] for s in data["steps"]] == [True, True, False]


FORGOTTEN = {
    "column": (
        'ctx.execute("ALTER TABLE memories ADD COLUMN source TEXT")',
        "table memories: extra column(s) source TEXT",
    ),
    "table": (
        'ctx.execute("CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT)")',
        "table tags: (id, label) is left over",
    ),
    "trigger": (
        'ctx.execute("CREATE TRIGGER touch AFTER UPDATE ON users BEGIN SELECT 1; END")',
        "trigger touch: on users is left over",
    ),
    "view": (
        'ctx.execute("CREATE VIEW live AS SELECT id FROM memories WHERE is_archived = 0")',
        "view live: is left over",
    ),
}


@pytest.mark.parametrize("what", sorted(FORGOTTEN))
def test_a_down_that_forgets_something_is_named(tmp_path: Path, what: str) -> None:
    statement, expected = FORGOTTEN[what]
    folder = folder_with(tmp_path, f"def up(ctx):\n    {statement}\n\n\ndef down(ctx):\n    pass\n")
    report = run_stairway(load_migrations(folder))
    failure = report.failure
    assert failure is not None
    assert failure.migration.label == "003_change"
    assert failure.phase == "compare"
    assert expected in failure.describe()


def test_a_down_that_drops_too_much_is_named(tmp_path: Path) -> None:
    source = """
    def up(ctx):
        ctx.execute("CREATE INDEX idx_x ON memories(title)")

    def down(ctx):
        ctx.execute("DROP INDEX idx_x")
        ctx.execute("DROP INDEX idx_memories_created")
    """
    report = run_stairway(load_migrations(folder_with(tmp_path, source)))
    assert report.failure is not None
    assert (
        "index idx_memories_created: on memories(created_at DESC) was there before, and is "
        "missing" in report.failure.describe()
    )


def test_a_down_that_recreates_an_index_differently_is_named(tmp_path: Path) -> None:
    source = """
    def up(ctx):
        ctx.execute("DROP INDEX idx_memories_created")

    def down(ctx):
        ctx.execute("CREATE INDEX idx_memories_created ON memories(created_at)")
    """
    report = run_stairway(load_migrations(folder_with(tmp_path, source)))
    assert report.failure is not None
    assert (
        "index idx_memories_created: was on memories(created_at DESC), now on memories(created_at)"
        in report.failure.describe()
    )


def test_a_failing_verify_is_reported_as_such(tmp_path: Path) -> None:
    source = """
    def up(ctx):
        pass

    def down(ctx):
        pass

    def verify(ctx):
        return "the widget table is missing"
    """
    report = run_stairway(load_migrations(folder_with(tmp_path, source)))
    assert report.failure is not None
    assert report.failure.phase == "verify"
    assert "the widget table is missing" in (report.failure.problem or "")
    assert report.not_reached == []


def test_migrations_after_a_failure_are_not_reached(tmp_path: Path) -> None:
    folder = copy_fixture("bad_down", tmp_path)
    (folder / "004_more.py").write_text("def up(ctx):\n    pass\n\ndef down(ctx):\n    pass\n")
    report = run_stairway(load_migrations(folder))
    assert [m.label for m in report.not_reached] == ["004_more"]


def test_a_rebuild_and_its_reverse_climb_cleanly(tmp_path: Path) -> None:
    """A rebuild renames the table (SQLite then quotes its name): not a difference."""
    from test_rebuild import REBUILD_MEMORIES

    report = run_stairway(load_migrations(folder_with(tmp_path, REBUILD_MEMORIES)))
    assert report.ok, report.failure and report.failure.describe()


def test_with_data_works_on_a_copy_and_leaves_the_file_alone(run: Run, tmp_path: Path) -> None:
    legacy = build_legacy_database(tmp_path / "legacy.db", LegacyShape.V1_3_5)
    before = digest(legacy)
    folder = copy_fixture("bad_down", tmp_path)
    result = run("migrate", "test", "--with-data", "--json", database=legacy, migrations=folder)
    data = json.loads(result.stdout)
    assert result.exit_code == 1
    assert data["already_applied"] == ["001_initial_schema"]  # adopted, in the copy only
    assert [s["name"] for s in data["steps"]] == [
        "add_missing_indices",
        "index_memories_by_type_and_date",
    ]
    assert digest(legacy) == before
    assert sorted(p.name for p in tmp_path.glob("legacy.db*")) == ["legacy.db"]


def test_with_data_needs_an_existing_file(run: Run, db_path: Path) -> None:
    result = run("migrate", "test", "--with-data")
    assert result.exit_code == 2
    assert f"database {db_path} does not exist" in result.stderr


def test_schema_comparison_ignores_the_ledger_and_formatting(db_path: Path) -> None:
    with connect(str(db_path)) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY,   a TEXT)")
        before = read_schema(db)
        Migrator(db, [], applied_by="t").adopt()  # creates memvault's own lock table
        db.execute("DROP TABLE t")
        db.execute('CREATE TABLE "t" (\n  id INTEGER PRIMARY KEY,\n  a TEXT\n)')
        assert compare_schemas(before, read_schema(db)) == []
        db.execute("DROP TABLE t")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT CHECK (a <> ''))")
        [diff] = compare_schemas(before, read_schema(db))
        assert diff.describe().startswith("table t: definition changed")
