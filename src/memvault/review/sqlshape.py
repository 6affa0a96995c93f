"""The shape of a simple SQL statement: its tables, filters and sort order.

The statement is parsed by sqlglot (SQLite dialect), not read with regular expressions:
tables joined with JOIN ... ON, a WHERE of AND-ed terms, ORDER BY / GROUP BY of columns,
so that index advice is derived from what a query asks rather than written down per
query. Terms it does not understand are ignored and never guessed at.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

_COMPARISONS = (exp.EQ, exp.LT, exp.GT, exp.LTE, exp.GTE, exp.Between, exp.In)
_RANGES = (exp.LT, exp.GT, exp.LTE, exp.GTE, exp.Between)
_PARAMETERS = (exp.Placeholder, exp.Parameter)
_CONSTANTS = (exp.Literal, exp.Null, exp.Boolean)


@dataclass(frozen=True)
class SortTerm:
    table: str
    column: str
    desc: bool = False


@dataclass
class TableFilter:
    """What a statement asks of one table."""

    table: str
    equal: list[str] = field(default_factory=list)  # column = ? (or = other_table.col)
    constant: list[tuple[str, str]] = field(default_factory=list)  # (column, "column = 0")
    within: list[str] = field(default_factory=list)  # column IN (...)
    ranges: list[str] = field(default_factory=list)  # column < ?, BETWEEN ...
    likes: list[tuple[str, bool]] = field(default_factory=list)  # (column, leading wildcard)
    expressions: list[tuple[str, str]] = field(default_factory=list)  # ("date(created_at)", column)


@dataclass
class QueryShape:
    """Tables by alias, filters per table, ORDER BY and GROUP BY terms."""

    kind: str
    aliases: dict[str, str] = field(default_factory=dict)  # alias (or name) -> table
    filters: dict[str, TableFilter] = field(default_factory=dict)
    order_by: list[SortTerm] = field(default_factory=list)
    group_by: list[SortTerm] = field(default_factory=list)
    unplain_order: bool = False  # ORDER BY holds something that is not a plain column
    order_expressions: list[str] = field(default_factory=list)  # those terms, as written
    unplain_group: bool = False

    def filter_for(self, table: str) -> TableFilter:
        return self.filters.setdefault(table, TableFilter(table))


def parse_shape(
    sql: str,
    columns: Mapping[str, Sequence[str]],
    params: Mapping[str, object] | Sequence[object] = (),
) -> QueryShape:
    """Read the shape of `sql`; `columns` maps each table to its column names (to place
    unqualified columns), `params` lets a LIKE pattern's leading wildcard be seen."""
    text = " ".join(sql.split())
    shape = QueryShape(text.split(" ", 1)[0].upper() if text else "")
    try:
        root = sqlglot.parse_one(text, read="sqlite")
    except sqlglot.errors.ParseError:
        return shape
    _read_tables(root, shape)
    lower_cols = {t: {c.lower() for c in cols} for t, cols in columns.items()}
    for condition in _where_and_on(root):
        for term in and_terms(condition):
            _read_term(term, shape, lower_cols, params)
    order = root.args.get("order")
    if order is not None:
        shape.order_by, shape.unplain_order = _sort_terms(order.expressions, shape, lower_cols)
        shape.order_expressions = [
            node.sql(dialect="sqlite", normalize_functions=False)
            for node in (t.this if isinstance(t, exp.Ordered) else t for t in order.expressions)
            if not isinstance(node, exp.Column)
        ]
    group = root.args.get("group")
    if group is not None:
        shape.group_by, shape.unplain_group = _sort_terms(group.expressions, shape, lower_cols)
    return shape


def _top_level(node: exp.Expr, root: exp.Expr) -> bool:
    """True when `node` belongs to `root` itself, not to a sub-query inside it."""
    owner: object = node.find_ancestor(exp.Select, exp.Subquery)
    return owner is None or owner is root


def _read_tables(root: exp.Expr, shape: QueryShape) -> None:
    for table in root.find_all(exp.Table):
        if not table.name or not _top_level(table, root):
            continue  # a table-valued function (json_each) or a sub-query's table
        shape.aliases.setdefault(table.name.lower(), table.name)
        if table.alias:
            shape.aliases[table.alias.lower()] = table.name


def _where_and_on(root: exp.Expr) -> Iterator[exp.Expr]:
    where = root.args.get("where")
    if where is not None:
        yield where.this
    for join in root.args.get("joins") or []:
        if join.args.get("on") is not None:
            yield join.args["on"]


def and_terms(condition: exp.Expr) -> list[exp.Expr]:
    """The AND-ed terms of a condition, at the top level (BETWEEN x AND y stays whole)."""
    if isinstance(condition, exp.And):
        return and_terms(condition.this) + and_terms(condition.expression)
    return [condition]


def split_and(clause: str) -> list[str]:
    """The AND-ed terms of a condition written as text (SQLite spelling)."""
    condition = sqlglot.parse_one(f"SELECT 1 WHERE {clause}", read="sqlite").args["where"].this
    return [term.sql(dialect="sqlite") for term in and_terms(condition)]


