"""`memvault db maintain`: each step runs and is timed, and no row of any table changes."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from memvault.db import connect
from memvault.errors import ConfigError, DatabaseError
from memvault.ops.inventory import take_inventory
from memvault.ops.maintain import MaintenanceOptions, run_maintenance
from memvault.store.search_index import match_expression
from memvault.testing import LegacyShape, build_legacy_database

Run = Callable[..., Result]


def row_checksums(path: Path) -> dict[str, str]:
    """sha256 of every row of every table except FTS5 storage (which optimize rewrites)."""
    db = connect(str(path), create=False, wal=False)
    try:
        inv = take_inventory(db)
        tables = inv.user_tables + inv.memvault_tables
        sums = {}
        for table in tables:
            digest = hashlib.sha256()
            for row in db.query(f'SELECT * FROM "{table}" ORDER BY rowid'):
                digest.update(repr(tuple(row)).encode())
            sums[table] = digest.hexdigest()
        return sums
    finally:
        db.close()


def fts_answers(path: Path) -> dict[str, list[int]]:
    conn = sqlite3.connect(path)
    try:
        tenants = [r[0] for r in conn.execute("SELECT tenant FROM search_tenants")]
        return {
            word: sorted(
                r[0]
                for t in tenants
                for r in conn.execute(
                    "SELECT rowid FROM memory_search WHERE memory_search MATCH ?",
                    (match_expression(t, word),),
                )
            )
            for word in ("alpha", "sqlite", "café", "lorem")
        }
    finally:
        conn.close()


@pytest.fixture
def live_db(tmp_path: Path, run: Run) -> Path:
    """A legacy database adopted and migrated to the newest version, then written to."""
    path = build_legacy_database(tmp_path / "live.db", LegacyShape.V1_3_5, users=4)
    assert run("migrate", "up", database=path).exit_code == 0
    conn = sqlite3.connect(path)
    conn.execute(
        "DELETE FROM memories WHERE id % 5 = 0 OR title = 'long'"
    )  # leave free pages and FTS deletes
    conn.commit()
    conn.close()
    return path


def test_maintain_runs_every_default_step_and_changes_no_row(live_db: Path, run: Run) -> None:
    rows_before, fts_before = row_checksums(live_db), fts_answers(live_db)
    result = run("db", "maintain", "--json", database=live_db)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    steps = [(s["step"], s["target"]) for s in report["steps"]]
    assert steps == [
        ("analyze", None),
        ("optimize", None),
        ("reindex", None),
        ("fts_optimize", "entity_search"),
        ("fts_optimize", "memory_search"),
    ]
    assert all(s["duration_ms"] >= 0 and not s["skipped"] for s in report["steps"])
    assert report["total_ms"] == pytest.approx(sum(s["duration_ms"] for s in report["steps"]))
    assert row_checksums(live_db) == rows_before
    assert fts_answers(live_db) == fts_before
    conn = sqlite3.connect(live_db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.execute("INSERT INTO memory_search(memory_search) VALUES('integrity-check')")
    assert conn.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0  # ANALYZE ran
    conn.close()


def test_maintain_vacuum_reclaims_free_pages_and_changes_no_row(live_db: Path, run: Run) -> None:
    rows_before = row_checksums(live_db)
    result = run("db", "maintain", "--vacuum", "--json", database=live_db)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["before"]["freelist_count"] > 0
    assert report["after"]["freelist_count"] == 0
    assert report["after"]["page_count"] < report["before"]["page_count"]
    assert [s["step"] for s in report["steps"]][-2:] == ["vacuum", "checkpoint"]
    assert row_checksums(live_db) == rows_before


def test_maintain_works_while_a_reader_holds_a_snapshot(live_db: Path) -> None:
    reader = sqlite3.connect(live_db, isolation_level=None)
    reader.execute("BEGIN")
    seen = reader.execute("SELECT count(*), sum(length(content)) FROM memories").fetchone()
    db = connect(str(live_db), create=False, wal=False)
    try:
        report = run_maintenance(db, MaintenanceOptions())
    finally:
        db.close()
    assert len(report.steps) == 5
    assert reader.execute("SELECT count(*), sum(length(content)) FROM memories").fetchone() == seen
    reader.execute("COMMIT")
    reader.close()


def test_reindex_one_index_only(live_db: Path, run: Run) -> None:
    result = run(
        "db", "maintain", "--reindex", "idx_memories_user_type", "--skip", "fts", "--json",
        database=live_db,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    steps = json.loads(result.output)["steps"]
    assert [s["sql"] for s in steps] == [
        "ANALYZE",
        "PRAGMA optimize",
        'REINDEX "idx_memories_user_type"',
    ]


def test_reindex_unknown_name_is_one_line_error_and_nothing_runs(live_db: Path, run: Run) -> None:
    before = live_db.read_bytes()
    result = run("db", "maintain", "--reindex", "idx_nope", database=live_db)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "idx_nope" in lines[0] and lines[0].startswith("memvault: error:")
    assert live_db.read_bytes() == before  # not even ANALYZE ran


def test_incremental_vacuum_without_incremental_mode_is_skipped_with_reason(
    live_db: Path, run: Run
) -> None:
    result = run("db", "maintain", "--incremental-vacuum", "--json", database=live_db)
    assert result.exit_code == 0, result.output
    last = json.loads(result.output)["steps"][-1]
    assert last["step"] == "incremental_vacuum" and last["skipped"]
    assert "auto_vacuum is NONE" in last["note"]


def test_incremental_vacuum_frees_pages_in_incremental_mode(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "inc.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany("INSERT INTO notes (body) VALUES (?)", [("x" * 2000,) for _ in range(200)])
    conn.commit()
    conn.execute("DELETE FROM notes WHERE id > 20")
    conn.commit()
    kept = conn.execute("SELECT * FROM notes ORDER BY id").fetchall()
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    conn.close()
    assert free > 10
    only_vacuum = [
        arg for step in ("analyze", "optimize", "reindex", "fts") for arg in ("--skip", step)
    ]
    result = run(
        "db", "maintain", *only_vacuum, "--incremental-vacuum", "5", "--json", database=path
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["before"]["freelist_count"] - report["after"]["freelist_count"] == 5
    result = run("db", "maintain", *only_vacuum, "--incremental-vacuum", "--json", database=path)
    assert json.loads(result.output)["after"]["freelist_count"] == 0
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT * FROM notes ORDER BY id").fetchall() == kept
    conn.close()


def test_vacuum_and_incremental_vacuum_together_are_refused(live_db: Path) -> None:
    db = connect(str(live_db), create=False, wal=False)
    try:
        with pytest.raises(ConfigError, match="either --vacuum or --incremental-vacuum"):
            run_maintenance(db, MaintenanceOptions(vacuum=True, incremental_vacuum_pages=0))
    finally:
        db.close()


def test_busy_database_gives_a_clear_error(live_db: Path) -> None:
    writer = sqlite3.connect(live_db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    db = connect(str(live_db), create=False, wal=False, busy_timeout_ms=50)
    try:
        with pytest.raises(DatabaseError, match=r"is busy .* during ANALYZE; 0 earlier step"):
            run_maintenance(db, MaintenanceOptions())
    finally:
        db.close()
        writer.execute("ROLLBACK")
        writer.close()


def test_missing_database_is_not_created(tmp_path: Path, run: Run) -> None:
    missing = tmp_path / "absent.db"
    result = run("db", "maintain", database=missing)
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert not missing.exists()


def test_human_output_lists_steps_and_timings(live_db: Path, run: Run) -> None:
    result = run("db", "maintain", "--skip", "reindex", database=live_db)
    assert result.exit_code == 0, result.output
    assert "fts_optimize" in result.output and "memory_search" in result.output
    assert "no rows were changed" in result.output


WRITER = """
import os, sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
i = 0
while not os.path.exists(sys.argv[2]):  # until the test says stop
    conn.execute(
        "INSERT INTO interactions (user_id, user_prompt, assistant_response, created_at,"
        " updated_at) VALUES (NULL, ?, 'ok', '2025-11-01T00:00:00Z', '2025-11-01T00:00:00Z')",
        (f"live-{i}",),
    )
    i += 1
    time.sleep(0.002)
