"""Run every check of a schema review and put the results in one place (JSON, Markdown)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel

from memvault.db import Database
from memvault.migrations import Migration
from memvault.review import health
from memvault.review.advice import recommendations
from memvault.review.advisor import PlannedQuery, propose, verify_together
from memvault.review.alignment import AlignmentReport, check_alignment, store_models
from memvault.review.coverage import Proposal, QueryPlan, plan_query
from memvault.review.drift import DriftReport, find_drift
from memvault.review.indexes import RedundantIndex, UnusedIndex, find_redundant, find_unused
from memvault.review.schema import Schema, clone_schema, read_schema
from memvault.store.catalog import CatalogQuery, catalog

STORE_QUERIES_MODULE = "memvault.store.queries"


@dataclass
class Models:
    """The models alignment checks: record models and write models by table."""

    records: Mapping[str, type[BaseModel]]
    writes: Mapping[str, type[BaseModel]] = field(default_factory=dict)
    ignored: set[str] = field(default_factory=set)


@dataclass
class Review:
    """Everything `memvault schema review` found about one database."""

    database: str
    alignment: AlignmentReport | None
    drift: DriftReport
    queries: list[QueryPlan]
    missing_indexes: list[Proposal]
    unfixable: dict[str, str]
    still_unsolved: list[str]
    redundant_indexes: list[RedundantIndex]
    unused_indexes: list[UnusedIndex]
    foreign_keys: health.ForeignKeyReport
    orphans: list[health.Orphans]
    fts: list[health.FtsCheck]
    tables: list[health.TableSize]
    recommendations: list[str] = field(default_factory=list)
    # Applied migrations whose verify fails now (e.g. 009: a stale or incomplete search index).
    verify_failures: list[str] = field(default_factory=list)

    @property
    def problem_queries(self) -> list[QueryPlan]:
        return [q for q in self.queries if q.has_problem]

    def to_dict(self) -> dict[str, Any]:
        """The review as JSON-ready data."""
        return {
            "database": self.database,
            "alignment": _alignment_dict(self.alignment),
            "drift": {**asdict(self.drift), "clean": self.drift.clean},
            "queries": [_query_dict(q) for q in self.queries],
            "missing_indexes": [_proposal_dict(p) for p in self.missing_indexes],
            "unfixable_queries": self.unfixable,
            "redundant_indexes": [asdict(r) for r in self.redundant_indexes],
            "unused_indexes": [asdict(u) for u in self.unused_indexes],
            "foreign_keys": asdict(self.foreign_keys),
            "orphans": [asdict(o) for o in self.orphans],
            "fts": [asdict(f) for f in self.fts],
            "tables": [asdict(t) for t in self.tables],
            "recommendations": self.recommendations,
            "verify_failures": self.verify_failures,
        }


def _alignment_dict(report: AlignmentReport | None) -> dict[str, Any]:
    if report is None:
        return {
            "checked": [],
            "aligned": None,
            "mismatches": [],
            "notes": ["store models not available"],
        }
    return {
        "checked": report.checked,
        "fields_checked": report.fields_checked,
        "aligned": report.aligned,
        "mismatches": [asdict(m) for m in report.mismatches],
        "notes": report.notes,
    }


def _query_dict(q: QueryPlan) -> dict[str, Any]:
    return {
        "name": q.name,
        "sql": q.sql,
        "plan": [s.detail for s in q.plan],
        "index_used": q.indexes_used,
        "full_scan": q.full_scan,
        "full_scans": q.full_scans,
        "automatic_index": bool(q.automatic_indexes),
        "temp_btree": q.temp_btree,
        "temp_btree_for": q.temp_btrees,
        "key_lookup_missed": q.key_lookups_missed,
        "notes": q.notes,
        "error": q.error,
    }


def _proposal_dict(p: Proposal) -> dict[str, Any]:
    return {
        "name": p.name,
        "table": p.table,
        "columns": [{"column": c, "desc": d} for c, d in p.columns],
        "where": p.where,
        "sql": p.sql,
        "queries": p.queries,
        "fixes": p.fixes,
    }


def load_catalog() -> Mapping[str, CatalogQuery]:
    """Every query the store registers (importing the store's query module registers them)."""
    try:
        importlib.import_module(STORE_QUERIES_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != STORE_QUERIES_MODULE:
            raise
    return catalog()


def default_models() -> Models | None:
    found = store_models()
    if found is None:
        return None
    records, writes, ignored = found
    return Models(records, writes, ignored)


def review(
    db: Database,
    migrations: Sequence[Migration],
    *,
    queries: Mapping[str, CatalogQuery] | None = None,
    models: Models | None = None,
    name: str = "",
) -> Review:
    """Review `db`: alignment, drift, index coverage and advice, data health.

    Plans are read on a schema-only clone (same schema and statistics), so trial indexes
    cost nothing and `db` is never written.
    """
    queries = load_catalog() if queries is None else queries
    models = default_models() if models is None else models
    schema = read_schema(db)
    clone = clone_schema(db)
    try:
        planned = [_plan(clone, schema, q) for q in queries.values()]
        proposals, unfixable = propose(clone, schema, planned)
        unsolved = verify_together(clone, schema, proposals, planned)
    finally:
        clone.close()
    used = {i for p in planned for i in p.plan.indexes_used}
    redundant = find_redundant(schema)
    result = Review(
        database=name or db.url.display,
        alignment=check_alignment(db, schema, models.records, models.writes, models.ignored)
        if models
        else None,
        drift=find_drift(db, migrations, schema),
        queries=[p.plan for p in planned],
        missing_indexes=proposals,
        unfixable=unfixable,
        still_unsolved=unsolved,
        redundant_indexes=redundant,
        unused_indexes=find_unused(schema, used, redundant),
        foreign_keys=health.foreign_keys(db, schema),
        orphans=health.orphans(db, schema),
        fts=health.fts_integrity(db, schema),
        tables=health.table_sizes(db, schema),
    )
    result.verify_failures = _verify_failures(db, migrations)
    result.recommendations = recommendations(result) + result.verify_failures
    return result


def _verify_failures(db: Database, migrations: Sequence[Migration]) -> list[str]:
    """Each applied migration whose verify fails on `db`, with its problem."""
    from memvault.migrations import Migrator

    if not migrations:
        return []
    report = Migrator(db, migrations, applied_by="memvault schema review", dry_run=True).verify()
    return [f"migration {r.version:03d}_{r.name}: {r.problem}" for r in report.results if not r.ok]


def _plan(db: Database, schema: Schema, query: CatalogQuery) -> PlannedQuery:
    params: Any = dict(query.params) if isinstance(query.params, Mapping) else tuple(query.params)
    plan, shape = plan_query(db, schema, query.name, query.sql, params)
    return PlannedQuery(plan, shape, params)
