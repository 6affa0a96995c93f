"""`memvault migrate` end to end on real SQLite files: the must-shows of the foundation issue."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import integrity, schema_objects
from memvault.config import BUILTIN_MIGRATIONS
from memvault.migrations import load_migrations
from memvault.testing import snapshot_rows

NEWEST = load_migrations(BUILTIN_MIGRATIONS)[-1].version
# Versions may have gaps (each issue owns its numbers until the merge renumbers them).
COUNT = len(load_migrations(BUILTIN_MIGRATIONS))
PREVIOUS = load_migrations(BUILTIN_MIGRATIONS)[-2].version
ALL_VERSIONS = [m.version for m in load_migrations(BUILTIN_MIGRATIONS)]
IDX_002 = ("idx_entities_user_created", "idx_memories_user_updated")


def ledger(path: Path) -> dict[int, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT version, status FROM schema_migrations").fetchall())
    finally:
        conn.close()


def indexes(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        conn.close()


def status_json(run, **kw) -> dict:
    result = run("migrate", "status", "--json", **kw)
    return json.loads(result.output)


def file_state(path: Path) -> tuple[str, list[str]]:
    """The file's sha256 and the names of every file beside it (journals included)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"
    return digest, sorted(p.name for p in path.parent.iterdir())


# -- a fresh file ------------------------------------------------------------------


def test_fresh_file_up_verify_idempotent_and_clean(run, db_path: Path) -> None:
    result = run("migrate", "up")
    assert result.exit_code == 0, result.output
    st = status_json(run)
    assert st["current_version"] == NEWEST
    assert [a["version"] for a in st["applied"]] == ALL_VERSIONS
    assert all(a["status"] == "applied" and a["checksum_ok"] for a in st["applied"])
    assert st["pending"] == []

    verify = run("migrate", "verify")
    assert verify.exit_code == 0, verify.output

    before = file_state(db_path)[0]
    again = run("migrate", "up", "--json")
    assert again.exit_code == 0
    assert json.loads(again.output)["steps"] == []
    assert file_state(db_path)[0] == before  # a second up changes nothing

    assert integrity(db_path) == ("ok", [])


def test_ledger_columns_and_history(run, db_path: Path) -> None:
    run("migrate", "up")
    conn = sqlite3.connect(db_path)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(schema_migrations)")]
    assert cols == [
        "version",
        "name",
        "description",
        "applied_at",
        "applied_by",
        "duration_ms",
        "checksum",
        "status",
    ]
    rows = conn.execute(
        "SELECT applied_by, checksum, duration_ms FROM schema_migrations"
    ).fetchall()
    assert all("@" in by and len(ck) == 64 and ms >= 0 for by, ck, ms in rows)
    actions = [r[0] for r in conn.execute("SELECT action FROM schema_migrations_history")]
    assert actions == ["apply"] * len(ALL_VERSIONS)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM schema_migrations_history")
    conn.close()


