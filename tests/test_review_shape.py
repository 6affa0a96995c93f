"""The SQL-shape reader: tables, filters and sort order of the catalog's kind of query."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from memvault.review.schema import _index_parts, normalize_sql
from memvault.review.sqlshape import SortTerm, parse_shape, split_and

COLUMNS = {
    "memories": ["id", "user_id", "title", "content", "is_archived", "created_at", "updated_at"],
    "memories_fts": ["title", "content", "tags"],
    "interactions": ["id", "user_id", "created_at"],
}


def test_filters_are_sorted_into_equality_constant_range_and_like() -> None:
    shape = parse_shape(
        "SELECT id FROM memories WHERE user_id = :user_id AND is_archived = 0 "
        "AND created_at BETWEEN :a AND :b AND (title LIKE :q OR content LIKE :q) "
        "ORDER BY updated_at DESC, id LIMIT :limit",
        COLUMNS,
        {"user_id": "u", "a": "x", "b": "y", "q": "%tea%", "limit": 5},
    )
    filt = shape.filters["memories"]
    assert filt.equal == ["user_id"]
    assert filt.constant == [("is_archived", "is_archived = 0")]
    assert filt.ranges == ["created_at"]
    assert filt.likes == [("title", True), ("content", True)]
    assert shape.order_by == [SortTerm("memories", "updated_at", True), SortTerm("memories", "id")]
    assert not shape.unplain_order


def test_aliases_join_terms_and_computed_order() -> None:
    shape = parse_shape(
        "SELECT m.id FROM memories_fts JOIN memories AS m ON m.id = memories_fts.rowid "
        "WHERE memories_fts MATCH :q AND m.user_id = :u ORDER BY bm25(memories_fts) LIMIT 5",
        COLUMNS,
    )
    assert shape.aliases["m"] == "memories"
    assert sorted(shape.filters["memories"].equal) == ["id", "user_id"]
    assert shape.unplain_order


def test_expression_filter_is_recognised() -> None:
    shape = parse_shape(
        "SELECT id FROM interactions WHERE user_id = ? AND DATE(created_at) BETWEEN ? AND ?",
        COLUMNS,
    )
    assert shape.filters["interactions"].expressions == [("DATE(created_at)", "created_at")]
    assert shape.filters["interactions"].ranges == []


def test_literal_like_without_leading_wildcard() -> None:
    shape = parse_shape("SELECT id FROM memories WHERE title LIKE 'tea%'", COLUMNS)
    assert shape.filters["memories"].likes == [("title", False)]


def test_split_and_keeps_between_whole() -> None:
    assert split_and("a = 1 AND b BETWEEN 2 AND 3 AND (c = 1 AND d = 2)") == [
        "a = 1",
        "b BETWEEN 2 AND 3",
        "(c = 1 AND d = 2)",
    ]


words = st.sampled_from(["select", "Id", "FROM", "t", "where", "x", "=", "'A b'", "(", ")", ","])


@given(
    st.lists(words, max_size=12), st.lists(st.sampled_from([" ", "  ", "\n", "\t"]), max_size=12)
)
def test_normalize_sql_is_idempotent_and_ignores_spacing(
    tokens: list[str], gaps: list[str]
) -> None:
    plain = " ".join(tokens)
    spaced = "".join(tok + (gaps[i] if i < len(gaps) else " ") for i, tok in enumerate(tokens))
    assert normalize_sql(normalize_sql(plain)) == normalize_sql(plain)
    assert normalize_sql(spaced) == normalize_sql(plain)


@given(
    st.lists(st.sampled_from(["a", "b(c, d)", "'x,y'", "f(g(h, i), j)", '"q,(r"']), min_size=1,
             max_size=5),
    st.lists(st.sampled_from(["", " DESC", " ASC", " COLLATE NOCASE", " COLLATE NOCASE DESC"]),
             min_size=5, max_size=5),
    st.sampled_from([None, "is_archived = 0", "x IS NOT NULL AND y = 'a,b)'"]),
)  # fmt: skip
def test_index_parts_respect_brackets_quotes_order_and_where(
    parts: list[str], suffixes: list[str], where: str | None
) -> None:
    keys = ", ".join(p + suffixes[i] for i, p in enumerate(parts))
    sql = f"CREATE INDEX i ON t({keys})" + (f" WHERE {where}" if where else "")
    found, found_where = _index_parts(sql)
    assert found == [normalize_sql(p) for p in parts]
    assert found_where == (normalize_sql(where) if where else None)
