"""No spelling of BEGIN, COMMIT, SAVEPOINT, ATTACH or a state-changing PRAGMA gets out of a
migration's transaction: SQLite's authorizer refuses it before it runs, and the database
is left exactly as it was before `up` (memvault's failure record aside)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect
from memvault.db.guard import is_empty_statement
from memvault.errors import StatementRefusedError
from memvault.migrations import Migrator, load_migrations
from memvault.migrations.sqlfile import split_statements


def app_dump(path: Path) -> list[str]:
    """Every line of a full dump except memvault's own ledger, history and lock tables."""
    conn = sqlite3.connect(path)
    try:
        return [line for line in conn.iterdump() if "schema_migrations" not in line]
    finally:
        conn.close()


@pytest.fixture
def at_version_2(tmp_path: Path, run: Callable[..., Result], db_path: Path) -> Path:
    """A migrations folder holding 001 and 002, applied to db_path."""
    folder = tmp_path / "migs"
    folder.mkdir()
    for path in sorted(BUILTIN_MIGRATIONS.glob("00[12]_*.py")):
        shutil.copy(path, folder / path.name)
    assert run("migrate", "up", migrations=folder).exit_code == 0
    return folder


SQL_ESCAPES = [
    "CREATE TABLE a(x);\n/* c */ COMMIT;\nCREATE TABLE b(y);",
    "CREATE TABLE a(x);\n/**/COMMIT;",
    "CREATE TABLE a(x);\n-- hi\nCOMMIT;",
    "CREATE TABLE a(x);\ncOmMiT TrAnSaCtIoN;",
    "CREATE TABLE a(x);\nEND;",
    "CREATE TABLE a(x);\nROLLBACK;",
    "CREATE TABLE a(x);\nBEGIN;",
    "CREATE TABLE a(x);\nSAVEPOINT s;\nRELEASE s;",
    "CREATE TABLE a(x);\n/* */ PRAGMA foreign_keys=OFF;",
    "CREATE TABLE a(x);\n/* */ ATTACH ':memory:' AS x;",
    "CREATE TABLE a(x);\nPRAGMA writable_schema = 1;",
    "CREATE TABLE a(x);\nPRAGMA main.journal_mode = DELETE;",
    "CREATE TABLE a(x);\nDETACH main;",
    "CREATE TABLE a(x);\nVACUUM;",
]


@pytest.mark.parametrize("up_sql", SQL_ESCAPES)
def test_sql_migration_cannot_leave_its_transaction(
    up_sql: str, at_version_2: Path, run: Callable[..., Result], db_path: Path
) -> None:
    before = app_dump(db_path)
    (at_version_2 / "003_escape.sql").write_text(
        f"-- migrate:up\n{up_sql}\n-- migrate:down\nDROP TABLE a;\n"
    )
    result = run("migrate", "up", migrations=at_version_2)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("memvault: error")]
    assert len(lines) == 1 and "003_escape.sql" in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert app_dump(db_path) == before
    assert "'a'" not in str(app_dump(db_path))


PYTHON_ESCAPES = [
    "ctx.execute('/* c */ COMMIT')",
    "ctx.execute('-- hi\\nCOMMIT')",
    "ctx.query('COMMIT')",
    "ctx.scalar('COMMIT')",
    "ctx.executemany('COMMIT', [()])",
    "ctx.executescript('CREATE TABLE b(y); COMMIT;')",
    "ctx.execute('SAVEPOINT s')",
    "ctx.execute('RELEASE memvault_sp_1')",
    "ctx.execute('ROLLBACK')",
    "ctx.execute('end')",
    "ctx.execute('/* */ PRAGMA foreign_keys=OFF')",
    "ctx.execute(\"ATTACH ':memory:' AS x\")",
    "ctx.execute('PRAGMA writable_schema = 1')",
    "ctx.db.execute('COMMIT')",
    "ctx.db.conn.execute('COMMIT')",
    "ctx.db.conn.executescript('SELECT 1')",
    "ctx.db.conn.commit(); ctx.execute('COMMIT')",
    "exec('try:\\n    ctx.execute(\"COMMIT\")\\nexcept Exception:\\n    pass')",
]


