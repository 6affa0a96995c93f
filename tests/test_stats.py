"""`memvault db stats`: sizes and rows per table and index, migration metrics, size samples."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import given
from hypothesis import strategies as st

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect
from memvault.migrations import Recorder, load_migrations
from memvault.ops.measure import percentile
from memvault.ops.stats import SAMPLES_TABLE, collect_stats
from memvault.testing import LegacyShape, build_legacy_database
from test_maintain import row_checksums

Run = Callable[..., Result]

BROKEN = '''"""A migration that fails halfway."""

description = "fails on purpose"


def up(ctx):
    ctx.execute("CREATE TABLE half_done (id INTEGER)")
    ctx.execute("INSERT INTO no_such_table VALUES (1)")


def down(ctx):
    ctx.execute("DROP TABLE half_done")
'''


@pytest.fixture
def migrated(tmp_path: Path, run: Run) -> Path:
    path = build_legacy_database(tmp_path / "stats.db", LegacyShape.V1_3_5, users=4)
    assert run("migrate", "up", database=path).exit_code == 0
    return path


def stats_json(run: Run, path: Path, *args: str) -> dict:
    result = run("db", "stats", "--json", *args, database=path)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_rows_and_bytes_per_table_and_index(migrated: Path, run: Run) -> None:
    data = stats_json(run, migrated, "--no-record")
    objects = {o["name"]: o for o in data["objects"]}
    conn = sqlite3.connect(migrated)
    for table in ("users", "entities", "memories", "interactions", "api_usage_tracking"):
        assert objects[table]["kind"] == "table"
        assert objects[table]["rows"] == conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        assert objects[table]["bytes"] > 0
    active = conn.execute("SELECT count(*) FROM memories WHERE is_archived = 0").fetchone()[0]
    total = conn.execute("SELECT count(*) FROM memories").fetchone()[0]
    conn.close()
    assert objects["idx_memories_user_type"]["rows"] == total
    # a partial index holds only the rows its WHERE admits
    assert objects["idx_memories_user_active_created"]["rows"] == active < total
    assert objects["idx_memories_user_type"]["table"] == "memories"
    assert objects["memory_search_data"]["kind"] == "shadow"
    assert objects["schema_migrations"]["kind"] == "memvault"
    space = data["space"]
    assert space["file_bytes"] == migrated.stat().st_size
    used = sum(o["bytes"] or 0 for o in data["objects"])
    assert 0 < used <= (space["page_count"] - space["freelist_count"]) * space["page_size"]
    assert data["dbstat_available"] is True


def test_without_dbstat_rows_remain_and_bytes_are_unknown(migrated: Path) -> None:
    db = connect(str(migrated), create=False, wal=False)
    try:
        stats = collect_stats(db, use_dbstat=False)
    finally:
        db.close()
    assert not stats.dbstat_available
    by_name = {o.name: o for o in stats.objects}
    assert by_name["memories"].rows is not None and by_name["memories"].bytes is None
    assert by_name["idx_memories_user_type"].bytes is None


def test_migration_metrics_from_history(tmp_path: Path, run: Run, migrations_dir: Path) -> None:
    path = tmp_path / "fresh.db"
    assert run("migrate", "up", database=path, migrations=migrations_dir).exit_code == 0
    assert run("migrate", "down", database=path, migrations=migrations_dir).exit_code == 0
    assert run("migrate", "up", database=path, migrations=migrations_dir).exit_code == 0
    (migrations_dir / "900_broken.py").write_text(BROKEN)
    assert run("migrate", "up", database=path, migrations=migrations_dir).exit_code == 1
    m = stats_json(run, path)["migrations"]
    db = connect(str(path), create=False, wal=False)
    history = Recorder(db).history()
    db.close()
    applies = [h for h in history if h.action == "apply"]
    assert m["applies"] == len(applies) >= 5
    assert m["failures"] == 1 and m["rollbacks"] == 1 and m["adoptions"] == 0
    assert m["success_rate"] == pytest.approx(len(applies) / (len(applies) + 1))
    durations = [float(h.duration_ms) for h in applies]
    assert m["mean_apply_ms"] == pytest.approx(sum(durations) / len(durations))
    assert m["p95_apply_ms"] == pytest.approx(percentile(durations, 95))


def test_adopted_legacy_database_counts_adoptions(migrated: Path, run: Run) -> None:
    m = stats_json(run, migrated)["migrations"]
    assert m["adoptions"] == 1 and m["failures"] == 0 and m["success_rate"] == 1.0


def test_stats_changes_no_user_row_and_records_one_sample(migrated: Path, run: Run) -> None:
    before = row_checksums(migrated)
    first = stats_json(run, migrated)
    assert len(first["samples"]) == 1 and first["growth"] is None
    after = row_checksums(migrated)
    assert SAMPLES_TABLE not in before and SAMPLES_TABLE in after
    del after[SAMPLES_TABLE]
    assert after == before


def test_growth_between_samples(migrated: Path, run: Run) -> None:
    stats_json(run, migrated)
    conn = sqlite3.connect(migrated)
    conn.executemany(
        "INSERT INTO users (id, email, created_at, updated_at) VALUES (?, ?, 'now', 'now')",
        [(f"new-{i}", f"new-{i}@example.com") for i in range(7)],
    )
    conn.execute("DELETE FROM interactions")
    conn.commit()
    conn.close()
    data = stats_json(run, migrated)
    assert len(data["samples"]) == 2
    growth = data["growth"]
    assert growth["rows_delta"]["users"] == 7
    assert growth["rows_delta"]["interactions"] < 0
    assert growth["rows_delta"]["memories"] == 0
    assert growth["samples"] == 2


def test_no_record_leaves_the_file_identical(migrated: Path, run: Run) -> None:
    stats_json(run, migrated)  # one sample exists
    before = migrated.read_bytes()
    data = stats_json(run, migrated, "--no-record")
    assert len(data["samples"]) == 1
    assert migrated.read_bytes() == before


def test_human_output(migrated: Path, run: Run) -> None:
    run("db", "stats", database=migrated)
    result = run("db", "stats", database=migrated)
    assert result.exit_code == 0, result.output
    assert "idx_memories_user_updated" in result.output
    applied = len(load_migrations(BUILTIN_MIGRATIONS)) - 1  # 001 was adopted, not applied
    assert f"Migrations: {applied} applied, 0 failed (success rate 100%)" in result.output
    assert "Growth over 2 samples" in result.output


def test_missing_database(tmp_path: Path, run: Run) -> None:
    result = run("db", "stats", database=tmp_path / "absent.db")
    assert result.exit_code == 1 and "does not exist" in result.output
    assert not (tmp_path / "absent.db").exists()


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50))
def test_percentile_is_bounded_and_monotonic(values: list[float]) -> None:
    p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
    assert min(values) <= p50 <= p95 <= p99 <= max(values)
    assert percentile(values, 0) == min(values) and percentile(values, 100) == max(values)