print("done")
"""


def test_maintain_with_vacuum_while_another_process_writes(live_db: Path) -> None:
    """A live database: a separate process keeps committing rows during maintenance."""
    conn = sqlite3.connect(live_db)
    last_before = conn.execute("SELECT max(id) FROM interactions").fetchone()[0]
    old_interactions = conn.execute("SELECT * FROM interactions ORDER BY id").fetchall()
    conn.close()
    before = row_checksums(live_db)
    stop = live_db.with_name("stop-writing")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(live_db), str(stop)], stdout=subprocess.PIPE, text=True
    )
    watcher = sqlite3.connect(live_db, timeout=30)

    def written() -> int:
        count = "SELECT count(*) FROM interactions WHERE id > ?"
        return int(watcher.execute(count, (last_before,)).fetchone()[0])

    while written() < 10:  # the per-test timeout bounds these waits
        time.sleep(0.01)
    at_start = written()
    db = connect(str(live_db), create=False, wal=False, busy_timeout_ms=30_000)
    try:
        report = run_maintenance(db, MaintenanceOptions(vacuum=True))
    finally:
        db.close()
    at_end = written()
    while written() <= at_end + 10:  # the writer goes on after maintenance: it ran in between
        time.sleep(0.01)
    stop.touch()
    watcher.close()
    out, _ = writer.communicate(timeout=60)
    assert 10 <= at_start <= at_end
    assert writer.returncode == 0 and out.strip() == "done"
    assert [s.step for s in report.steps][-2:] == ["vacuum", "checkpoint"]
    after = row_checksums(live_db)
    assert {t: h for t, h in after.items() if t != "interactions"} == {
        t: h for t, h in before.items() if t != "interactions"
    }
    conn = sqlite3.connect(live_db)
    new = conn.execute(
        "SELECT user_prompt FROM interactions WHERE id > ? ORDER BY id", (last_before,)
    ).fetchall()
    old_rows = conn.execute(
        "SELECT * FROM interactions WHERE id <= ? ORDER BY id", (last_before,)
    ).fetchall()
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert len(new) > at_end + 10  # every row the writer committed, before, during, after
    assert [r[0] for r in new] == [f"live-{i}" for i in range(len(new))]
    assert old_rows == old_interactions


def test_maintenance_waits_for_a_running_migration(live_db: Path, run: Run) -> None:
    """Maintenance takes the migration lock: held elsewhere, it times out and runs nothing."""
    from memvault.db import connect
    from test_lock import _plant

    with connect(str(live_db)) as db:
        assert not db.table_exists("sqlite_stat1")  # ANALYZE has never run
        _plant(db, host="other-host", command="memvault migrate up")
    result = run("db", "maintain", "--lock-timeout", "0.2", database=live_db)
    assert result.exit_code == 1
    assert "locked by pid" in result.output and "other-host" in result.output
    with connect(str(live_db)) as db:
        assert not db.table_exists("sqlite_stat1")  # and still has not
