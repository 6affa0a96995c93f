"""`memvault schema review`: on a v1.3.5-shaped database it finds every scan and sort by
itself and proposes indexes; after `migrate up` nothing is missing."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

from memvault.review import load_catalog

REQUIRED_KEYS = {
    "alignment", "drift", "queries", "missing_indexes", "redundant_indexes", "unused_indexes",
    "foreign_keys", "orphans", "fts", "tables", "recommendations",
}  # fmt: skip


def review_json(run: Callable[..., Result], database: Path) -> dict[str, Any]:
    result = run("schema", "review", "--json", database=database)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def raw_problems(path: Path) -> tuple[set[str], set[str]]:
    """Which catalog queries scan a table or sort in a temporary B-tree, read straight off
    sqlite3's EXPLAIN QUERY PLAN (independently of memvault's parser)."""
    conn = sqlite3.connect(path)
    real_tables = {
        r[0] for r in conn.execute("SELECT name FROM pragma_table_list WHERE type = 'table'")
    }
    scans, sorts = set(), set()
    for query in load_catalog().values():
        try:
            plan = conn.execute(f"EXPLAIN QUERY PLAN {query.sql}", query.params).fetchall()
        except sqlite3.OperationalError as exc:  # a table a later migration makes
            assert "no such table" in str(exc), exc
            continue
        details = [r[3] for r in plan]
        aliases = {alias.lower(): table for table, alias in _aliases(query.sql)}
        for detail in details:
            words = detail.split()
            if words[0] == "SCAN" and aliases.get(words[1].lower(), words[1]) in real_tables:
                scans.add(query.name)
            if detail.startswith("USE TEMP B-TREE"):
                sorts.add(query.name)
    conn.close()
    return scans, sorts


def _aliases(sql: str) -> list[tuple[str, str]]:
    words = sql.replace(",", " ").split()
    found = []
    for i, word in enumerate(words[:-2]):
        if word.upper() in ("FROM", "JOIN") and words[i + 2].upper() == "AS":
            found.append((words[i + 1], words[i + 3]))
    return found


def test_v135_review_finds_every_scan_and_sort_and_proposes_indexes(
    legacy_v1: Path, run: Callable[..., Result]
) -> None:
    data = review_json(run, legacy_v1)
    assert set(data) >= REQUIRED_KEYS
    scans, sorts = raw_problems(legacy_v1)
    assert sorts, "a v1.3.5 database must have catalog queries that sort in a temporary B-tree"
    assert {q["name"] for q in data["queries"] if q["full_scan"]} == scans
    assert {q["name"] for q in data["queries"] if q["temp_btree"]} == sorts
    assert len(data["queries"]) == len(load_catalog())
    proposed_for = {name for p in data["missing_indexes"] for name in p["queries"]}
    for query in data["queries"]:
        if not (query["full_scan"] or query["temp_btree"]):
            continue
        # Each scan or sort gets a proposal, or a reason why no index can remove it.
        explained = query["name"] in data["unfixable_queries"] or query["notes"]
        assert query["name"] in proposed_for or explained, query
    assert {"entities.list", "memories.list"} <= proposed_for
    for proposal in data["missing_indexes"]:
        assert proposal["sql"].startswith("CREATE INDEX") and proposal["fixes"]
    assert "idx_users_email" in {r["index"] for r in data["redundant_indexes"]}
    assert data["drift"]["clean"]


def test_after_migrate_up_nothing_is_missing(legacy_v1: Path, run: Callable[..., Result]) -> None:
    assert run("migrate", "up", database=legacy_v1).exit_code == 0
    data = review_json(run, legacy_v1)
    assert data["missing_indexes"] == []
    assert data["drift"]["clean"]
    assert not any(q["error"] for q in data["queries"])
    assert not [m for m in data["alignment"]["mismatches"] if m["kind"] == "storage"]
    # Every sort left is explained, none is advised on: the search index's batch reads sort
    # the ids they are given (json_each of a parameter), which grows with the batch.
    _scans, sorts = raw_problems(legacy_v1)
    by_name = {q["name"]: q for q in data["queries"]}
    assert {"search.memory_rows", "search.entity_rows"} <= sorts
    for name in ("search.memory_rows", "search.entity_rows"):
        assert any("grows with the input" in note for note in by_name[name]["notes"]), name
    assert not [r for r in data["recommendations"] if "still scans or sorts" in r]


def test_review_proposals_are_what_migrate_up_builds(
    legacy_v1: Path, run: Callable[..., Result]
) -> None:
    """Each index proposed on v1.3.5 exists after migrate up with the same key columns."""
    proposals = review_json(run, legacy_v1)["missing_indexes"]
    assert run("migrate", "up", database=legacy_v1).exit_code == 0
    conn = sqlite3.connect(legacy_v1)
    built = set()
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    ):
        keys = conn.execute(
            f"SELECT name, desc FROM pragma_index_xinfo('{name}') WHERE key = 1"
        ).fetchall()
        table = conn.execute(
            "SELECT tbl_name FROM sqlite_master WHERE name = ?", (name,)
        ).fetchone()[0]
        built.add((table, tuple((k, bool(d)) for k, d in keys)))
    conn.close()
    for p in proposals:
        key = (p["table"], tuple((c["column"], c["desc"]) for c in p["columns"]))
        assert key in built, p["sql"]


def test_markdown_has_every_section_and_the_file_is_not_touched(
    legacy_v1: Path, run: Callable[..., Result]
) -> None:
    before = hashlib.sha256(legacy_v1.read_bytes()).hexdigest()
    result = run("schema", "review", "--format", "md", database=legacy_v1)
    assert result.exit_code == 0
    for heading in (
        "## Summary",
        "## Recommendations",
        "## Alignment",
        "## Schema drift",
        "## Index coverage",
        "## Missing indexes",
        "## Redundant indexes",
        "## Foreign keys",
        "## Full-text search",
        "## Tables",
    ):
        assert heading in result.output
    assert hashlib.sha256(legacy_v1.read_bytes()).hexdigest() == before
    assert not Path(str(legacy_v1) + "-wal").exists()


def test_text_summary_and_strict_exit_code(legacy_v1: Path, run: Callable[..., Result]) -> None:
    result = run("schema", "review", database=legacy_v1)
    assert result.exit_code == 0 and "missing indexes" in result.output
    assert run("schema", "review", "--strict", database=legacy_v1).exit_code == 1


def test_missing_database_is_one_line_error(tmp_path: Path, run: Callable[..., Result]) -> None:
    result = run("schema", "review", database=tmp_path / "absent.db")
    assert result.exit_code == 1
    assert result.output.strip().startswith("memvault: error: database")
    assert not (tmp_path / "absent.db").exists()


def test_not_a_database_is_one_line_error(tmp_path: Path, run: Callable[..., Result]) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    result = run("schema", "review", database=bogus)
    assert result.exit_code == 1
    assert "is not a SQLite database" in result.output
