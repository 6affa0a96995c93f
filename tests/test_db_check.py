"""`memvault db check`, and legacy orphans surviving adoption and every migration."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from memvault.testing import snapshot_rows

Run = Callable[..., Result]

# The orphans build_legacy_database plants: (table, user_id) of rows owned by nobody.
LEGACY_ORPHANS = {
    "entities": {"null_user_id": 1, "missing_user": 0},
    "interactions": {"null_user_id": 0, "missing_user": 1},
    "memories": {"null_user_id": 1, "missing_user": 1},
}


def check_json(run: Run, **kwargs: Path) -> tuple[int, dict[str, object]]:
    result = run("db", "check", "--json", **kwargs)
    return result.exit_code, json.loads(result.stdout)


def orphan_counts(data: dict[str, object]) -> dict[str, dict[str, int]]:
    orphans = data["orphans"]
    assert isinstance(orphans, dict)
    return {
        t["table"]: {"null_user_id": t["null_user_id"], "missing_user": t["missing_user"]}
        for t in orphans["tables"]
    }


def orphan_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """The orphan rows themselves (id, user_id and the text that identifies them)."""
    conn = sqlite3.connect(path)
    try:
        missing = "user_id IS NULL OR user_id NOT IN (SELECT id FROM users)"
        return {
            "entities": conn.execute(
                f"SELECT id, user_id, name, metadata FROM entities WHERE {missing} ORDER BY id"
            ).fetchall(),
            "memories": conn.execute(
                f"SELECT id, user_id, title, content FROM memories WHERE {missing} ORDER BY id"
            ).fetchall(),
            "interactions": conn.execute(
                f"SELECT id, user_id, user_prompt FROM interactions WHERE {missing} ORDER BY id"
            ).fetchall(),
        }
    finally:
        conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_fresh_database_passes(run: Run, db_path: Path) -> None:
    assert run("migrate", "up").exit_code == 0
    code, data = check_json(run)
    assert code == 0
    assert data["ok"] is True
    assert data["problems"] == []
    ledger = data["ledger"]
    assert isinstance(ledger, dict) and ledger["state"] == "managed"
    assert all(r["ok"] for r in ledger["results"]) and ledger["results"]
    human = run("db", "check")
    assert human.exit_code == 0
    assert "integrity" in human.stdout and "FAIL" not in human.stdout


def test_a_legacy_database_reports_its_orphans_and_changes_nothing(
    run: Run, legacy_v1: Path
) -> None:
    before, rows = digest(legacy_v1), snapshot_rows(legacy_v1)
    code, data = check_json(run, database=legacy_v1)
    assert code == 1
    assert orphan_counts(data) == LEGACY_ORPHANS
    orphans = data["orphans"]
    assert isinstance(orphans, dict)
    assert "not adopted yet" in orphans["kept_from"]
    assert "pre-existing legacy data" in orphans["note"]
    violations = data["foreign_keys"]
    assert isinstance(violations, dict)
    assert {(v["table"], v["rows"]) for v in violations["violations"]} == {
        ("interactions", 1),
        ("memories", 1),
    }
    ledger = data["ledger"]
    assert isinstance(ledger, dict) and ledger["ok"] is True
    assert ledger["state"] == "legacy, not adopted yet"
    assert digest(legacy_v1) == before and snapshot_rows(legacy_v1) == rows
    assert sorted(p.name for p in legacy_v1.parent.glob("legacy_v1.db*")) == ["legacy_v1.db"]


def test_human_output_labels_legacy_orphans(run: Run, legacy_v1: Path) -> None:
    result = run("db", "check", database=legacy_v1)
    assert result.exit_code == 1
    assert "memories: 1 with NULL user_id, 1 naming no user" in result.stdout
    assert "pre-existing legacy data" in result.stdout
    assert result.stderr.startswith("memvault: error: database check failed:")
    assert "orphan row(s) kept from a legacy database" in result.stderr


def test_adopting_and_migrating_a_legacy_database_keeps_its_orphans(
    run: Run, legacy_v1: Path, legacy_v2: Path
) -> None:
    for legacy in (legacy_v1, legacy_v2):
        orphans = orphan_rows(legacy)
        counts = {t: len(r) for t, r in snapshot_rows(legacy).items()}
        assert all(orphans.values())
        up = run("migrate", "up", database=legacy)
        assert up.exit_code == 0, up.output
        assert orphan_rows(legacy) == orphans
        assert {t: len(r) for t, r in snapshot_rows(legacy).items()} == counts
        # All the way down to what adoption recorded, and up again: still there.
        assert run("migrate", "to", "1", database=legacy).exit_code == 0
        assert run("migrate", "up", database=legacy).exit_code == 0
        assert orphan_rows(legacy) == orphans
        code, data = check_json(run, database=legacy)
        assert code == 1
        assert orphan_counts(data) == LEGACY_ORPHANS
        orphans_section = data["orphans"]
        assert isinstance(orphans_section, dict)
        assert orphans_section["kept_from"].startswith("the legacy database adopted on ")
        ledger = data["ledger"]
        assert isinstance(ledger, dict) and ledger["ok"] is True


def test_a_verify_that_no_longer_passes_fails_the_ledger(run: Run, db_path: Path) -> None:
    assert run("migrate", "up").exit_code == 0
    conn = sqlite3.connect(db_path)
    conn.execute("DROP INDEX idx_entities_user_created")
    conn.commit()
    conn.close()
    code, data = check_json(run)
    assert code == 1
    ledger = data["ledger"]
    assert isinstance(ledger, dict)
    bad = [r for r in ledger["results"] if not r["ok"]]
    assert [(r["version"], r["problem"]) for r in bad] == [
        (2, "index idx_entities_user_created is missing")
    ]
    assert data["problems"] == ["ledger: 002_add_missing_indices"]


def test_an_edited_migration_fails_the_ledger(
    run: Run, db_path: Path, migrations_dir: Path
) -> None:
    assert run("migrate", "up", migrations=migrations_dir).exit_code == 0
    path = migrations_dir / "002_add_missing_indices.py"
    path.write_text(path.read_text() + "\n# edited after it was applied\n")
    code, data = check_json(run, migrations=migrations_dir)
    assert code == 1
    ledger = data["ledger"]
    assert isinstance(ledger, dict)
    [bad] = [r for r in ledger["results"] if not r["ok"]]
    assert bad["version"] == 2 and "checksum" in bad["problem"]


def test_a_failed_migration_in_the_ledger_is_reported(
    run: Run, db_path: Path, migrations_dir: Path
) -> None:
    assert run("migrate", "up", migrations=migrations_dir).exit_code == 0
    top = max(int(p.name[:3]) for p in migrations_dir.glob("[0-9][0-9][0-9]_*.py"))
    (migrations_dir / f"{top + 1:03d}_broken.py").write_text(
        "def up(ctx):\n    ctx.execute('CREATE TABLE users (id TEXT)')\n\n"
        "def down(ctx):\n    pass\n"
    )
    assert run("migrate", "up", migrations=migrations_dir).exit_code == 1
    code, data = check_json(run, migrations=migrations_dir)
    assert code == 1
    ledger = data["ledger"]
    assert isinstance(ledger, dict)
    assert ledger["failed"] == [{"version": top + 1, "name": "broken"}]
    assert ledger["pending"] == [f"{top + 1:03d}_broken"]


def test_a_new_foreign_key_violation_is_reported(run: Run, db_path: Path) -> None:
    assert run("migrate", "up").exit_code == 0
    conn = sqlite3.connect(db_path)  # foreign keys are off by default in a bare connection
    conn.execute(
        "INSERT INTO api_usage_tracking (id, user_id, api_provider, model, cost_usd, "
        "operation_type, timestamp, date) VALUES ('u1', 'ghost', 'openai', 'm', 0, 'x', 0, 'd')"
    )
    conn.commit()
    conn.close()
    code, data = check_json(run)
    assert code == 1
    fks = data["foreign_keys"]
    assert isinstance(fks, dict)
    assert fks["violations"] == [
        {"table": "api_usage_tracking", "parent": "users", "rows": 1, "example_rowids": [1]}
    ]
    assert orphan_counts(data) == {"api_usage_tracking": {"null_user_id": 0, "missing_user": 1}}
    orphans = data["orphans"]
    assert isinstance(orphans, dict) and orphans["note"] is None  # not legacy data


def test_a_corrupt_index_fails_the_integrity_check(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (a TEXT, b TEXT)")
    conn.execute("CREATE INDEX t_a ON t(a)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(str(i), str(-i)) for i in range(50)])
    conn.commit()
    conn.execute("PRAGMA writable_schema = ON")  # the index now claims to cover b
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX t_a ON t(b)' WHERE name = 't_a'")
    conn.commit()
    conn.close()
    code, data = check_json(run, database=path)
    assert code == 1
    integrity = data["integrity"]
    assert isinstance(integrity, dict) and integrity["ok"] is False
    assert any("t_a" in m for m in integrity["messages"])


def test_bad_database_arguments_are_one_line_errors(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    result = run("db", "check", database=missing)
    assert result.exit_code == 1
    assert result.stderr == f"memvault: error: database {missing} does not exist\n"
    assert not missing.exists()
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some text that is long enough" * 10)
    result = run("db", "check", database=text)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"memvault: error: {text} is not a SQLite database")
    assert len(result.stderr.splitlines()) == 1
