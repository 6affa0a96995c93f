"""Index coverage: plans are read right, and every proposed index is one that works."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvault.db import Database, connect
from memvault.review import review
from memvault.review.coverage import PlanStep, analyse_plan
from memvault.review.schema import read_schema
from memvault.store.catalog import CatalogQuery

SCHEMA = """
CREATE TABLE notes (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, kind TEXT, body TEXT,
  archived INTEGER NOT NULL DEFAULT 0, score INTEGER, created TEXT, updated TEXT);
CREATE INDEX idx_notes_owner ON notes(owner);
CREATE VIRTUAL TABLE notes_fts USING fts5(body, content='notes', content_rowid='id');
"""


def make_db(tmp_path: Path, script: str = SCHEMA) -> Database:
    path = tmp_path / "cov.db"
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.close()
    return connect(str(path))


def run_review(db: Database, queries: dict[str, tuple[str, Any]]) -> Any:
    catalog = {name: CatalogQuery(name, sql, params) for name, (sql, params) in queries.items()}
    return review(db, [], queries=catalog, models=None)


def plan_details(db: Database, sql: str, params: Any) -> list[str]:
    return [str(r[3]) for r in db.query(f"EXPLAIN QUERY PLAN {sql}", params)]


def test_plan_rows_are_read_into_scans_sorts_and_indexes(tmp_path: Path) -> None:
    schema = read_schema(make_db(tmp_path))
    steps = [
        PlanStep(3, 0, "SCAN n"),
        PlanStep(5, 0, "SEARCH notes USING INDEX idx_notes_owner (owner=?)"),
        PlanStep(7, 0, "SCAN notes_fts VIRTUAL TABLE INDEX 0:M1"),
        PlanStep(9, 0, "USE TEMP B-TREE FOR LAST 2 TERMS OF ORDER BY"),
        PlanStep(11, 0, "SEARCH notes USING INTEGER PRIMARY KEY (rowid=?)"),
    ]
    plan = analyse_plan("q", "", steps, schema, {"n": "notes"})
    assert plan.full_scans == ["notes"]  # the alias is resolved, the FTS scan is not a table scan
    assert plan.temp_btrees == ["ORDER BY"]
    assert plan.indexes_used == ["idx_notes_owner", "INTEGER PRIMARY KEY"]


def test_sort_problem_gets_a_verified_index_with_equality_then_order(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    sql = "SELECT id FROM notes WHERE owner = :owner AND kind = :kind ORDER BY updated DESC LIMIT 5"
    result = run_review(db, {"notes.by_kind": (sql, {"owner": "a", "kind": "k"})})
    (query,) = result.queries
    assert query.temp_btree and not query.full_scan
    (proposal,) = result.missing_indexes
    assert proposal.table == "notes"
    assert proposal.columns == [("owner", False), ("kind", False), ("updated", True)]
    assert proposal.where is None
    # The proposal really removes the sort: create it for real and explain again.
    db.execute(proposal.sql)
    after = plan_details(db, sql, {"owner": "a", "kind": "k"})
    assert any(proposal.name in line for line in after)
    assert not any("TEMP B-TREE" in line for line in after)


def test_constant_filter_becomes_a_partial_index(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    sql = "SELECT id FROM notes WHERE owner = ? AND archived = 0 ORDER BY created DESC"
    result = run_review(db, {"notes.active": (sql, ("a",))})
    (proposal,) = result.missing_indexes
    assert proposal.where == "archived = 0"
    assert proposal.columns == [("owner", False), ("created", True)]
    assert proposal.sql.endswith("WHERE archived = 0")


def test_full_scan_on_a_filtered_column_is_found_and_fixed(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    result = run_review(db, {"notes.by_score": ("SELECT id FROM notes WHERE score = ?", (3,))})
    (query,) = result.queries
    assert query.full_scan and query.full_scans == ["notes"]
    (proposal,) = result.missing_indexes
    assert proposal.columns == [("score", False)]


def test_fts_match_and_rank_order_are_not_flagged_as_fixable(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    sql = (
        "SELECT n.id FROM notes_fts JOIN notes AS n ON n.id = notes_fts.rowid "
        "WHERE notes_fts MATCH :q AND n.owner = :owner ORDER BY bm25(notes_fts) LIMIT 5"
    )
    result = run_review(db, {"notes.search": (sql, {"q": "x", "owner": "a"})})
    (query,) = result.queries
    assert not query.full_scan
    assert not query.has_problem  # the sort is by a computed rank: no index can help
    assert query.computed_sorts == ["ORDER BY"]
    assert result.missing_indexes == [] and result.unfixable == {}


def test_leading_wildcard_like_is_explained_not_indexed(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    sql = "SELECT id FROM notes WHERE owner = ? AND body LIKE ?"
    result = run_review(db, {"notes.like": (sql, ("a", "%word%"))})
    (query,) = result.queries
    assert any("leading wildcard" in note for note in query.notes)
    assert any("leading wildcard" in text for text in result.recommendations)


def test_query_that_cannot_run_is_reported_not_raised(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    result = run_review(db, {"notes.bad": ("SELECT nope FROM notes WHERE owner = ?", ("a",))})
    (query,) = result.queries
    assert query.error is not None and "nope" in query.error
    assert any("cannot run" in text for text in result.recommendations)


def test_same_index_for_two_queries_is_proposed_once(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    result = run_review(
        db,
        {
            "a": ("SELECT id FROM notes WHERE owner = ? ORDER BY created DESC", ("a",)),
            "b": ("SELECT body FROM notes WHERE owner = ? ORDER BY created DESC LIMIT 3", ("a",)),
        },
    )
    (proposal,) = result.missing_indexes
    assert sorted(proposal.queries) == ["a", "b"]


def test_review_leaves_the_database_schema_untouched(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    before = db.query("SELECT name, sql FROM sqlite_master ORDER BY name")
    run_review(db, {"q": ("SELECT id FROM notes WHERE score = ? ORDER BY created", (1,))})
    after = db.query("SELECT name, sql FROM sqlite_master ORDER BY name")
    assert [tuple(r) for r in before] == [tuple(r) for r in after]


COLUMNS = ["owner", "kind", "score", "created", "updated", "archived"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    equal=st.lists(st.sampled_from(COLUMNS), max_size=2, unique=True),
    order=st.lists(
        st.tuples(st.sampled_from(COLUMNS), st.booleans()), max_size=2, unique_by=lambda t: t[0]
    ),
    constant=st.booleans(),
)
def test_every_proposal_removes_the_problem_it_was_made_for(
    tmp_path_factory: pytest.TempPathFactory,
    equal: list[str],
    order: list[tuple[str, bool]],
    constant: bool,
) -> None:
    """Whatever the query's shape, a proposed index, once really created, takes away the
    scan or sort it was proposed for; and a query left without proposal is explained."""
    db = make_db(tmp_path_factory.mktemp("prop"))
    where = [f"{c} = ?" for c in equal] + (
        ["archived = 0"] if constant and "archived" not in equal else []
    )
    sql = "SELECT id FROM notes" + (" WHERE " + " AND ".join(where) if where else "")
    if order:
        sql += " ORDER BY " + ", ".join(c + (" DESC" if d else "") for c, d in order)
    params = tuple("x" for _ in equal)
    result = run_review(db, {"q": (sql, params)})
    (query,) = result.queries
    for proposal in result.missing_indexes:
        db.execute(proposal.sql)
    if query.has_problem and result.missing_indexes:
        after = plan_details(db, sql, params)
        assert not any("TEMP B-TREE" in line for line in after), (sql, after)
        if query.fixable_scans:
            assert not any(line.startswith("SCAN notes") and "INDEX" not in line for line in after)
    elif query.has_problem:
        assert "q" in result.unfixable
    else:
        assert result.missing_indexes == []


def test_empty_catalog_is_said_not_passed_over(tmp_path: Path) -> None:
    result = run_review(make_db(tmp_path), {})
    assert result.queries == [] and result.missing_indexes == []
    assert any("catalog is empty" in text for text in result.recommendations)


def test_foreign_key_lookup_scan_on_delete_gets_a_child_index(tmp_path: Path) -> None:
    db = make_db(
        tmp_path,
        "CREATE TABLE parent (id TEXT PRIMARY KEY);"
        "CREATE TABLE child (id INTEGER PRIMARY KEY, "
        "parent_id TEXT REFERENCES parent(id) ON DELETE CASCADE, x TEXT);",
    )
    result = run_review(db, {"parent.delete": ("DELETE FROM parent WHERE id = ?", ("a",))})
    (query,) = result.queries
    assert query.full_scans == ["child"] and query.has_problem
    (proposal,) = result.missing_indexes
    assert (proposal.table, proposal.columns) == ("child", [("parent_id", False)])
