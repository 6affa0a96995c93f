"""Propose the indexes that remove the problems coverage found, each one tried first.

Every candidate is created inside `Database.probe()` (a savepoint that is always rolled
back) on a schema-only clone, the query is explained again, and the candidate is kept
only when the plan uses it and the problem is gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memvault.db import Database, driver
from memvault.review.coverage import (
    Proposal,
    QueryPlan,
    analyse_plan,
    candidates,
    explain,
    fixes,
    mark_inherent,
    problem_count,
    problem_tables,
)
from memvault.review.schema import Schema
from memvault.review.sqlshape import QueryShape


@dataclass
class PlannedQuery:
    """A catalog query with its parameters, plan and shape."""

    plan: QueryPlan
    shape: QueryShape | None
    params: Any


def replan(db: Database, schema: Schema, query: PlannedQuery) -> QueryPlan | None:
    """Explain the query again against the current (probed) schema."""
    if query.shape is None:
        return None
    try:
        steps = explain(db, query.plan.sql, query.params)
    except driver.Error:
        return None
    after = analyse_plan(query.plan.name, query.plan.sql, steps, schema, query.shape.aliases)
    mark_inherent(after, query.shape)
    return after


def try_proposal(
    db: Database, schema: Schema, query: PlannedQuery, proposal: Proposal
) -> list[str]:
    """The problems `proposal` removes from `query` (created and dropped in a probe)."""
    with db.probe():
        try:
            db.execute(proposal.sql)
        except driver.Error:
            return []
        after = replan(db, schema, query)
    if after is None:
        return []
    return fixes(query.plan, after, proposal.table, proposal.name)


def propose(
    db: Database, schema: Schema, queries: list[PlannedQuery]
) -> tuple[list[Proposal], dict[str, str]]:
    """Verified proposals for every query with a problem, and why others have none."""
    found: dict[Any, Proposal] = {}
    unfixable: dict[str, str] = {}
    for query in queries:
        if query.shape is None or not query.plan.has_problem:
            continue
        tables = problem_tables(query.plan, query.shape)
        if not tables and query.plan.key_lookups_missed:
            unfixable[query.plan.name] = (
                "a lookup by id that does not use the primary key: the query's shape, "
                "not an index, fixes it"
            )
        elif not tables:
            unfixable[query.plan.name] = (
                "the problem is not on a column an index can order or filter"
            )
        for table in tables:
            best = _best_candidate(db, schema, query, table)
            if best is None:
                unfixable[query.plan.name] = _why_unfixable(table, query.shape)
                continue
            proposal, removed = best
            kept = found.setdefault(proposal.key, proposal)
            kept.queries.append(query.plan.name)
            kept.fixes.extend(f"{query.plan.name}: {r}" for r in removed)
    merged = _drop_subsumed(db, schema, list(found.values()), {q.plan.name: q for q in queries})
    return merged, unfixable


def _why_unfixable(table: str, shape: QueryShape) -> str:
    tried = "; ".join(c.describe() for c in candidates(table, shape))
    reason = f"no single index on {table} removes it (the planner used none of {tried})"
    filt = shape.filters.get(table)
    for text, column in filt.expressions if filt else []:
        reason += (
            f"; the query filters on {text}, an expression, which an index on {column} cannot "
            f"serve together with the order: a range on {column} itself "
            f"({column} >= :start AND {column} < :end) would let one index filter and order"
        )
    return reason


def _best_candidate(
    db: Database, schema: Schema, query: PlannedQuery, table: str
) -> tuple[Proposal, list[str]] | None:
    assert query.shape is not None
    partial: tuple[Proposal, list[str]] | None = None
    wanted = problem_count(query.plan, table)
    for candidate in candidates(table, query.shape):
        removed = try_proposal(db, schema, query, candidate)
        if len(removed) >= wanted:
            return candidate, removed
        if removed and partial is None:
            partial = (candidate, removed)
    return partial


def _drop_subsumed(
    db: Database, schema: Schema, proposals: list[Proposal], by_name: Mapping[str, PlannedQuery]
) -> list[Proposal]:
    """Fold a proposal into a longer one on the same table when the longer one also fixes
    its queries (index A a prefix of B: B alone will do)."""
    kept = list(proposals)
    for short in sorted(proposals, key=lambda p: len(p.columns)):
        for long in kept:
            if long is short or long.table != short.table or long.where != short.where:
                continue
            if long.columns[: len(short.columns)] != short.columns:
                continue
            if all(
                len(try_proposal(db, schema, by_name[q], long))
                >= problem_count(by_name[q].plan, short.table)
                for q in short.queries
            ):
                long.queries.extend(short.queries)
                long.fixes.extend(short.fixes)
                kept.remove(short)
                break
    return kept


def verify_together(
    db: Database, schema: Schema, proposals: list[Proposal], queries: list[PlannedQuery]
) -> list[str]:
    """With every proposal created at once, the queries that still have a problem."""
    targeted = {name for p in proposals for name in p.queries}
    still: list[str] = []
    with db.probe():
        for proposal in proposals:
            db.execute(proposal.sql)
        for query in queries:
            if query.plan.name not in targeted:
                continue
            after = replan(db, schema, query)
            if (
                after is None
                or after.fixable_scans
                or after.automatic_indexes
                or after.fixable_sorts
            ):
                still.append(query.plan.name)
    return still
