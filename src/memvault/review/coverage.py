"""Index coverage: EXPLAIN QUERY PLAN for every catalog query, and the indexes that fix it.

A query has a problem when its plan scans a whole table (`SCAN t`, with or without an
index walked end to end), builds an automatic index, or sorts in a temporary B-tree for
ORDER BY / GROUP BY. For each problem an index is derived from the query's own shape
(equality columns, then the sort columns with their direction; a partial WHERE when the
query filters by a constant) and kept only if creating it, in a rolled-back probe,
makes the problem disappear from the plan.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from memvault.db import Database, driver
from memvault.review.schema import Schema, normalize_sql
from memvault.review.sqlshape import QueryShape, SortTerm, parse_shape

_SCAN = re.compile(r"^SCAN (?P<t>\S+)(?: USING (?:COVERING )?INDEX (?P<i>\S+))?$")
_SEARCH = re.compile(
    r"^SEARCH (?P<t>\S+) USING (?:(?:COVERING )?INDEX (?P<i>\S+)|INTEGER PRIMARY KEY|PRIMARY KEY)"
)
_KEY_SEARCH = re.compile(r"^SEARCH (?P<t>\S+) USING INTEGER PRIMARY KEY")
_AUTO = re.compile(r"^(?:SEARCH|SCAN) (?P<t>\S+) USING AUTOMATIC (?:PARTIAL )?COVERING INDEX")
_TEMP = re.compile(
    r"^USE TEMP B-TREE FOR (?:(?:LAST|RIGHT-MOST) \d+ TERMS? OF )?"
    r"(?P<what>ORDER BY|GROUP BY|DISTINCT)"
)


@dataclass(frozen=True)
class PlanStep:
    """One row of EXPLAIN QUERY PLAN."""

    id: int
    parent: int
    detail: str


@dataclass
class QueryPlan:
    """What the planner does with one catalog query, and what is wrong with it."""

    name: str
    sql: str
    plan: list[PlanStep] = field(default_factory=list)
    indexes_used: list[str] = field(default_factory=list)
    full_scans: list[str] = field(default_factory=list)  # tables read end to end
    automatic_indexes: list[str] = field(default_factory=list)
    temp_btrees: list[str] = field(default_factory=list)  # "ORDER BY", "GROUP BY", ...
    unfiltered: list[str] = field(default_factory=list)  # scanned tables the query does not filter
    computed_sorts: list[str] = field(default_factory=list)  # sorts by a value no index holds
    key_lookups_missed: list[str] = field(default_factory=list)  # by id, but not by rowid
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def full_scan(self) -> bool:
        return bool(self.full_scans)

    @property
    def temp_btree(self) -> bool:
        return bool(self.temp_btrees)

    @property
    def fixable_scans(self) -> list[str]:
        """Full scans of tables the query filters: an index could narrow them."""
        return [t for t in self.full_scans if t not in self.unfiltered]

    @property
    def fixable_sorts(self) -> list[str]:
        """Temporary B-trees for a sort by plain columns: an index could hold that order."""
        return [w for w in self.temp_btrees if w not in self.computed_sorts]

    @property
    def has_problem(self) -> bool:
        """Something an index could remove (a filtered full scan, an automatic index, a
        sort), or a lookup by id that does not search the primary key."""
        return bool(
            self.fixable_scans
            or self.automatic_indexes
            or self.fixable_sorts
            or self.key_lookups_missed
        )


@dataclass
class Proposal:
    """An index that removes a problem from one or more queries (checked, not guessed)."""

    table: str
    columns: list[tuple[str, bool]]  # (column, descending)
    where: str | None
    queries: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        cols = "_".join(c for c, _ in self.columns)
        suffix = (
            "_where_" + "_".join(re.findall(r"[a-z_]+", (self.where or "").lower())[:1])
            if self.where
            else ""
        )
        return f"idx_{self.table}_{cols}{suffix}"

    @property
    def key(self) -> tuple[str, tuple[tuple[str, bool], ...], str | None]:
        return (self.table, tuple(self.columns), self.where)

    def describe(self) -> str:
        cols = ", ".join(c + (" DESC" if d else "") for c, d in self.columns)
        return f"{self.table}({cols})" + (f" WHERE {self.where}" if self.where else "")

    @property
    def sql(self) -> str:
        cols = ", ".join(c + (" DESC" if d else "") for c, d in self.columns)
        where = f" WHERE {self.where}" if self.where else ""
        return f"CREATE INDEX {self.name} ON {self.table}({cols}){where}"


def explain(db: Database, sql: str, params: Mapping[str, Any] | Sequence[Any]) -> list[PlanStep]:
    """EXPLAIN QUERY PLAN rows of `sql` bound to `params`."""
    bound: Any = dict(params) if isinstance(params, Mapping) else tuple(params)
    rows = db.query(f"EXPLAIN QUERY PLAN {sql}", bound)
    return [PlanStep(int(r[0]), int(r[1]), str(r[3])) for r in rows]


def analyse_plan(
    name: str, sql: str, steps: list[PlanStep], schema: Schema, aliases: Mapping[str, str]
) -> QueryPlan:
    """Read the plan rows: indexes used, full scans of real tables, automatic indexes, sorts."""
    result = QueryPlan(name, sql, steps)
    for step in steps:
        detail = step.detail
        auto = _AUTO.match(detail)
        if auto:
            result.automatic_indexes.append(_table_of(auto.group("t"), aliases))
            continue
        scan = _SCAN.match(detail)
        if scan:
            table = _table_of(scan.group("t"), aliases)
            if table in schema.tables and schema.tables[table].kind == "table":
                result.full_scans.append(table)
            if scan.group("i"):
                result.indexes_used.append(scan.group("i"))
            continue
        search = _SEARCH.match(detail)
        if search:
            result.indexes_used.append(search.group("i") or "INTEGER PRIMARY KEY")
            continue
        temp = _TEMP.match(detail)
        if temp:
            result.temp_btrees.append(temp.group("what"))
    result.indexes_used = list(dict.fromkeys(result.indexes_used))
    _mark_input_sorts(result, schema, aliases)
    return result


def _mark_input_sorts(result: QueryPlan, schema: Schema, aliases: Mapping[str, str]) -> None:
    """A sort whose step reads no table, only what the query is given (json_each of a
    parameter, a VALUES list), grows with that input: no index can change it."""
    for step in result.plan:
        temp = _TEMP.match(step.detail)
        if temp is None:
            continue
        reads = [
            _table_of(s.detail.split()[1], aliases)
            for s in result.plan
            if s.parent == step.parent and s.detail.split()[0] in ("SCAN", "SEARCH")
        ]
        if reads and not any(table in schema.tables for table in reads):
            what = temp.group("what")
            result.computed_sorts.append(what)
            result.notes.append(
                f"{what} over what the query is given ({', '.join(sorted(set(reads)))}), not "
                "a table: it grows with the input, and no index changes it"
            )


def _table_of(name: str, aliases: Mapping[str, str]) -> str:
    return aliases.get(name.lower(), name)


def plan_query(
    db: Database, schema: Schema, name: str, sql: str, params: Any
) -> tuple[QueryPlan, QueryShape | None]:
    """Explain one query and read its shape; an error (e.g. a missing column) is reported."""
    columns = {t.name: [c.name for c in t.columns] for t in schema.tables.values()}
    shape = parse_shape(sql, columns, params)
    _add_foreign_key_lookups(shape, schema)
    try:
        steps = explain(db, sql, params)
    except driver.Error as exc:
        return QueryPlan(name, sql, error=f"{type(exc).__name__}: {exc}"), None
    result = analyse_plan(name, sql, steps, schema, shape.aliases)
    for table, filt in shape.filters.items():
        for column, leading in filt.likes:
            if leading:
                result.notes.append(
                    f"{table}.{column} LIKE '%...' has a leading wildcard: no index can serve it "
                    "(full-text search can)"
                )
    mark_inherent(result, shape)
    mark_missed_key_lookups(result, shape, schema)
    return result, shape


def mark_missed_key_lookups(result: QueryPlan, shape: QueryShape, schema: Schema) -> None:
    """Flag a table filtered by its INTEGER PRIMARY KEY (`id = ?`, `id IN (...)`) whose plan
    never searches that key: it reads rows by some other index (every row a user owns, say)
    and checks the id after. The fix is the query's shape, not an index."""
    searched = {
        _table_of(m.group("t"), shape.aliases)
        for m in (_KEY_SEARCH.match(step.detail) for step in result.plan)
        if m
    }
    own = set(shape.aliases.values())  # not the children a DELETE looks up by foreign key
    for table, filt in shape.filters.items():
        info = schema.tables.get(table) if table in own else None
        keys = [c.name for c in info.columns if c.pk == 1] if info else []
        if info is None or info.kind != "table" or len(keys) != 1:
            continue
        key = info.column(keys[0])
        if key is None or key.type.upper() != "INTEGER" or table in searched:
            continue
        if any(c.lower() == key.name.lower() for c in [*filt.equal, *filt.within]):
            result.key_lookups_missed.append(table)
            result.notes.append(
                f"looks {table} up by {key.name} but the plan does not search its primary key: "
                f"let the ids drive the join (FROM json_each(:ids) CROSS JOIN {table} ON "
                f"{table}.{key.name} = value)"
            )


