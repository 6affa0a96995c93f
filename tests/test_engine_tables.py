"""memvault's own tables (ledger, history, lock, size samples) never count as schema drift."""

from __future__ import annotations

import json
from pathlib import Path

from memvault.migrations.recorder import is_engine_table


def test_engine_table_rule() -> None:
    for name in ("schema_migrations", "schema_migrations_lock", "memvault_size_samples"):
        assert is_engine_table(name)
    for name in ("memories", "users", "schema_version", "memories_fts"):
        assert not is_engine_table(name)


def test_size_samples_are_not_drift_nor_diagrammed(run, db_path: Path) -> None:
    assert run("migrate", "up").exit_code == 0
    assert run("db", "stats", "--json").exit_code == 0  # records a size sample
    review = json.loads(run("schema", "review", "--json").output)
    assert review["drift"]["clean"] is True, review["drift"]
    diagram = run("schema", "diagram").output
    assert "memvault_size_samples" not in diagram and "schema_migrations" not in diagram
    assert run("migrate", "test").exit_code == 0
    assert run("db", "check").exit_code == 0
