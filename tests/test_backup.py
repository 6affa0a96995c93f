"""Backups and restores: exact round trips, validation first, nothing lost, online copies."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memvault.cli
from memvault.errors import ConfigError, ValidationError
from memvault.ops.backup import backup_database, inspect_backup, prepare_restore
from memvault.testing import snapshot_rows

SRC = Path(memvault.cli.__file__).resolve().parents[2]
TS = "2025-10-06T12:00:00.000Z"


def _add_memories(db: Path, user: str, titles: list[str]) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT OR IGNORE INTO users (id, email, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (user, f"{user}@example.com", TS, TS),
        )
        conn.executemany(
            "INSERT INTO memories (user_id, title, content, memory_type, created_at, updated_at)"
            " VALUES (?, ?, ?, 'fact', ?, ?)",
            [(user, t, f"content of {t}", TS, TS) for t in titles],
        )
    conn.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if ".partial-" in p.name or ".restore-" in p.name
    )


@pytest.fixture
def migrated(run: Callable[..., Result], db_path: Path) -> Path:
    assert run("migrate", "up").exit_code == 0
    _add_memories(db_path, "alice", [f"note {i}" for i in range(50)])
    return db_path


def test_backup_change_restore_gives_back_exactly_the_backed_up_rows(
    run: Callable[..., Result], migrated: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "saved.db"
    result = run("db", "backup", str(backup))
    assert result.exit_code == 0, result.output
    saved = snapshot_rows(backup)
    assert saved == snapshot_rows(migrated)
    # Change the data: delete, update, insert.
    conn = sqlite3.connect(migrated)
    with conn:
        conn.execute("DELETE FROM memories WHERE id % 3 = 0")
        conn.execute("UPDATE memories SET title = 'changed'")
    conn.close()
    _add_memories(migrated, "bob", ["new"])
    changed = snapshot_rows(migrated)
    assert changed != saved
    result = run("db", "restore", str(backup), "--yes")
    assert result.exit_code == 0, result.output
    assert snapshot_rows(migrated) == saved
    kept = list(tmp_path.glob("memvault.db.replaced-*"))
    assert len(kept) == 1 and snapshot_rows(kept[0]) == changed  # nothing lost
    assert f"kept at {kept[0]}" in result.output
    conn = sqlite3.connect(migrated)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM schema_migrations_lock").fetchone()[0] == 0
    conn.close()
    assert _leftovers(tmp_path) == []
    assert run("migrate", "verify").exit_code == 0


def test_restore_reaches_connections_that_stay_open(migrated: Path, tmp_path: Path) -> None:
    """Committed pages still in the -wal, and a reader that stays open, see the backup."""
    backup = backup_database(migrated, tmp_path / "saved.db").path
    reader = sqlite3.connect(migrated)
    try:
        reader.execute("PRAGMA journal_mode = WAL")
        with reader:
            reader.execute("DELETE FROM memories")  # lives in the -wal, not checkpointed
        assert reader.execute("SELECT count(*) FROM memories").fetchone()[0] == 0
        prepare_restore(backup, migrated).apply(lock_timeout=5)
        assert reader.execute("SELECT count(*) FROM memories").fetchone()[0] == 50
    finally:
        reader.close()
    assert snapshot_rows(migrated) == snapshot_rows(backup)


def test_restore_asks_first_and_no_leaves_everything_unchanged(
    run: Callable[..., Result], migrated: Path, tmp_path: Path
) -> None:
    backup = backup_database(migrated, tmp_path / "saved.db").path
    _add_memories(migrated, "bob", ["after the backup"])
    before = _digest(migrated)
    result = run("db", "restore", str(backup), input="n\n")
    assert result.exit_code == 1
    assert "Replace" in result.output and "aborted, nothing was changed" in result.output
    assert _digest(migrated) == before
    assert not list(tmp_path.glob("*.replaced-*")) and _leftovers(tmp_path) == []
    result = run("db", "restore", str(backup), input="y\n")
    assert result.exit_code == 0, result.output
    assert snapshot_rows(migrated) == snapshot_rows(backup)


def _corrupt_copy(source: Path, target: Path) -> Path:
    data = bytearray(source.read_bytes())
    page = 4096
    for offset in range(page * 3, min(len(data), page * 8)):
        data[offset] = 0x5A  # scribble over b-tree pages, keep the header valid
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        (lambda src, p: p, 2, "does not exist"),
        (lambda src, p: (p.write_text("not a database"), p)[1], 1, "is not a SQLite database"),
        (lambda src, p: _corrupt_copy(src, p), 1, "fails integrity_check"),
        (
            lambda src, p: (sqlite3.connect(p).execute("CREATE TABLE x (a)").connection.close(), p)[
                1
            ],
            1,
            "is not a memvault database",
        ),
    ],
    ids=["missing", "not-sqlite", "corrupt", "foreign-sqlite"],
)
def test_restore_refuses_a_bad_candidate_and_changes_nothing(
    run: Callable[..., Result],
    migrated: Path,
    tmp_path: Path,
    make: Callable[[Path, Path], Path],
    code: int,
    message: str,
) -> None:
    candidate = make(migrated, tmp_path / "candidate.db")
    before = _digest(migrated)
    result = run("db", "restore", str(candidate), "--yes")
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("memvault: error")]
    assert len(errors) == 1 and message in errors[0] and "candidate.db" in errors[0]
    assert "Traceback" not in result.output
    assert _digest(migrated) == before
    assert not list(tmp_path.glob("*.replaced-*")) and _leftovers(tmp_path) == []


def test_backup_never_overwrites_and_accepts_a_folder(
    run: Callable[..., Result], migrated: Path, tmp_path: Path
) -> None:
    existing = tmp_path / "existing.db"
    existing.write_bytes(b"precious")
    result = run("db", "backup", str(existing))
    assert result.exit_code == 2 and "already exists" in result.output
    assert existing.read_bytes() == b"precious"
    folder = tmp_path / "backups"
    folder.mkdir()
    result = run("db", "backup", str(folder), "--json")
    assert result.exit_code == 0, result.output
    path = Path(json.loads(result.stdout)["backup"])
    assert path.parent == folder and path.name.startswith("memvault.db.backup-")
    assert inspect_backup(path).ledger_version == inspect_backup(migrated).ledger_version
    assert not Path(str(path) + "-wal").exists()  # a single self-contained file
    assert run("db", "backup", str(tmp_path / "nope" / "b.db")).exit_code == 2


def test_restore_to_a_new_path_moves_stale_side_files_aside(migrated: Path, tmp_path: Path) -> None:
    backup = backup_database(migrated, tmp_path / "saved.db").path
    target = tmp_path / "fresh.db"
    stale_wal = Path(str(target) + "-wal")
    stale_wal.write_bytes(b"left over by some other database")
    result = prepare_restore(backup, target).apply()
    assert result.replaced is None
    assert [p.name.split(".stale-")[0] for p in result.moved_aside] == ["fresh.db-wal"]
    assert result.moved_aside[0].read_bytes() == b"left over by some other database"
    assert not stale_wal.exists()
    assert snapshot_rows(target) == snapshot_rows(backup)


def test_restore_onto_itself_is_refused(migrated: Path) -> None:
    with pytest.raises(ConfigError, match="is the database itself"):
        prepare_restore(migrated, migrated)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    saved=st.lists(st.text(min_size=1, max_size=30), min_size=0, max_size=20),
    later=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=20),
    delete_every=st.integers(min_value=1, max_value=5),
)
def test_round_trip_property(
    migrated: Path, tmp_path_factory: pytest.TempPathFactory, saved: list[str],
    later: list[str], delete_every: int,
) -> None:  # fmt: skip
    """Whatever the rows, restore gives back exactly what the backup held."""
    folder = tmp_path_factory.mktemp("roundtrip")
    db = folder / "db.sqlite"
    backup_database(migrated, db)
    _add_memories(db, "carol", saved)
    backup = backup_database(db, folder / "saved.db").path
    expected = snapshot_rows(backup)
    _add_memories(db, "dave", later)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM memories WHERE id % ? = 0", (delete_every,))
    conn.close()
    prepare_restore(backup, db).apply(lock_timeout=5)
    assert snapshot_rows(db) == expected


def test_invalid_candidate_raises_validation_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain.db"
    sqlite3.connect(plain).execute("CREATE TABLE t (a)").connection.close()
    with pytest.raises(ValidationError, match="neither a schema_migrations nor a schema_version"):
        inspect_backup(plain)


# -- online: a backup taken while another process writes --------------------------------

WRITER = textwrap.dedent(
    """
    import os, sqlite3, sys
    db, stop = sys.argv[1], sys.argv[2]
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    batch = conn.execute("SELECT coalesce(max(batch), 0) FROM totals").fetchone()[0]
    while not os.path.exists(stop):
        batch += 1
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO items (batch, i, pad) VALUES (?, ?, randomblob(300))",
                         [(batch, i) for i in range(40)])
        conn.execute("INSERT INTO totals (batch, n) VALUES (?, 40)", (batch,))
        conn.execute("COMMIT")
        print(batch, flush=True)
    """
)


def test_backup_is_consistent_while_another_process_writes(
    run: Callable[..., Result], migrated: Path, tmp_path: Path
) -> None:
    conn = sqlite3.connect(migrated)
    conn.executescript(
        "CREATE TABLE items (batch INTEGER NOT NULL, i INTEGER NOT NULL, pad BLOB);"
        "CREATE TABLE totals (batch INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
        "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 20000) "
        "INSERT INTO items (batch, i, pad) SELECT 0, x, randomblob(300) FROM s;"
        "INSERT INTO totals VALUES (0, 20000);"
    )
    conn.close()
    stop = tmp_path / "stop"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(migrated), str(stop)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert writer.stdout is not None
        first = int(writer.stdout.readline())  # the writer is running
        # A few pages per step, with a pause: the writer commits many times mid-copy.
        result = backup_database(
            migrated, tmp_path / "online.db", pages_per_step=8,
            progress=lambda done, total: time.sleep(0.002),
        )  # fmt: skip
    finally:
        stop.touch()
        out, _ = writer.communicate(timeout=30)
    assert writer.returncode == 0
    last = int(out.split()[-1]) if out.split() else first
    conn = sqlite3.connect(result.path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        torn = conn.execute(
            "SELECT count(*) FROM totals t WHERE n != "
            "(SELECT count(*) FROM items WHERE items.batch = t.batch)"
        ).fetchone()[0]
        orphans = conn.execute(
            "SELECT count(*) FROM items WHERE batch NOT IN (SELECT batch FROM totals)"
        ).fetchone()[0]
        saved = conn.execute("SELECT max(batch) FROM totals").fetchone()[0]
    finally:
        conn.close()
    assert torn == 0 and orphans == 0
    assert first <= saved < last, (first, saved, last)  # writes went on during the copy
    assert result.pages > 100


def test_migrate_backup_option_backs_up_before_changing_anything(
    run: Callable[..., Result], db_path: Path, tmp_path: Path
) -> None:
    assert run("migrate", "up", "--to", "1").exit_code == 0
    result = run("migrate", "up", "--backup", "--json")
    assert result.exit_code == 0, result.output
    path = Path(json.loads(result.stdout)["backup"])
    assert path.parent == db_path.parent and path.name.startswith("memvault.db.backup-")
    assert f"written to {path}" in result.output
    assert inspect_backup(path).ledger_version == 1  # taken before anything changed
    result = run("migrate", "down", "--dry-run", "--backup")
    assert result.exit_code == 0
    assert list(tmp_path.glob("memvault.db.backup-*")) == [path]  # a dry run takes none
    result = run("migrate", "to", "1", "--backup")
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("memvault.db.backup-*"))) == 2


def test_migrate_backup_on_a_new_database_says_there_is_nothing_to_back_up(
    run: Callable[..., Result], db_path: Path
) -> None:
    result = run("migrate", "up", "--backup")
    assert result.exit_code == 0
    assert "No backup taken" in result.output and "does not exist yet" in result.output


def test_restore_from_a_copied_wal_file_leaves_nothing_beside_it(
    migrated: Path, tmp_path: Path
) -> None:
    """A WAL-mode file copied with cp is a valid backup; reading it creates no side files."""
    copied = tmp_path / "copied.db"
    copied.write_bytes(migrated.read_bytes())
    assert copied.read_bytes()[18] == 2  # the WAL flag
    target = tmp_path / "restored.db"
    prepare_restore(copied, target).apply()
    assert snapshot_rows(target) == snapshot_rows(migrated)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copied")) == [
        "copied.db"
    ]
