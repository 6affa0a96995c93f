"""Table rebuilds (SQLite's 12-step procedure) through ctx.rebuild_table, on real files."""

from __future__ import annotations

import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect
from memvault.errors import MigrationError, MigrationLoadError
from memvault.migrations import Migrator, load_migrations
from memvault.testing import LegacyShape, build_legacy_database

MEMORIES_DDL = """CREATE TABLE memories (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT,
  title TEXT NOT NULL,
  content TEXT NOT NULL,
  memory_type TEXT NOT NULL,
  importance INTEGER DEFAULT 2,
  tags TEXT,
  entity_ids TEXT,
  embedding TEXT,
  metadata TEXT,
  is_archived BOOLEAN DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
)"""

# The same table with is_archived made a NOT NULL integer: a type and constraint change.
STRICT_ARCHIVED = MEMORIES_DDL.replace(
    "is_archived BOOLEAN DEFAULT 0", "is_archived INTEGER NOT NULL DEFAULT 0"
)

REBUILD_MEMORIES = f'''
"""Rebuild memories: is_archived becomes INTEGER NOT NULL."""
foreign_keys = False

NEW = """{STRICT_ARCHIVED}"""
OLD = """{MEMORIES_DDL}"""


def up(ctx):
    ctx.rebuild_table("memories", NEW, columns={{"is_archived": "coalesce(is_archived, 0)"}})


def down(ctx):
    ctx.rebuild_table("memories", OLD)


def verify(ctx):
    rows = ctx.query("SELECT type, \\"notnull\\" FROM pragma_table_info('memories') "
                     "WHERE name = 'is_archived'")
    return [tuple(r) for r in rows] == [("INTEGER", 1)] or "is_archived is not INTEGER NOT NULL"
'''

SEARCH_TERMS = ["alpha", "coffee", "berlin", "garden OR piano", "Zürich", "東京", "lorem"]