def mark_inherent(result: QueryPlan, shape: QueryShape) -> None:
    """Note what no index can change: reading a table the query does not filter at all,
    and sorting by a computed value (a search rank, an expression) or across tables."""
    for table in result.full_scans:
        filt = shape.filters.get(table)
        if filt is None or not (filt.equal or filt.constant or filt.within or filt.ranges):
            result.unfiltered.append(table)
            result.notes.append(f"reads every row of {table}: the query does not filter it")
    for what, terms, unplain in (
        ("ORDER BY", shape.order_by, shape.unplain_order),
        ("GROUP BY", shape.group_by, shape.unplain_group),
    ):
        if what in result.temp_btrees and (unplain or len({t.table for t in terms}) > 1):
            result.computed_sorts.append(what)
            expression = _indexable_expression(shape) if what == "ORDER BY" else None
            if expression is not None:
                result.notes.append(
                    f"ORDER BY the expression {expression}: no plain-column index holds that "
                    "order, but an index on exactly that expression does (SQLite indexes "
                    "deterministic expressions; a built-in migration may make it)"
                )
                continue
            result.notes.append(
                f"{what} a computed value or several tables (e.g. a search rank): "
                "no index holds that order"
            )


_COLUMN_FUNCTION = re.compile(r"^(julianday|unixepoch|strftime|date|datetime|lower)\s*\(", re.I)