def test_applied_by_option_and_env(run, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMVAULT_APPLIED_BY", "deploy-bot")
    run("migrate", "up", "--to", "1")
    from click.testing import CliRunner

    from memvault.cli import cli

    CliRunner().invoke(cli, ["-d", str(db_path), "--applied-by", "alice", "migrate", "up"])
    conn = sqlite3.connect(db_path)
    by = dict(conn.execute("SELECT version, applied_by FROM schema_migrations").fetchall())
    assert by[1] == "deploy-bot" and by[2] == "alice"


def test_database_url_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from memvault.cli import cli

    target = tmp_path / "via-env.db"
    monkeypatch.setenv("MEMVAULT_DATABASE", f"sqlite:///{target}")
    result = CliRunner().invoke(cli, ["migrate", "up", "--to", "1"])
    assert result.exit_code == 0, result.output
    assert ledger(target) == {1: "applied"}


# -- legacy adoption ---------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["legacy_v1", "legacy_v2"])
def test_legacy_adopted_at_001_then_up_creates_002(run, fixture: str, request) -> None:
    path: Path = request.getfixturevalue(fixture)
    rows_before = snapshot_rows(path)

    st = status_json(run, database=path)
    assert st["legacy"] is not None and st["legacy"]["adoptable"] == [1]
    assert [p["version"] for p in st["pending"]] == ALL_VERSIONS[1:]
    conn = sqlite3.connect(path)
    assert (
        conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'"
        ).fetchone()[0]
        == 0
    ), "status must not write the ledger"
    conn.close()

    result = run("migrate", "up", database=path)
    assert result.exit_code == 0, result.output
    assert "adopted legacy schema_version" in result.output
    conn = sqlite3.connect(path)
    led = conn.execute(
        "SELECT version, status, description FROM schema_migrations ORDER BY version"
    ).fetchall()
    conn.close()
    assert led[0][0] == 1 and "adopted from legacy schema_version" in led[0][2]
    assert [v for v, s, _ in led] == ALL_VERSIONS and {s for _, s, _ in led} == {"applied"}
    assert set(IDX_002) <= indexes(path)
    assert run("migrate", "verify", database=path).exit_code == 0

    rows_after = snapshot_rows(path)
    # 002 only adds indexes: every legacy row outside memories' embeddings is identical.
    for table in ("users", "entities", "interactions", "api_usage_tracking", "schema_version"):
        assert rows_after[table] == rows_before[table], table
    assert len(rows_after["memories"]) == len(rows_before["memories"])
    assert integrity(path)[0] == "ok"


def test_legacy_adoption_leaves_rows_identical_at_002(run, legacy_v2: Path) -> None:
    rows_before = snapshot_rows(legacy_v2)
    assert run("migrate", "up", "--to", "2", database=legacy_v2).exit_code == 0
    assert ledger(legacy_v2) == {1: "applied", 2: "applied"}
    assert snapshot_rows(legacy_v2) == rows_before
    conn = sqlite3.connect(legacy_v2)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(entities)")]
    conn.close()
    assert cols.index("contact_info") == cols.index("title") + 1


# -- up, down, to ------------------------------------------------------------------


def test_up_down_up_to1_to_newest(run, db_path: Path) -> None:
    assert run("migrate", "up").exit_code == 0
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO users (id, email, created_at, updated_at) VALUES ('u', 'u@x', 't', 't')"
    )
    conn.execute(
        "INSERT INTO memories (user_id, title, content, memory_type, created_at, updated_at) "
        "VALUES ('u', 'keep me', 'body', 'MEMORY', 't', 't')"
    )
    conn.commit()
    conn.close()
    schema_newest = schema_objects(db_path)

    run("migrate", "down", str(COUNT - 1))
    assert ledger(db_path)[2] == "rolled_back" and ledger(db_path)[1] == "applied"
    assert not set(IDX_002) & indexes(db_path)
    assert status_json(run)["current_version"] == 1

    run("migrate", "up")
    assert set(IDX_002) <= indexes(db_path)
    assert schema_objects(db_path) == schema_newest

    run("migrate", "to", "1")
    assert not set(IDX_002) & indexes(db_path)
    assert status_json(run)["current_version"] == 1

    run("migrate", "to", str(NEWEST))
    assert schema_objects(db_path) == schema_newest
    assert status_json(run)["current_version"] == NEWEST
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT title FROM memories").fetchall() == [("keep me",)]
    actions = [r[0] for r in conn.execute("SELECT action FROM schema_migrations_history")]
    conn.close()
    assert actions.count("rollback") == 2 * (COUNT - 1)
    assert integrity(db_path) == ("ok", [])


def test_down_defaults_to_one(run, db_path: Path) -> None:
    run("migrate", "up")
    run("migrate", "down")
    assert status_json(run)["current_version"] == PREVIOUS


def test_to_zero_removes_everything_but_the_ledger(run, db_path: Path) -> None:
    run("migrate", "up")
    assert run("migrate", "to", "0").exit_code == 0
    assert schema_objects(db_path) == {}
    assert set(ledger(db_path).values()) == {"rolled_back"}