def migrations_with(tmp_path: Path, source: str, name: str = "003_rebuild.py") -> Path:
    """A folder holding the built-in 001 and 002 and one more migration."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for builtin in sorted(BUILTIN_MIGRATIONS.glob("00[12]_*.py")):
        shutil.copy(builtin, folder / builtin.name)
    (folder / name).write_text(textwrap.dedent(source))
    return folder


def migrate(db_path: Path, folder: Path, *, target: int | None = None) -> None:
    with connect(str(db_path)) as db:
        Migrator(db, load_migrations(folder), applied_by="test").up(target)


def rollback(db_path: Path, folder: Path) -> None:
    with connect(str(db_path)) as db:
        Migrator(db, load_migrations(folder), applied_by="test").down(1)


def state(path: Path) -> dict[str, object]:
    """Everything a rebuild of memories must keep."""
    conn = sqlite3.connect(path)
    try:
        return {
            "rows": conn.execute("SELECT * FROM memories ORDER BY id").fetchall(),
            "seq": conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'memories'"
            ).fetchall(),
            "search": {
                term: conn.execute(
                    "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? ORDER BY rowid",
                    (term,),
                ).fetchall()
                for term in SEARCH_TERMS
            },
            "objects": conn.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'memories' "
                "AND type IN ('index', 'trigger') ORDER BY name"
            ).fetchall(),
            "fk_violations": sorted(conn.execute("PRAGMA foreign_key_check").fetchall()),
            "other_rows": {
                t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("users", "entities", "interactions", "api_usage_tracking")
            },
        }
    finally:
        conn.close()


def fts_integrity(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:  # raises when the full-text index disagrees with the content table
        conn.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


@pytest.fixture
def legacy_with_gap(tmp_path: Path) -> Path:
    """A legacy file whose newest memory was deleted, so the AUTOINCREMENT counter is ahead."""
    path = build_legacy_database(tmp_path / "legacy.db", LegacyShape.V1_3_5, service_edits=False)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM memories WHERE id = (SELECT max(id) FROM memories)")
    # The service's delete trigger leaves the old terms behind (see 007); start whole.
    conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")
    conn.commit()
    conn.close()
    return path


def test_rebuild_keeps_ids_rows_counter_indexes_triggers_and_search(
    tmp_path: Path, legacy_with_gap: Path
) -> None:
    folder = migrations_with(tmp_path, REBUILD_MEMORIES)
    migrate(legacy_with_gap, folder, target=2)  # adopt the legacy file, then 002
    before = state(legacy_with_gap)
    assert before["fk_violations"], "the legacy file should hold orphans"

    migrate(legacy_with_gap, folder)

    after = state(legacy_with_gap)
    assert after == before
    fts_integrity(legacy_with_gap)
    conn = sqlite3.connect(legacy_with_gap)
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'memories'").fetchone()[0]
    assert "is_archived INTEGER NOT NULL DEFAULT 0" in ddl
    assert conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name LIKE '_memvault_rebuild_%'"
    ).fetchone() == (0,)
    # A new row gets the next id after the deleted one, and the FTS triggers still fire.
    conn.execute(
        "INSERT INTO memories (user_id, title, content, memory_type, created_at, updated_at) "
        "VALUES ('user-0', 'fresh', 'xylophone', 'MEMORY', 'now', 'now')"
    )
    new_id = conn.execute("SELECT max(id) FROM memories").fetchone()[0]
    assert new_id == before["seq"][0][0] + 1  # type: ignore[index]
    assert conn.execute(
        "SELECT rowid FROM memories_fts WHERE memories_fts MATCH 'xylophone'"
    ).fetchall() == [(new_id,)]
    conn.commit()
    conn.close()
    fts_integrity(legacy_with_gap)


def test_rebuild_down_restores_the_table(tmp_path: Path, legacy_with_gap: Path) -> None:
    folder = migrations_with(tmp_path, REBUILD_MEMORIES)
    migrate(legacy_with_gap, folder, target=2)
    before = state(legacy_with_gap)
    migrate(legacy_with_gap, folder)
    rollback(legacy_with_gap, folder)
    assert state(legacy_with_gap) == before
    fts_integrity(legacy_with_gap)


def test_foreign_keys_are_back_on_after_success_and_failure(
    tmp_path: Path, legacy_with_gap: Path
) -> None:
    folder = migrations_with(tmp_path, REBUILD_MEMORIES)
    with connect(str(legacy_with_gap)) as db:
        Migrator(db, load_migrations(folder), applied_by="t").up()
        assert db.scalar("PRAGMA foreign_keys") == 1
        Migrator(db, load_migrations(folder), applied_by="t").down(1)
        assert db.scalar("PRAGMA foreign_keys") == 1
        (folder / "003_rebuild.py").write_text(REBUILD_MEMORIES.replace('"coalesce(', '"nope('))
        with pytest.raises(MigrationError, match="no such function: nope"):
            Migrator(db, load_migrations(folder), applied_by="t").up()
        assert db.scalar("PRAGMA foreign_keys") == 1


def test_rebuild_refuses_when_foreign_keys_are_on(tmp_path: Path, db_path: Path) -> None:
    folder = migrations_with(tmp_path, REBUILD_MEMORIES.replace("foreign_keys = False", ""))
    migrate(db_path, folder, target=2)
    with pytest.raises(MigrationError, match=r"foreign_keys = False.*") as err:
        migrate(db_path, folder)
    assert "003_rebuild.py" in str(err.value) and "users" in str(err.value)
    conn = sqlite3.connect(db_path)
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'memories'").fetchone()[0]
    conn.close()
    assert ddl == MEMORIES_DDL


def test_rebuilding_a_parent_table_does_not_cascade(tmp_path: Path, legacy_with_gap: Path) -> None:
    """Dropping `users` with foreign keys on would delete every memory through CASCADE."""
    users_ddl = (
        "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL, "
        "name TEXT NOT NULL DEFAULT '', organization TEXT, api_key_hash TEXT, "
        "oauth_provider TEXT, oauth_id TEXT, is_active BOOLEAN DEFAULT 1, metadata TEXT, "
        "created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    source = f'''
foreign_keys = False


def up(ctx):
    ctx.rebuild_table("users", """{users_ddl}""", columns={{"name": "coalesce(name, '')"}})


def down(ctx):
    pass
'''
    folder = migrations_with(tmp_path, source)
    migrate(legacy_with_gap, folder, target=2)
    conn = sqlite3.connect(legacy_with_gap)
    conn.execute("DELETE FROM users WHERE id = 'user-1'")  # a rowid gap to keep
    conn.commit()
    users_sql = "SELECT rowid, id, email, coalesce(name, '') FROM users ORDER BY rowid"
    users_before = conn.execute(users_sql).fetchall()
    conn.close()
    before = state(legacy_with_gap)
    migrate(legacy_with_gap, folder)
    after = state(legacy_with_gap)
    conn = sqlite3.connect(legacy_with_gap)
    assert conn.execute(users_sql).fetchall() == users_before  # rowids kept, no id alias
    conn.close()
    assert after["rows"] == before["rows"]
    assert after["other_rows"] == before["other_rows"]
    assert after["fk_violations"] == before["fk_violations"]


def test_a_new_foreign_key_violation_rolls_everything_back(
    tmp_path: Path, legacy_with_gap: Path
) -> None:
    source = f'''
foreign_keys = False


def up(ctx):
    ctx.rebuild_table("memories", """{STRICT_ARCHIVED}""",
                      columns={{"is_archived": "coalesce(is_archived, 0)"}})
    ctx.execute("UPDATE memories SET user_id = 'nobody' WHERE id = 1")


def down(ctx):
    pass
'''
    folder = migrations_with(tmp_path, source)
    migrate(legacy_with_gap, folder, target=2)
    before = state(legacy_with_gap)
    with pytest.raises(
        MigrationError, match=r"foreign key check failed.*memories rowid 1 -> users"
    ):
        migrate(legacy_with_gap, folder)
    assert state(legacy_with_gap) == before


def test_a_leftover_temporary_table_does_not_block_the_retry(
    tmp_path: Path, legacy_with_gap: Path
) -> None:
    folder = migrations_with(tmp_path, REBUILD_MEMORIES)
    migrate(legacy_with_gap, folder, target=2)
    conn = sqlite3.connect(legacy_with_gap)  # what an interrupted hand-made rebuild leaves
    conn.execute("CREATE TABLE _memvault_rebuild_memories (id INTEGER PRIMARY KEY, junk TEXT)")
    conn.execute("INSERT INTO _memvault_rebuild_memories VALUES (1, 'half-copied')")
    conn.commit()
    conn.close()
    before = state(legacy_with_gap)
    migrate(legacy_with_gap, folder)
    assert state(legacy_with_gap) == before
    conn = sqlite3.connect(legacy_with_gap)
    assert conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE name = '_memvault_rebuild_memories'"
    ).fetchone() == (0,)
    conn.close()


WITHOUT_ARCHIVED = MEMORIES_DDL.replace("  is_archived BOOLEAN DEFAULT 0,\n", "")
WITHOUT_TAGS = MEMORIES_DDL.replace("  tags TEXT,\n", "")
DROP_ARCHIVED = f'''
foreign_keys = False
NEW = """{WITHOUT_ARCHIVED}"""


def up(ctx):
    DROP_FIRST
    ctx.rebuild_table("memories", NEW)


def down(ctx):
    pass
'''


def test_an_index_on_a_dropped_column_is_named(tmp_path: Path, db_path: Path) -> None:
    folder = migrations_with(tmp_path, DROP_ARCHIVED.replace("DROP_FIRST", "pass"))
    migrate(db_path, folder, target=2)
    with pytest.raises(MigrationError, match="index idx_memories_user_archived.*is_archived"):
        migrate(db_path, folder)
    with connect(str(db_path)) as db:
        assert db.column_exists("memories", "is_archived")
        assert db.index_exists("idx_memories_user_archived")


def test_dropping_the_index_first_lets_the_column_go(tmp_path: Path, db_path: Path) -> None:
    drop = 'ctx.execute("DROP INDEX idx_memories_user_archived")'
    folder = migrations_with(tmp_path, DROP_ARCHIVED.replace("DROP_FIRST", drop))
    migrate(db_path, folder)
    with connect(str(db_path)) as db:
        assert not db.column_exists("memories", "is_archived")
        assert db.index_exists("idx_memories_user_importance")
        assert db.trigger_exists("memories_fts_update")


def test_a_trigger_using_a_dropped_column_is_named(tmp_path: Path, db_path: Path) -> None:
    source = f'''
foreign_keys = False


def up(ctx):
    ctx.rebuild_table("memories", """{WITHOUT_TAGS}""")


def down(ctx):
    pass
'''
    folder = migrations_with(tmp_path, source)
    migrate(db_path, folder, target=2)
    with pytest.raises(MigrationError, match=r"trigger memories_fts_\w+ uses column tags"):
        migrate(db_path, folder)


def test_views_on_the_table_keep_working(tmp_path: Path, legacy_with_gap: Path) -> None:
    source = REBUILD_MEMORIES.replace(
        "def up(ctx):\n",
        "def up(ctx):\n    ctx.execute('CREATE VIEW live AS SELECT id, title FROM memories "
        "WHERE is_archived = 0')\n",
    )
    folder = migrations_with(tmp_path, source)
    migrate(legacy_with_gap, folder, target=2)
    conn = sqlite3.connect(legacy_with_gap)
    expected = conn.execute("SELECT id, title FROM memories WHERE is_archived = 0").fetchall()
    conn.close()
    migrate(legacy_with_gap, folder)
    conn = sqlite3.connect(legacy_with_gap)
    assert conn.execute("SELECT * FROM live ORDER BY id").fetchall() == expected
    conn.close()


def test_foreign_keys_flag_must_be_a_bool(tmp_path: Path) -> None:
    folder = migrations_with(
        tmp_path, "foreign_keys = 'off'\ndef up(ctx): pass\ndef down(ctx): pass\n"
    )
    with pytest.raises(
        MigrationLoadError, match="003_rebuild.py: foreign_keys must be True or False"
    ):
        load_migrations(folder)


def test_switching_foreign_keys_inside_a_migration_points_at_the_flag(
    tmp_path: Path, db_path: Path
) -> None:
    source = (
        "def up(ctx):\n    ctx.execute('PRAGMA foreign_keys = OFF')\n\ndef down(ctx):\n    pass\n"
    )
    folder = migrations_with(tmp_path, source)
    with pytest.raises(MigrationError, match=r"put `foreign_keys = False` in the file"):
        migrate(db_path, folder)


SELF_REFERENCING = """CREATE TABLE notes (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER REFERENCES notes(id) ON DELETE CASCADE,
  body TEXT{extra}
)"""


@pytest.mark.parametrize("flag", ["", "foreign_keys = False"])
def test_a_self_referencing_table_never_loses_rows(
    tmp_path: Path, db_path: Path, flag: str
) -> None:
    """With foreign keys on, dropping the old table would cascade into the copy."""
    old, new = SELF_REFERENCING.format(extra=""), SELF_REFERENCING.format(extra=" NOT NULL")
    source = f'''
{flag}


def up(ctx):
    ctx.rebuild_table("notes", """{new}""", columns={{"body": "coalesce(body, '')"}})


def down(ctx):
    pass
'''
    folder = migrations_with(tmp_path, source)
    migrate(db_path, folder, target=2)
    conn = sqlite3.connect(db_path)
    conn.execute(old)
    conn.executemany("INSERT INTO notes VALUES (?, ?, ?)", [(1, None, "root"), (2, 1, None)])
    conn.commit()
    conn.close()
    if flag:
        migrate(db_path, folder)
    else:
        with pytest.raises(MigrationError, match="foreign_keys = False"):
            migrate(db_path, folder)
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT * FROM notes ORDER BY id").fetchall()
    conn.close()
    assert rows == ([(1, None, "root"), (2, 1, "")] if flag else [(1, None, "root"), (2, 1, None)])


texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(texts, texts, st.none() | st.sampled_from([0, 1])), max_size=30),
    deleted=st.sets(st.integers(min_value=1, max_value=30)),
)
def test_any_rows_survive_a_rebuild_with_ids_and_search(
    tmp_path: Path, rows: list[tuple[str, str, int | None]], deleted: set[int]
) -> None:
    folder = tmp_path / "prop"
    if not folder.exists():
        folder.mkdir()
        migrations_with(folder, REBUILD_MEMORIES)
    migrations = load_migrations(folder / "migrations")
    with connect(":memory:") as db:
        Migrator(db, migrations, applied_by="t").up(2)
        db.executemany(
            "INSERT INTO memories (title, content, memory_type, is_archived, created_at, "
            "updated_at) VALUES (?, ?, 'MEMORY', ?, 'c', 'u')",
            rows,
        )
        db.execute(f"DELETE FROM memories WHERE id IN ({','.join(map(str, deleted)) or 0})")
        # The service's delete trigger (001) leaves the old terms behind until 007: start whole.
        db.execute("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")
        words = {w for title, content, _ in rows for w in (title + " " + content).split()}
        terms = ['"' + w.replace('"', '""') + '"' for w in sorted(words)[:5]]

        def search() -> list[list[int]]:
            return [
                [
                    r[0]
                    for r in db.query(
                        "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? ORDER BY rowid",
                        (term,),
                    )
                ]
                for term in terms
            ]

        before = [tuple(r) for r in db.query("SELECT * FROM memories ORDER BY id")]
        seq = db.scalar("SELECT seq FROM sqlite_sequence WHERE name = 'memories'")
        found = search()
        Migrator(db, migrations, applied_by="t").up()
        after = [tuple(r) for r in db.query("SELECT * FROM memories ORDER BY id")]
        expected = [(*r[:10], 0 if r[10] is None else r[10], *r[11:]) for r in before]
        assert after == expected
        assert db.scalar("SELECT seq FROM sqlite_sequence WHERE name = 'memories'") == seq
        assert search() == found
        db.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