def _indexable_expression(shape: QueryShape) -> str | None:
    """The first ORDER BY expression that an expression index could hold (a deterministic
    function of one table's columns), as written; None when there is none."""
    if len(shape.aliases) != 1:
        return None
    for expression in shape.order_expressions:
        if _COLUMN_FUNCTION.match(expression):
            return expression
    return None


def _add_foreign_key_lookups(shape: QueryShape, schema: Schema) -> None:
    """Deleting or re-keying a parent row makes SQLite look up its children by their
    foreign key columns (the plan shows it): those are equality filters on the child."""
    if shape.kind not in ("DELETE", "UPDATE") or not shape.aliases:
        return
    target = next(iter(shape.aliases.values()))
    for table in schema.tables.values():
        for fk in table.foreign_keys:
            if fk.parent == target and table.name != target:
                shape.filter_for(table.name).equal.extend(fk.columns)


def problem_tables(result: QueryPlan, shape: QueryShape) -> list[str]:
    """Tables an index could help: scanned ones, and the one the sort columns belong to."""
    tables = list(dict.fromkeys(result.fixable_scans + result.automatic_indexes))
    sort_owner = _sort_owner(result, shape)
    if sort_owner and sort_owner not in tables:
        tables.append(sort_owner)
    return tables


def _sort_owner(result: QueryPlan, shape: QueryShape) -> str | None:
    for what, terms, unplain in (
        ("ORDER BY", shape.order_by, shape.unplain_order),
        ("GROUP BY", shape.group_by, shape.unplain_group),
    ):
        if what in result.fixable_sorts and terms and not unplain:
            owners = {t.table for t in terms}
            if len(owners) == 1:
                return owners.pop()
    return None


def candidates(table: str, shape: QueryShape) -> list[Proposal]:
    """Indexes that could serve `table` in this query, best first (derived from its shape)."""
    filt = shape.filters.get(table)
    equal = list(dict.fromkeys(filt.equal)) if filt else []
    within = list(dict.fromkeys(filt.within)) if filt else []
    ranges = list(dict.fromkeys(filt.ranges)) if filt else []
    constant = list(dict.fromkeys(filt.constant)) if filt else []
    sort = _sort_terms_for(table, shape)
    tail: list[tuple[str, bool]] = [(t.column, t.desc) for t in sort] or [
        (c, False) for c in ranges[:1]
    ]
    where = " AND ".join(normalize_sql(cond) for _, cond in constant) or None
    const_cols = [(c, False) for c, _ in constant]
    lead = [(c, False) for c in equal + within]
    shapes = [
        (lead + tail, where),
        (lead + const_cols + tail, None),
        (lead + [(c, False) for c in ranges[:1]], where),
        (lead, where),
        (lead + const_cols, None),
    ]
    proposals: list[Proposal] = []
    seen: set[Any] = set()
    for cols, cond in shapes:
        cols = list(dict.fromkeys(cols))
        proposal = Proposal(table, cols, cond)
        if cols and proposal.key not in seen:
            seen.add(proposal.key)
            proposals.append(proposal)
    return proposals


def _sort_terms_for(table: str, shape: QueryShape) -> list[SortTerm]:
    for terms, unplain in (
        (shape.order_by, shape.unplain_order),
        (shape.group_by, shape.unplain_group),
    ):
        if terms and not unplain and all(t.table == table for t in terms):
            return terms
    return []


def fixes(before: QueryPlan, after: QueryPlan, table: str, index_name: str) -> list[str]:
    """The problems of `table` in `before` that are gone in `after`, if `after` uses the index.

    Empty when the index is not used or when it leaves any problem in place that `before`
    did not have.
    """
    if index_name not in after.indexes_used:
        return []
    gone = []
    if table in before.fixable_scans and table not in after.full_scans:
        gone.append(f"full scan of {table}")
    if table in before.automatic_indexes and table not in after.automatic_indexes:
        gone.append(f"automatic index on {table}")
    for what in before.fixable_sorts:
        if what not in after.temp_btrees:
            gone.append(f"temporary B-tree for {what}")
    worse = (
        (table in after.full_scans and table not in before.full_scans)
        or len(after.automatic_indexes) > len(before.automatic_indexes)
        or len(after.temp_btrees) > len(before.temp_btrees)
    )
    return [] if worse else gone


def problem_count(plan: QueryPlan, table: str) -> int:
    """How many problems an index on `table` would have to remove from this plan."""
    return (
        (table in plan.fixable_scans) + (table in plan.automatic_indexes) + len(plan.fixable_sorts)
    )
