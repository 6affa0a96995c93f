"""`migrate status` and `verify` check a file with a bounded probe (every table's first row),
not a whole-file quick_check: their cost grows with the number of tables, not with every
tenant's rows. A damaged root is still refused; damage deep in a table is `db check`'s to find,
and every command that changes the schema still runs the full quick_check first."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from memvault import MemoryStore


def _filled(path: Path) -> None:
    with MemoryStore.open(path, migrate=True) as store:
        user, _key = store.users.create(email="deep@example.com")
        store.memories.create_many(
            user.id,
            [
                {"title": f"m{i}", "content": "word " * 200, "memory_type": "semantic"}
                for i in range(400)
            ],
        )


def _break_last_leaf(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    leaf = conn.execute(
        "SELECT max(pageno) FROM dbstat WHERE name = 'memories' AND pagetype = 'leaf'"
    ).fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'memories'").fetchone()
    conn.close()
    assert leaf != root[0]  # a table of several levels
    with path.open("r+b") as fh:
        fh.seek((leaf - 1) * page_size)
        fh.write(b"\xff" * 64)


def test_damage_deep_in_a_table_is_left_to_db_check(
    tmp_path: Path, run: Callable[..., Result]
) -> None:
    path = tmp_path / "deep.db"
    _filled(path)
    _break_last_leaf(path)
    status = run("migrate", "status", database=path)
    assert status.exit_code == 0, status.output  # the probe reads no leaf it does not need
    check = run("db", "check", database=path)
    assert check.exit_code == 1 and "Traceback" not in check.output
    up = run("migrate", "up", database=path)  # nothing pending, yet no change is made blind
    assert up.exit_code == 1 and "damaged" in up.output


def test_a_damaged_table_root_is_refused_by_status(
    tmp_path: Path, run: Callable[..., Result]
) -> None:
    path = tmp_path / "root.db"
    _filled(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'users'").fetchone()[0]
    conn.close()
    with path.open("r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(b"\xff" * 64)
    for command in (("migrate", "status"), ("migrate", "verify")):
        result = run(*command, database=path)
        assert result.exit_code == 1 and "damaged" in result.output, command
        assert "Traceback" not in result.output
