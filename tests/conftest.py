"""Shared fixtures: real SQLite files in a temporary folder, the CLI runner, legacy shapes."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from memvault.cli import cli
from memvault.config import BUILTIN_MIGRATIONS
from memvault.testing import LegacyShape, build_legacy_database
from sqld import (  # a real libSQL server for the tests, and a closing note about them
    libsql_url,
    pytest_terminal_summary,
    sqld_url,
    sqld_with_auth,
)

__all__ = ["libsql_url", "pytest_terminal_summary", "sqld_url", "sqld_with_auth"]

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where a test's database lives (not created)."""
    return tmp_path / "memvault.db"


@pytest.fixture
def run(db_path: Path) -> Callable[..., Result]:
    """Run the CLI against `db_path`: run("migrate", "up")."""
    runner = CliRunner()

    def invoke(
        *args: str,
        database: Path | None = None,
        migrations: Path | None = None,
        input: str | None = None,
    ) -> Result:
        argv = ["-d", str(database or db_path)]
        if migrations is not None:
            argv += ["--migrations", str(migrations)]
        return runner.invoke(cli, [*argv, *args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    """A writable copy of the built-in migrations."""
    target = tmp_path / "migrations"
    shutil.copytree(BUILTIN_MIGRATIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def legacy_v1(tmp_path: Path) -> Path:
    """A database as the TypeScript service v1.3.5 left it."""
    return build_legacy_database(tmp_path / "legacy_v1.db", LegacyShape.V1_3_5)


@pytest.fixture
def legacy_v2(tmp_path: Path) -> Path:
    """A legacy-v2 database: entities.contact_info, schema_version 1 and 2."""
    return build_legacy_database(tmp_path / "legacy_v2.db", LegacyShape.V2)


def copy_fixture(name: str, tmp_path: Path, builtin_up_to: int = 2) -> Path:
    """A migrations folder in tmp_path: the built-in migrations up to `builtin_up_to`, then the
    planted ones in tests/fixtures/<name>."""
    target = tmp_path / name
    target.mkdir()
    for path in sorted(BUILTIN_MIGRATIONS.glob("[0-9]*_*.py")):
        if int(path.name.split("_", 1)[0]) <= builtin_up_to:
            shutil.copy(path, target / path.name)
    for path in (FIXTURES / name).iterdir():
        shutil.copy(path, target / path.name)
    return target


def schema_objects(path: Path) -> dict[str, str]:
    """name -> SQL of every table, index, trigger and view (memvault's own tables left out)."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE 'schema_migrations%' AND name NOT LIKE 'memvault_%'"
        ).fetchall()
    finally:
        conn.close()
    return {name: sql or "" for name, sql in rows}


def integrity(path: Path) -> tuple[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return (
            conn.execute("PRAGMA integrity_check").fetchone()[0],
            conn.execute("PRAGMA foreign_key_check").fetchall(),
        )
    finally:
        conn.close()