@pytest.mark.parametrize("escape", PYTHON_ESCAPES)
def test_python_migration_cannot_leave_its_transaction(
    escape: str, at_version_2: Path, run: Callable[..., Result], db_path: Path
) -> None:
    before = app_dump(db_path)
    (at_version_2 / "003_escape.py").write_text(
        '"""Try to escape."""\n\n\ndef up(ctx):\n'
        "    ctx.execute('CREATE TABLE a(x)')\n"
        f"    {escape}\n"
        "    ctx.execute('CREATE TABLE c(z)')\n\n\n"
        "def down(ctx):\n    ctx.execute('DROP TABLE a')\n"
    )
    result = run("migrate", "up", migrations=at_version_2)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("memvault: error")]
    assert len(lines) == 1 and "003_escape.py" in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert app_dump(db_path) == before


def test_the_refusal_names_the_statement_and_what_it_does(
    at_version_2: Path, run: Callable[..., Result]
) -> None:
    (at_version_2 / "003_escape.sql").write_text(
        "-- migrate:up\nCREATE TABLE a(x);\n-- hi\nCOMMIT;\n-- migrate:down\nDROP TABLE a;\n"
    )
    message = run("migrate", "up", migrations=at_version_2).stderr
    assert "'-- hi COMMIT'" in message and "COMMIT (a transaction statement)" in message
    assert "nothing of it was kept" in message


def test_foreign_keys_pragma_points_at_the_declaration(
    at_version_2: Path, run: Callable[..., Result]
) -> None:
    (at_version_2 / "003_escape.sql").write_text(
        "-- migrate:up\nPRAGMA foreign_keys = OFF;\n-- migrate:down\nSELECT 1;\n"
    )
    assert "`-- foreign_keys: off`" in run("migrate", "up", migrations=at_version_2).stderr


def test_dry_run_refuses_the_same_and_changes_nothing(
    at_version_2: Path, run: Callable[..., Result], db_path: Path
) -> None:
    before = db_path.read_bytes()
    (at_version_2 / "003_escape.sql").write_text(
        "-- migrate:up\nCREATE TABLE a(x);\n/**/COMMIT;\n-- migrate:down\nDROP TABLE a;\n"
    )
    result = run("migrate", "up", "--dry-run", migrations=at_version_2)
    assert result.exit_code == 1 and "COMMIT" in result.stderr
    assert db_path.read_bytes() == before


def test_reading_pragmas_and_table_functions_stay_allowed(
    at_version_2: Path, run: Callable[..., Result], db_path: Path
) -> None:
    (at_version_2 / "003_reads.py").write_text(
        '"""Reads."""\n\n\ndef up(ctx):\n'
        "    assert ctx.scalar('PRAGMA foreign_keys') == 1\n"
        "    ctx.query('PRAGMA table_info(users)')\n"
        "    ctx.query(\"SELECT name FROM pragma_table_info('users')\")\n"
        "    ctx.execute('PRAGMA defer_foreign_keys = ON')\n"
        "    ctx.executescript('CREATE TABLE a(x); -- note\\nCREATE INDEX a_x ON a(x);')\n\n\n"
        "def down(ctx):\n    ctx.execute('DROP TABLE a')\n"
    )
    result = run("migrate", "up", migrations=at_version_2)
    assert result.exit_code == 0, result.output
    with connect(str(db_path), create=False) as db:
        assert db.table_exists("a") and db.index_exists("a_x")


def test_memvaults_own_savepoints_pass_the_guard(db_path: Path) -> None:
    """A rebuild inside a migration uses savepoints and PRAGMAs of memvault's own."""
    with connect(str(db_path)) as db:
        Migrator(db, load_migrations(BUILTIN_MIGRATIONS), applied_by="t").up()
        with db.atomic(), db.guarded():
            with db.atomic():  # a savepoint of memvault's own
                db.execute("CREATE TABLE x(y)")
            with pytest.raises(StatementRefusedError, match="SAVEPOINT mine"):
                db.execute("SAVEPOINT mine")


@pytest.mark.parametrize(
    ("sql", "empty"),
    [
        ("-- only a comment", True),
        ("/* c */ ;", True),
        ("", True),
        ("  ;", True),
        ("SELECT 1", False),
        ("COMMIT", False),
        ("INSERT INTO nowhere VALUES (1)", False),
    ],
)
def test_sqlite_decides_what_is_empty(sql: str, empty: bool) -> None:
    assert is_empty_statement(sql) is empty


def test_statements_split_where_sqlite_says_they_end() -> None:
    script = (
        "CREATE TABLE a(x); /* c; */ COMMIT; -- hi;\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT ';'; END; -- tail"
    )
    assert split_statements(script) == [
        "CREATE TABLE a(x)",
        "/* c; */ COMMIT",
        "-- hi;\nCREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT ';'; END",
    ]
