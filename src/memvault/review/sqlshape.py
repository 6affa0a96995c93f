"""The shape of a simple SQL statement: its tables, filters and sort order.

Enough of SQL for the store's catalog queries (one statement, tables joined with JOIN ...
ON, a WHERE of AND-ed terms, ORDER BY / GROUP BY of columns), so that index advice is
derived from what a query asks rather than written down per query. Terms it does not
understand are kept as `other` and never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from memvault.review.schema import split_top_level

_KEYWORDS = {
    "where",
    "join",
    "inner",
    "left",
    "right",
    "cross",
    "outer",
    "natural",
    "on",
    "using",
    "order",
    "group",
    "limit",
    "having",
    "set",
    "values",
    "returning",
    "union",
    "except",
    "intersect",
    "window",
    "indexed",
    "not",
    "as",
}
_PARAM = r"(?:\?\d*|[:@$]\w+)"
_CONST = r"(?:-?\d+(?:\.\d+)?|'(?:[^']|'')*'|NULL|TRUE|FALSE)"
_COL = r"(?:(?P<q>\w+)\.)?(?P<c>\w+)"
_EQ_PARAM = re.compile(rf"^{_COL}\s*(?:=|==|IS)\s*{_PARAM}$", re.I)
_EQ_CONST = re.compile(rf"^{_COL}\s*(?:=|==|IS)\s*(?P<v>{_CONST})$", re.I)
_IS_NULL = re.compile(rf"^{_COL}\s+IS\s+(?P<v>NOT\s+NULL|NULL)$", re.I)
_IN = re.compile(rf"^{_COL}\s+IN\s*\(", re.I)
_RANGE = re.compile(rf"^{_COL}\s*(?:<|>|<=|>=|\s+BETWEEN\s+)", re.I)
_EXPR = re.compile(
    r"^(?P<f>\w+)\s*\(\s*(?:(?P<q>\w+)\.)?(?P<c>\w+)\s*\)\s*(?:=|==|<|>|<=|>=|BETWEEN\b|IN\b)", re.I
)
_JOIN_EQ = re.compile(r"^(?P<q1>\w+)\.(?P<c1>\w+)\s*=\s*(?P<q2>\w+)\.(?P<c2>\w+)$", re.I)
_LIKE = re.compile(rf"{_COL}\s+(?:NOT\s+)?LIKE\s+(?P<v>{_PARAM}|'(?:[^']|'')*')", re.I)
_ORDER_TERM = re.compile(
    rf"^{_COL}(?:\s+COLLATE\s+\w+)?(?:\s+(?P<dir>ASC|DESC))?(?:\s+NULLS\s+(?:FIRST|LAST))?$", re.I
)
_CLAUSE_END = r"(?=\bGROUP\s+BY\b|\bORDER\s+BY\b|\bLIMIT\b|\bRETURNING\b|\bHAVING\b|\bWINDOW\b|$)"


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
    kind = text.split(" ", 1)[0].upper() if text else ""
    shape = QueryShape(kind)
    _read_tables(text, shape)
    lower_cols = {t: {c.lower() for c in cols} for t, cols in columns.items()}
    for clause in _where_and_on_clauses(text):
        for term in split_and(clause):
            _read_term(term.strip(), shape, lower_cols, params)
    order = _clause(text, r"\bORDER\s+BY\b", r"(?=\bLIMIT\b|\bRETURNING\b|$)")
    if order:
        shape.order_by, shape.unplain_order = _sort_terms(order, shape, lower_cols)
        shape.order_expressions = [
            p.strip() for p in split_top_level(order, ",") if not _ORDER_TERM.match(p.strip())
        ]
    group = _clause(text, r"\bGROUP\s+BY\b", r"(?=\bHAVING\b|\bORDER\s+BY\b|\bLIMIT\b|$)")
    if group:
        shape.group_by, shape.unplain_group = _sort_terms(group, shape, lower_cols)
    return shape


def _read_tables(text: str, shape: QueryShape) -> None:
    not_alias = "|".join(sorted(_KEYWORDS))
    pattern = re.compile(
        rf"\b(?:FROM|JOIN|UPDATE|INTO)\s+(?P<t>\w+)(?:\s+(?:AS\s+)?(?!(?:{not_alias})\b)(?P<a>\w+))?",
        re.I,
    )
    for match in pattern.finditer(_outside_brackets(text)):
        table = match.group("t")
        alias = match.group("a")
        if table.lower() in _KEYWORDS or table.upper() == "SELECT":
            continue
        shape.aliases.setdefault(table.lower(), table)
        if alias and alias.lower() not in _KEYWORDS:
            shape.aliases[alias.lower()] = table


def _outside_brackets(text: str) -> str:
    """`text` with everything inside brackets blanked (sub-queries, argument lists)."""
    out = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        out.append(ch if depth == 0 else " ")
        if ch == ")":
            depth -= 1
    return "".join(out)


def _clause(text: str, start: str, end: str) -> str | None:
    """The text of a top-level clause (outside brackets), from `start` up to `end`."""
    flat = _outside_brackets(text)
    match = re.search(rf"{start}(?P<body>.*?){end}", flat, re.I)
    if match is None:
        return None
    return text[match.start("body") : match.end("body")].strip()


def _where_and_on_clauses(text: str) -> list[str]:
    clauses = []
    where = _clause(text, r"\bWHERE\b", _CLAUSE_END)
    if where:
        clauses.append(where)
    flat = _outside_brackets(text)
    for match in re.finditer(
        r"\bON\b(?P<body>.*?)(?=\b(?:LEFT|INNER|CROSS|JOIN|WHERE|GROUP|ORDER|LIMIT)\b|$)",
        flat,
        re.I,
    ):
        clauses.append(text[match.start("body") : match.end("body")].strip())
    return clauses


def split_and(clause: str) -> list[str]:
    """The AND-ed terms of a condition, at the top level (BETWEEN x AND y kept whole)."""
    flat = _outside_brackets(clause)
    terms, start, pos = [], 0, 0
    for match in re.finditer(r"\bAND\b", flat, re.I):
        if re.search(r"\bBETWEEN\s+\S+\s*$", flat[pos : match.start()], re.I):
            pos = match.end()
            continue
        terms.append(clause[start : match.start()])
        start = pos = match.end()
    terms.append(clause[start:])
    return [t.strip() for t in terms if t.strip()]


def _owner(
    qualifier: str | None, column: str, shape: QueryShape, cols: Mapping[str, set[str]]
) -> str | None:
    if qualifier:
        return shape.aliases.get(qualifier.lower())
    for table in dict.fromkeys(shape.aliases.values()):
        if column.lower() in cols.get(table, set()):
            return table
    return None


def _read_term(term: str, shape: QueryShape, cols: Mapping[str, set[str]], params: object) -> None:
    while term.startswith("(") and term.endswith(")") and len(split_and(term[1:-1])) == 1:
        term = term[1:-1].strip()
    for like in _LIKE.finditer(term):
        table = _owner(like.group("q"), like.group("c"), shape, cols)
        if table:
            shape.filter_for(table).likes.append(
                (like.group("c"), _leading_wildcard(like.group("v"), params))
            )
    expr = _EXPR.match(term)
    if expr:
        table = _owner(expr.group("q"), expr.group("c"), shape, cols)
        if table:
            text = f"{expr.group('f')}({expr.group('c')})"
            shape.filter_for(table).expressions.append((text, expr.group("c")))
        return
    join = _JOIN_EQ.match(term)
    if join:
        for q, c in ((join.group("q1"), join.group("c1")), (join.group("q2"), join.group("c2"))):
            table = _owner(q, c, shape, cols)
            if table:
                shape.filter_for(table).equal.append(c)
        return
    for pattern, slot in ((_EQ_PARAM, "equal"), (_IN, "within"), (_RANGE, "ranges")):
        match = pattern.match(term)
        if match:
            table = _owner(match.group("q"), match.group("c"), shape, cols)
            if table:
                getattr(shape.filter_for(table), slot).append(match.group("c"))
            return
    for pattern in (_EQ_CONST, _IS_NULL):
        match = pattern.match(term)
        if match:
            table = _owner(match.group("q"), match.group("c"), shape, cols)
            if table:
                condition = re.sub(r"^\w+\.", "", term)
                shape.filter_for(table).constant.append((match.group("c"), condition))
            return


def _leading_wildcard(value: str, params: object) -> bool:
    if value.startswith("'"):
        return value[1:].startswith("%")
    bound: object = None
    if isinstance(params, Mapping) and value[:1] in ":@$":
        bound = params.get(value[1:])
    elif isinstance(params, Sequence) and not isinstance(params, str) and value == "?" and params:
        bound = next((p for p in params if isinstance(p, str) and "%" in p), None)
    return isinstance(bound, str) and bound.startswith("%")


def _sort_terms(
    clause: str, shape: QueryShape, cols: Mapping[str, set[str]]
) -> tuple[list[SortTerm], bool]:
    terms: list[SortTerm] = []
    for part in split_top_level(clause, ","):
        match = _ORDER_TERM.match(part.strip())
        table = _owner(match.group("q"), match.group("c"), shape, cols) if match else None
        if match is None or table is None:
            return terms, True
        desc = (match.group("dir") or "").upper() == "DESC"
        terms.append(SortTerm(table, match.group("c"), desc))
    return terms, False
