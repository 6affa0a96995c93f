"""Redundant and unused indexes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from memvault.db import connect
from memvault.review.indexes import find_redundant, find_unused
from memvault.review.schema import Schema, read_schema


def schema_of(tmp_path: Path, script: str) -> Schema:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "idx.db"
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.close()
    return read_schema(connect(str(path)))


BASE = """CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT UNIQUE, a TEXT, b TEXT, c INTEGER,
  parent INTEGER REFERENCES t(id));
"""


def redundant(tmp_path: Path, indexes: str) -> dict[str, str]:
    return {r.index: r.covered_by for r in find_redundant(schema_of(tmp_path, BASE + indexes))}


def test_prefix_of_another_index_is_redundant(tmp_path: Path) -> None:
    found = redundant(tmp_path, "CREATE INDEX i_a ON t(a); CREATE INDEX i_ab ON t(a, b);")
    assert found == {"i_a": "i_ab"}


def test_duplicate_of_unique_constraint_autoindex_is_redundant(tmp_path: Path) -> None:
    found = redundant(tmp_path, "CREATE INDEX i_code ON t(code);")
    assert found == {"i_code": "sqlite_autoindex_t_1"}


def test_index_leading_with_integer_primary_key_is_redundant(tmp_path: Path) -> None:
    found = redundant(tmp_path, "CREATE INDEX i_id ON t(id, a);")
    assert found == {"i_id": "t.id"}


def test_not_redundant_when_not_a_leading_prefix_or_direction_differs(tmp_path: Path) -> None:
    script = (
        "CREATE INDEX i_b ON t(b); CREATE INDEX i_ab ON t(a, b);"  # b is not a leading prefix
        "CREATE INDEX i_ac ON t(a, c); CREATE INDEX i_a_cdesc_b ON t(a, c DESC, b);"
    )
    assert redundant(tmp_path, script) == {}


def test_unique_index_is_never_redundant(tmp_path: Path) -> None:
    assert (
        redundant(tmp_path, "CREATE UNIQUE INDEX u_a ON t(a); CREATE INDEX i_ab ON t(a, b);") == {}
    )


def test_partial_index_cannot_stand_in_for_a_full_one(tmp_path: Path) -> None:
    script = "CREATE INDEX i_a ON t(a); CREATE INDEX p_ab ON t(a, b) WHERE c = 0;"
    assert redundant(tmp_path / "x", script) == {}
    same_where = "CREATE INDEX p_a ON t(a) WHERE c = 0; CREATE INDEX p_ab ON t(a, b) WHERE c = 0;"
    assert redundant(tmp_path / "y", same_where) == {"p_a": "p_ab"}


def test_exact_twins_report_one_of_the_pair(tmp_path: Path) -> None:
    found = redundant(tmp_path, "CREATE INDEX i_x ON t(a, b); CREATE INDEX i_y ON t(a, b);")
    assert len(found) == 1


def test_unused_indexes_skip_used_and_constraint_indexes_and_note_foreign_keys(
    tmp_path: Path,
) -> None:
    schema = schema_of(
        tmp_path, BASE + "CREATE INDEX i_a ON t(a); CREATE INDEX i_parent ON t(parent);"
    )
    unused = {u.index: u.note for u in find_unused(schema, {"i_a"}, [])}
    assert set(unused) == {"i_parent"}
    assert unused["i_parent"] is not None and "foreign key" in unused["i_parent"]
