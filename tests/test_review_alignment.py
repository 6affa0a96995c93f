"""Alignment: model fields against columns, both ways, with the rows a mismatch touches."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result
from pydantic import BaseModel

from memvault.db import connect, snapshot
from memvault.review.alignment import affinity, check_alignment, field_kind, store_models
from memvault.review.schema import read_schema


class Note(BaseModel):
    id: int
    owner: str  # column allows NULL
    title: str | None = None  # column is NOT NULL
    count: int = 0  # column is TEXT
    tags: list[str] = []
    vector: list[float] | None = None
    only_in_model: str = ""


def test_field_kinds_and_affinities() -> None:
    assert field_kind(str).kind == "text" and not field_kind(str).nullable
    assert field_kind(int | None).nullable
    assert field_kind(bool).kind == "boolean"
    assert field_kind(list[float] | None).kind == "vector"
    assert field_kind(dict[str, Any]).kind == "json"
    assert field_kind(Any).kind == "json"
    assert [affinity(t) for t in ("VARCHAR(3)", "BIGINT", "BOOLEAN", "", "DOUBLE")] == [
        "TEXT",
        "INTEGER",
        "NUMERIC",
        "BLOB",
        "REAL",
    ]


def test_mismatches_are_found_both_ways_with_row_counts(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE notes (id INTEGER PRIMARY KEY, owner TEXT, title TEXT NOT NULL, count TEXT,
          tags TEXT, vector TEXT, only_in_table TEXT);
        INSERT INTO notes (owner, title, count, tags, vector) VALUES
          (NULL, 't', '1', '["a"]', '[0.5]'),
          ('u', 't', '2', '{broken', NULL),
          ('u', 't', '3', NULL, NULL);
        """
    )
    conn.close()
    db = connect(str(path))
    report = check_alignment(db, read_schema(db), {"notes": Note})
    found = {(m.column, m.kind): m for m in report.mismatches}
    assert set(found) == {
        ("owner", "nullability"),
        ("title", "nullability"),
        ("count", "type"),
        ("count", "nullability"),
        ("tags", "nullability"),
        ("tags", "invalid_json"),
        ("vector", "storage"),
        ("only_in_model", "missing_column"),
        ("only_in_table", "missing_field"),
    }
    assert found[("owner", "nullability")].rows == 1
    assert found[("tags", "invalid_json")].rows == 1
    assert found[("vector", "storage")].rows == 1
    assert not report.aligned


def test_store_models_on_newest_schema_have_no_structural_mismatch(
    db_path: Path, run: Callable[..., Result]
) -> None:
    assert run("migrate", "up").exit_code == 0
    models = store_models()
    assert models is not None
    records, writes, ignored = models
    db = snapshot(str(db_path))
    report = check_alignment(db, read_schema(db), records, writes, ignored)
    assert report.fields_checked > 50
    structural = [
        m for m in report.mismatches if m.kind in ("missing_column", "missing_field", "type")
    ]
    assert structural == []
    # Legacy-compatible columns allow NULL where the records say never None: reported, not hidden.
    assert any(m.kind == "nullability" and m.column == "is_archived" for m in report.mismatches)


def test_legacy_embeddings_as_json_text_are_a_storage_mismatch(legacy_v1: Path) -> None:
    models = store_models()
    assert models is not None
    db = snapshot(str(legacy_v1))
    report = check_alignment(db, read_schema(db), models[0])
    storage = [m for m in report.mismatches if m.kind == "storage"]
    assert [m.column for m in storage] == ["embedding"]
    assert storage[0].rows == db.scalar(
        "SELECT count(*) FROM memories WHERE typeof(embedding) = 'text'"
    )


def test_blobs_in_a_text_declared_column_are_noted_after_003(
    legacy_v1: Path, run: Callable[..., Result]
) -> None:
    assert run("migrate", "up", database=legacy_v1).exit_code == 0
    models = store_models()
    assert models is not None
    db = snapshot(str(legacy_v1))
    report = check_alignment(db, read_schema(db), models[0])
    blobs = db.scalar("SELECT count(*) FROM memories WHERE typeof(embedding) = 'blob'")
    assert blobs > 0
    assert any(f"holds {blobs} float32 BLOB" in note for note in report.notes)
    assert not [m for m in report.mismatches if m.kind == "storage"]