def _owner(
    qualifier: str | None, column: str, shape: QueryShape, cols: Mapping[str, set[str]]
) -> str | None:
    if qualifier:
        return shape.aliases.get(qualifier.lower())
    for table in dict.fromkeys(shape.aliases.values()):
        if column.lower() in cols.get(table, set()):
            return table
    return None


def _column(
    node: exp.Expr | None, shape: QueryShape, cols: Mapping[str, set[str]]
) -> tuple[str, str] | None:
    """(table, column) for a column reference placed on one of the statement's tables."""
    if not isinstance(node, exp.Column):
        return None
    table = _owner(node.table or None, node.name, shape, cols)
    return None if table is None else (table, node.name)


def _read_term(
    term: exp.Expr, shape: QueryShape, cols: Mapping[str, set[str]], params: object
) -> None:
    while isinstance(term, exp.Paren) and not isinstance(term.this, exp.And):
        term = term.this
    if isinstance(term, exp.Paren):
        return  # (a AND b): not a single term
    for like in term.find_all(exp.Like):
        placed = _column(like.this, shape, cols)
        if placed:
            shape.filter_for(placed[0]).likes.append(
                (placed[1], _leading_wildcard(like.expression, params))
            )
    if isinstance(term, _COMPARISONS) and isinstance(term.this, exp.Func):
        _read_expression(term.this, shape, cols)
        return
    if _read_join(term, shape, cols):
        return
    placed = _column(term.this, shape, cols)
    if placed is None:
        _read_not_null(term, shape, cols)
        return
    table, column = placed
    rhs = term.args.get("expression")
    if isinstance(term, (exp.EQ, exp.Is)) and isinstance(rhs, _PARAMETERS):
        shape.filter_for(table).equal.append(column)
    elif isinstance(term, exp.In):
        shape.filter_for(table).within.append(column)
    elif isinstance(term, _RANGES):
        shape.filter_for(table).ranges.append(column)
    elif isinstance(term, (exp.EQ, exp.Is)) and rhs is not None and _constant(rhs):
        operator = "IS" if isinstance(term, exp.Is) else "="
        condition = f"{column} {operator} {rhs.sql(dialect='sqlite')}"
        shape.filter_for(table).constant.append((column, condition))


def _constant(node: exp.Expr | None) -> bool:
    if isinstance(node, exp.Neg):
        node = node.this
    return isinstance(node, _CONSTANTS)


def _read_expression(func: exp.Func, shape: QueryShape, cols: Mapping[str, set[str]]) -> None:
    """`date(created_at) >= ?`: a filter on an expression of one column."""
    args = [a for a in func.iter_expressions()]
    placed = _column(args[0], shape, cols) if len(args) == 1 else None
    if placed:
        name = func.name if isinstance(func, exp.Anonymous) else func.sql_name()
        shape.filter_for(placed[0]).expressions.append((f"{name}({placed[1]})", placed[1]))


def _read_join(term: exp.Expr, shape: QueryShape, cols: Mapping[str, set[str]]) -> bool:
    """`a.x = b.y`: both columns are looked up by equality."""
    if not isinstance(term, exp.EQ):
        return False
    sides = (term.this, term.expression)
    if not all(isinstance(s, exp.Column) and s.table for s in sides):
        return False
    for side in sides:
        placed = _column(side, shape, cols)
        if placed:
            shape.filter_for(placed[0]).equal.append(placed[1])
    return True


def _read_not_null(term: exp.Expr, shape: QueryShape, cols: Mapping[str, set[str]]) -> None:
    """`x IS NOT NULL` (parsed as NOT (x IS NULL)): a constant condition."""
    inner = term.this if isinstance(term, exp.Not) else None
    if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
        placed = _column(inner.this, shape, cols)
        if placed:
            shape.filter_for(placed[0]).constant.append((placed[1], f"{placed[1]} IS NOT NULL"))


def _leading_wildcard(value: exp.Expr, params: object) -> bool:
    if isinstance(value, exp.Literal) and value.is_string:
        return str(value.this).startswith("%")
    bound: object = None
    if isinstance(value, exp.Placeholder) and isinstance(params, Mapping):
        bound = params.get(str(value.name))
    elif isinstance(value, exp.Placeholder) and _positional(params):
        assert isinstance(params, Sequence)
        bound = next((p for p in params if isinstance(p, str) and "%" in p), None)
    return isinstance(bound, str) and bound.startswith("%")


def _positional(params: object) -> bool:
    return isinstance(params, Sequence) and not isinstance(params, str) and bool(params)


def _sort_terms(
    terms: Sequence[exp.Expr], shape: QueryShape, cols: Mapping[str, set[str]]
) -> tuple[list[SortTerm], bool]:
    sorted_by: list[SortTerm] = []
    for term in terms:
        desc = bool(term.args.get("desc")) if isinstance(term, exp.Ordered) else False
        node = term.this if isinstance(term, exp.Ordered) else term
        if isinstance(node, exp.Collate):
            node = node.this
        placed = _column(node, shape, cols)
        if placed is None:
            return sorted_by, True
        sorted_by.append(SortTerm(placed[0], placed[1], desc))
    return sorted_by, False