# -- atomicity ---------------------------------------------------------------------

FAILING = """-- migrate:up
CREATE TABLE a (x INTEGER);
INSERT INTO a VALUES (1);
CREATE INDEX idx_a ON a(x);
INSERT INTO no_such_table VALUES (1);
-- migrate:down
DROP TABLE a;
"""


def test_failure_on_fourth_statement_leaves_nothing(run, db_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    (folder / "001_base.sql").write_text(
        "-- migrate:up\nCREATE TABLE base (id INTEGER PRIMARY KEY);\n"
        "-- migrate:down\nDROP TABLE base;\n"
    )
    (folder / "002_four.sql").write_text(FAILING)
    result = run("migrate", "up", migrations=folder)
    assert result.exit_code == 1
    assert "002_four.sql failed" in result.output and "no_such_table" in result.output
    assert set(schema_objects(db_path)) == {"base"}  # nothing of a, idx_a
    assert ledger(db_path) == {1: "applied", 2: "failed"}
    conn = sqlite3.connect(db_path)
    fail = conn.execute(
        "SELECT action, error FROM schema_migrations_history WHERE version = 2"
    ).fetchall()
    conn.close()
    assert fail[0][0] == "fail" and "no_such_table" in fail[0][1]
    st = status_json(run, migrations=folder)
    assert [p["version"] for p in st["pending"]] == [2]

    (folder / "002_four.sql").write_text(FAILING.replace("no_such_table", "a"))
    assert run("migrate", "up", migrations=folder).exit_code == 0
    assert ledger(db_path) == {1: "applied", 2: "applied"}
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT x FROM a ORDER BY x").fetchall() == [(1,), (1,)]
    conn.close()


def test_failing_verify_rolls_back(run, db_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    (folder / "001_t.py").write_text(
        "def up(ctx):\n    ctx.execute('CREATE TABLE t (x)')\n"
        "def down(ctx):\n    ctx.execute('DROP TABLE t')\n"
        "def verify(ctx):\n    return 'table t looks wrong'\n"
    )
    result = run("migrate", "up", migrations=folder)
    assert result.exit_code == 1 and "table t looks wrong" in result.output
    assert "t" not in schema_objects(db_path)


def test_transaction_control_inside_migration_is_refused(run, db_path, tmp_path: Path) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    (folder / "001_t.py").write_text(
        "def up(ctx):\n    ctx.execute('CREATE TABLE t (x)')\n    ctx.execute('COMMIT')\n"
        "def down(ctx):\n    pass\n"
    )
    result = run("migrate", "up", migrations=folder)
    assert result.exit_code == 1 and "'COMMIT' is not allowed" in result.output
    assert "t" not in schema_objects(db_path)


# -- drift -------------------------------------------------------------------------


def test_edited_migration_is_caught(run, db_path: Path, migrations_dir: Path) -> None:
    assert run("migrate", "up", migrations=migrations_dir).exit_code == 0
    target = migrations_dir / "002_add_missing_indices.py"
    target.write_text(target.read_text() + "\n# an innocent-looking edit\n")

    verify = run("migrate", "verify", migrations=migrations_dir)
    assert verify.exit_code == 1
    assert "002_add_missing_indices" in verify.output and "edited" in verify.output

    status = run("migrate", "status", migrations=migrations_dir)
    assert (
        status.exit_code == 1
        and "Drift" in status.output
        and "002_add_missing_indices" in status.output
    )
    st = status_json(run, migrations=migrations_dir)
    assert [d["version"] for d in st["drift"]] == [2]

    down = run("migrate", "down", migrations=migrations_dir)
    assert down.exit_code == 1 and "--allow-drift" in down.output
    assert status_json(run, migrations=migrations_dir)["current_version"] == NEWEST

    repair = run("migrate", "repair", migrations=migrations_dir)
    assert repair.exit_code == 0 and "002_add_missing_indices" in repair.output
    assert run("migrate", "verify", migrations=migrations_dir).exit_code == 0
    conn = sqlite3.connect(db_path)
    assert (
        conn.execute(
            "SELECT count(*) FROM schema_migrations_history WHERE action = 'repair'"
        ).fetchone()[0]
        == 1
    )
    conn.close()


def test_crlf_resave_is_not_drift(run, migrations_dir: Path) -> None:
    run("migrate", "up", migrations=migrations_dir)
    target = migrations_dir / "002_add_missing_indices.py"
    target.write_bytes(target.read_bytes().replace(b"\n", b"\r\n"))
    assert run("migrate", "verify", migrations=migrations_dir).exit_code == 0


def test_allow_drift_lets_up_continue(run, db_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    one = folder / "001_a.sql"
    one.write_text("-- migrate:up\nCREATE TABLE a (x);\n-- migrate:down\nDROP TABLE a;\n")
    run("migrate", "up", migrations=folder)
    one.write_text(one.read_text() + "-- edited\n")
    (folder / "002_b.sql").write_text(
        "-- migrate:up\nCREATE TABLE b (x);\n-- migrate:down\nDROP TABLE b;\n"
    )
    refused = run("migrate", "up", migrations=folder)
    assert refused.exit_code == 1 and "001_a was edited" in refused.output
    assert "b" not in schema_objects(db_path)
    assert run("migrate", "up", "--allow-drift", migrations=folder).exit_code == 0
    assert "b" in schema_objects(db_path)


# -- dry run -----------------------------------------------------------------------


def test_dry_run_on_legacy_shows_002_and_changes_nothing(run, legacy_v1: Path) -> None:
    before = file_state(legacy_v1)
    result = run("migrate", "up", "--dry-run", database=legacy_v1)
    assert result.exit_code == 0, result.output
    assert (
        "CREATE INDEX idx_entities_user_created ON entities(user_id, created_at DESC);"
        in result.output
    )
    assert (
        "CREATE INDEX idx_memories_user_updated ON memories(user_id, updated_at DESC);"
        in result.output
    )
    assert "nothing was changed" in result.output
    assert file_state(legacy_v1) == before


def test_dry_run_on_wal_database_leaves_no_side_files(run, db_path: Path) -> None:
    run("migrate", "up", "--to", "1")
    assert file_state(db_path)[1] == ["memvault.db"]
    before = file_state(db_path)
    result = run("migrate", "up", "--dry-run", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["dry_run"] is True and data["steps"][0]["version"] == 2
    assert any("idx_entities_user_created" in s for s in data["steps"][0]["statements"])
    assert file_state(db_path) == before
    run("migrate", "down", "--dry-run")
    assert file_state(db_path) == before


def test_dry_run_does_not_create_a_missing_database(run, db_path: Path) -> None:
    result = run("migrate", "up", "--dry-run")
    assert result.exit_code == 0
    assert "CREATE TABLE users" in result.output
    assert not db_path.exists() and list(db_path.parent.iterdir()) == []


def test_status_of_missing_database_does_not_create_it(run, db_path: Path) -> None:
    st = status_json(run)
    assert st["current_version"] == 0 and len(st["pending"]) == len(ALL_VERSIONS)
    assert not db_path.exists()


# -- create ------------------------------------------------------------------------


@pytest.mark.parametrize("flag, ext", [((), "py"), (("--sql",), "sql")])
def test_create_writes_next_number_which_applies(run, db_path, tmp_path: Path, flag, ext) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    for m in load_migrations(BUILTIN_MIGRATIONS)[:2]:
        (folder / m.filename).write_bytes(m.path.read_bytes())
    result = run("migrate", "create", "add_feature", *flag, migrations=folder)
    assert result.exit_code == 0, result.output
    created = folder / f"003_add_feature.{ext}"
    assert result.output.strip() == str(created) and created.exists()
    assert "fill in" in created.read_text()
    up = run("migrate", "up", migrations=folder)
    assert up.exit_code == 0, up.output
    assert ledger(db_path) == {1: "applied", 2: "applied", 3: "applied"}
    assert run("migrate", "down", migrations=folder).exit_code == 0


def test_create_slugifies_and_rejects_empty_names(run, tmp_path: Path) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    assert (
        run("migrate", "create", "Add Feature!", migrations=folder)
        .output.strip()
        .endswith("001_add_feature.py")
    )
    bad = run("migrate", "create", "!!!", migrations=folder)
    assert bad.exit_code == 2 and "no letters or digits" in bad.output


# -- bad input ---------------------------------------------------------------------


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_not_a_database(run, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello, I am not a database\n" * 20)
    before = bogus.read_bytes()
    result = run("migrate", "up", database=bogus)
    assert result.exit_code == 1
    assert "notes.txt is not a SQLite database" in one_error_line(result.output)
    assert bogus.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt"
    ]


@pytest.mark.parametrize(
    "args, needle",
    [
        (("to", "abc"), "'abc'"),
        (("to", "999"), "unknown migration version 999"),
        (("down", "-1"), "'-1'"),
        (("down", "0"), "'0'"),
        (("down", "x"), "'x'"),
        (("to", "-3"), "-3"),
    ],
)
def test_bad_arguments_change_nothing(run, db_path: Path, args, needle) -> None:
    run("migrate", "up", "--to", "1")
    before = file_state(db_path)
    result = run("migrate", *args)
    assert result.exit_code == 2
    assert needle in one_error_line(result.output)
    assert file_state(db_path) == before


def test_down_more_than_applied(run, db_path: Path) -> None:
    run("migrate", "up", "--to", "1")
    result = run("migrate", "down", "5")
    assert result.exit_code == 2 and "only 1 applied" in one_error_line(result.output)


def test_duplicate_versions_change_nothing(run, db_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    for name in ("001_a.sql", "001_b.sql"):
        (folder / name).write_text(
            "-- migrate:up\nCREATE TABLE t (x);\n-- migrate:down\nDROP TABLE t;\n"
        )
    result = run("migrate", "up", migrations=folder)
    line = one_error_line(result.output)
    assert result.exit_code == 1 and "001_a.sql" in line and "001_b.sql" in line
    assert not db_path.exists()


def test_python_syntax_error_changes_nothing(run, db_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    (folder / "001_bad.py").write_text("def up(ctx:\n    pass\n")
    result = run("migrate", "up", migrations=folder)
    assert result.exit_code == 1 and "001_bad.py, line 1" in one_error_line(result.output)
    assert not db_path.exists()


def test_missing_migrations_folder(run, db_path: Path, tmp_path: Path) -> None:
    result = run("migrate", "up", migrations=tmp_path / "nope")
    assert result.exit_code == 2 and "nope does not exist" in one_error_line(result.output)
    assert not db_path.exists()


def test_unsupported_backend_url(run) -> None:
    result = run("migrate", "status", database="postgresql://localhost/db")  # type: ignore[arg-type]
    assert result.exit_code == 2 and "PostgreSQL backend is not available yet" in result.output


def test_debug_shows_traceback(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from memvault.cli import cli

    result = CliRunner().invoke(
        cli, ["--debug", "--migrations", str(tmp_path / "x"), "migrate", "up"]
    )
    assert result.exit_code == 2 and "Traceback" in result.output


# -- entry points ------------------------------------------------------------------


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    proc = subprocess.run(
        [sys.executable, "-m", "memvault", "-d", str(db), "migrate", "up"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "memvault", "-d", str(db), "migrate", "to", "abc"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_reading_commands_leave_a_legacy_file_byte_identical(run, legacy_v1: Path) -> None:
    before = file_state(legacy_v1)
    for args in (("migrate", "status"), ("migrate", "verify"), ("migrate", "history")):
        run(*args, database=legacy_v1)
        assert file_state(legacy_v1) == before, args


def test_a_later_migration_may_supersede_what_an_earlier_one_made(run, tmp_path: Path) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    (folder / "001_index.sql").write_text(
        "-- migrate:up\nCREATE TABLE t (x);\nCREATE INDEX idx_t ON t(x);\n"
        "-- migrate:down\nDROP TABLE t;\n"
        "-- migrate:verify\nSELECT count(*) = 1 FROM sqlite_master WHERE name = 'idx_t';\n"
    )
    drop = (
        "def up(ctx):\n    ctx.execute('DROP INDEX idx_t')\n"
        "def down(ctx):\n    ctx.execute('CREATE INDEX idx_t ON t(x)')\n"
        "def verify(ctx):\n    return not ctx.index_exists('idx_t')\n"
    )
    (folder / "002_drop_index.py").write_text(drop)
    assert run("migrate", "up", migrations=folder).exit_code == 0
    failing = run("migrate", "verify", migrations=folder)
    assert failing.exit_code == 1 and "FAIL 001_index" in failing.output

    (folder / "002_drop_index.py").write_text("supersedes = [1]\n" + drop)
    assert run("migrate", "repair", migrations=folder).exit_code == 0
    passing = run("migrate", "verify", migrations=folder)
    assert passing.exit_code == 0, passing.output
    assert "001_index (superseded by 002" in passing.output


def test_supersedes_must_name_earlier_versions(run, tmp_path: Path) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    (folder / "001_a.py").write_text("supersedes = [3]\ndef up(ctx): pass\ndef down(ctx): pass\n")
    result = run("migrate", "up", migrations=folder)
    assert (
        result.exit_code == 1 and "001_a.py: supersedes must list earlier versions" in result.output
    )


def test_create_refuses_to_write_into_an_installed_package(
    run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed = tmp_path / "lib" / "site-packages" / "memvault" / "migrations" / "versions"
    installed.mkdir(parents=True)
    monkeypatch.setattr("memvault.cli.app.BUILTIN_MIGRATIONS", installed)
    monkeypatch.setattr("memvault.config.BUILTIN_MIGRATIONS", installed)
    result = run("migrate", "create", "add_thing")
    assert result.exit_code == 2 and "pass --migrations DIR" in one_error_line(result.output)
    assert list(installed.iterdir()) == []


@pytest.mark.parametrize("wal_file_present", [False, True])
def test_large_snapshot_uses_a_temporary_file_and_leaves_nothing(
    legacy_v1: Path, wal_file_present: bool
) -> None:
    from memvault.db import connect, snapshot
    from memvault.migrations import Migrator

    with connect(str(legacy_v1)) as db:  # switches the legacy file to WAL
        db.execute("SELECT 1")
    holder = sqlite3.connect(legacy_v1) if wal_file_present else None
    if holder is not None:  # an open connection keeps a -wal file with committed pages
        holder.execute("PRAGMA wal_autocheckpoint = 0")
        holder.execute("UPDATE users SET name = 'in the wal' WHERE id = 'user-0'")
        holder.commit()
    before = file_state(legacy_v1)
    copy = snapshot(str(legacy_v1), in_memory_max=0)
    try:
        scratch = Path(copy.conn.execute("PRAGMA database_list").fetchone()[2])
        assert scratch.exists() and scratch.parent != legacy_v1.parent
        name = copy.scalar("SELECT name FROM users WHERE id = 'user-0'")
        assert (name == "in the wal") is wal_file_present
        steps = Migrator(
            copy, load_migrations(BUILTIN_MIGRATIONS), applied_by="t", dry_run=True
        ).up()
        assert [s.migration.version for s in steps] == ALL_VERSIONS[1:]
    finally:
        copy.close()
        if holder is not None:
            holder.close()
    assert not scratch.exists()
    if not wal_file_present:
        assert file_state(legacy_v1) == before


def test_sql_migration_can_run_with_foreign_keys_off(run, db_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    (folder / "001_fk_off.sql").write_text(
        "-- foreign_keys: off\n-- migrate:up\nCREATE TABLE t (x);\n-- migrate:down\nDROP TABLE t;\n"
        "-- migrate:verify\nSELECT (SELECT foreign_keys FROM pragma_foreign_keys) = 0;\n"
    )
    result = run("migrate", "up", migrations=folder)
    assert result.exit_code == 0, result.output
