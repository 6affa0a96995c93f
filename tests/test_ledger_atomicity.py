"""The ledger row is written in the migration's own transaction: a fault between the
migration's last statement and its ledger write, or a ledger write that fails, leaves
nothing of the migration (deterministic, no kill timing involved)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect
from memvault.errors import MigrationError
from memvault.migrations import Migrator, load_migrations
from memvault.migrations.recorder import Recorder


def app_dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [line for line in conn.iterdump() if "schema_migrations" not in line]
    finally:
        conn.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """001 and 002, and a 003 that creates a table and a row."""
    target = tmp_path / "migs"
    target.mkdir()
    for path in sorted(BUILTIN_MIGRATIONS.glob("00[12]_*.py")):
        shutil.copy(path, target / path.name)
    return target


def add_003(folder: Path) -> None:
    (folder / "003_notes.sql").write_text(
        "-- migrate:up\nCREATE TABLE notes(x);\nINSERT INTO notes VALUES (1);\n"
        "-- migrate:down\nDROP TABLE notes;\n"
    )


def migrate(db_path: Path, folder: Path) -> None:
    with connect(str(db_path)) as db:
        Migrator(db, load_migrations(folder), applied_by="t").up()


def ledger(db_path: Path) -> dict[int, str]:
    conn = sqlite3.connect(db_path)
    try:
        return dict(conn.execute("SELECT version, status FROM schema_migrations").fetchall())
    finally:
        conn.close()


def test_fault_before_the_ledger_write_leaves_nothing(
    db_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(db_path, folder)
    before = app_dump(db_path)
    add_003(folder)
    real = Recorder.record

    def fault(self: Recorder, **row: Any) -> None:
        if row["status"] == "applied":
            raise RuntimeError("power cut between the last statement and the ledger write")
        real(self, **row)

    monkeypatch.setattr(Recorder, "record", fault)
    with pytest.raises(MigrationError, match="nothing of it was kept: RuntimeError: power cut"):
        migrate(db_path, folder)
    assert app_dump(db_path) == before
    assert ledger(db_path) == {1: "applied", 2: "applied", 3: "failed"}


def test_a_failing_ledger_write_leaves_nothing(db_path: Path, folder: Path) -> None:
    migrate(db_path, folder)
    conn = sqlite3.connect(db_path)
    conn.execute(
        "CREATE TRIGGER refuse_003 BEFORE INSERT ON schema_migrations "
        "WHEN NEW.version = 3 AND NEW.status = 'applied' "
        "BEGIN SELECT RAISE(ABORT, 'ledger is full'); END"
    )
    conn.commit()
    conn.close()
    before = app_dump(db_path)
    add_003(folder)
    with pytest.raises(MigrationError, match="ledger is full"):
        migrate(db_path, folder)
    assert app_dump(db_path) == before
    assert ledger(db_path) == {1: "applied", 2: "applied", 3: "failed"}


def test_a_failing_history_write_leaves_nothing(db_path: Path, folder: Path) -> None:
    migrate(db_path, folder)
    conn = sqlite3.connect(db_path)
    conn.execute(
        "CREATE TRIGGER refuse_history BEFORE INSERT ON schema_migrations_history "
        "WHEN NEW.version = 3 AND NEW.action = 'apply' "
        "BEGIN SELECT RAISE(ABORT, 'history is full'); END"
    )
    conn.commit()
    conn.close()
    before = app_dump(db_path)
    add_003(folder)
    with pytest.raises(MigrationError, match="history is full"):
        migrate(db_path, folder)
    assert app_dump(db_path) == before
    assert ledger(db_path)[3] == "failed"
