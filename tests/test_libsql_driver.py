"""The libSQL connection wrapper against a real sqld: parameters, rows, errors, scripts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memvault.db.libsql import LibSQLConnection, connect_remote, split_statements
from memvault.db.params import positional


@pytest.fixture
def conn(libsql_url: str) -> Iterator[LibSQLConnection]:
    connection = connect_remote(libsql_url, None)
    yield connection
    connection.close()


def test_named_parameters_become_numbered_ones_outside_literals_and_comments() -> None:
    sql, values = positional(
        "SELECT :a, :b, :a, ':x', \"$y\" -- :z\n/* @w */ FROM t", {"a": 1, "b": "two"}
    )
    assert sql == "SELECT ?1, ?2, ?1, ':x', \"$y\" -- :z\n/* @w */ FROM t"
    assert values == (1, "two")


def test_a_missing_named_parameter_is_named() -> None:
    with pytest.raises(ValueError, match=":b"):
        positional("SELECT :a, :b", {"a": 1})


def test_rows_are_sqlite3_rows(conn: LibSQLConnection) -> None:
    row = conn.execute("SELECT :a AS a, 2 AS Two", {"a": "x"}).fetchone()
    assert isinstance(row, sqlite3.Row)
    assert row["a"] == "x" and row["two"] == 2 and row[1] == 2
    assert row.keys() == ["a", "Two"] and tuple(row) == ("x", 2)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_every_64_bit_integer_round_trips_as_an_integer(sqld_url: str, value: int) -> None:
    # The libsql client alone sends ints outside 32 bits as REAL (2**53 + 1 comes back wrong).
    conn = connect_remote(sqld_url, None)
    try:
        row = conn.execute("SELECT ?, typeof(?)", (value, value)).fetchone()
        named = conn.execute("SELECT :v, typeof(:v)", {"v": value}).fetchone()
    finally:
        conn.close()
    assert row is not None and named is not None
    assert (row[0], row[1]) == (value, "integer")
    assert (named[0], named[1]) == (value, "integer")


def test_errors_are_sqlite3_errors_with_sqlites_message(conn: LibSQLConnection) -> None:
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError, match=r"^UNIQUE constraint failed: t\.id$"):
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="^no such table: nope$"):
        conn.execute("SELECT * FROM nope")
    with pytest.raises(sqlite3.OperationalError, match="syntax error"):
        conn.execute("SELEC 1")


def test_an_unreachable_server_is_an_operational_error() -> None:
    conn = connect_remote("http://127.0.0.1:9", None)
    with pytest.raises(sqlite3.OperationalError, match="cannot reach the libSQL server"):
        conn.execute("SELECT 1")


def test_a_script_stops_at_its_first_error(conn: LibSQLConnection) -> None:
    # The client's own executescript reports nothing and runs on past a failing statement.
    with pytest.raises(sqlite3.OperationalError, match="no such table: nope"):
        conn.executescript("CREATE TABLE s1 (x); INSERT INTO nope VALUES (1); CREATE TABLE s2 (x);")
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master").fetchall()]
    assert "s1" in names and "s2" not in names


def test_statements_split_where_sqlite_says() -> None:
    script = (
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT ';'; SELECT 2; END;\n"
        "SELECT 1 -- a; comment\n; /* only a comment; */ -- and another\n"
    )
    assert split_statements(script) == [
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT ';'; SELECT 2; END;",
        "SELECT 1 -- a; comment\n;",
    ]


def test_ddl_in_a_transaction_rolls_back_and_round_trips_are_counted(
    conn: LibSQLConnection,
) -> None:
    before = conn.round_trips
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("CREATE TABLE gone (x)")
    assert conn.in_transaction
    conn.execute("ROLLBACK")
    gone = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'gone'").fetchone()
    assert tuple(gone) == (0,)
    assert conn.round_trips - before == 4


def test_the_authorizer_is_asked_before_anything_is_sent(conn: LibSQLConnection) -> None:
    seen: list[int] = []

    def deny_transactions(action: int, *_: object) -> int:
        seen.append(action)
        return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_TRANSACTION else sqlite3.SQLITE_OK

    conn.execute("BEGIN IMMEDIATE")
    conn.set_authorizer(deny_transactions)
    sent = conn.round_trips
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        conn.execute("/* spelled oddly */ cOmMiT")
    assert conn.round_trips == sent and conn.in_transaction
    conn.execute("CREATE TABLE kept (x)")  # needs the schema: compiled by the server only
    conn.set_authorizer(None)
    conn.execute("ROLLBACK")
    assert sqlite3.SQLITE_TRANSACTION in seen


def test_executemany_of_an_insert_is_one_request_per_chunk(conn: LibSQLConnection) -> None:
    conn.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, a TEXT, n INTEGER)")
    conn.execute("CREATE TABLE audit (n INTEGER)")
    conn.execute(
        "CREATE TRIGGER m_audit AFTER INSERT ON m BEGIN INSERT INTO audit VALUES (new.n); END"
    )
    rows = [{"a": f"row {i}", "n": 2**40 + i} for i in range(250)]
    before = conn.round_trips
    cursor = conn.executemany("INSERT INTO m (a, n)\nVALUES (:a, :n)", rows)
    assert conn.round_trips - before == 1
    assert cursor.rowcount == 250 and cursor.lastrowid == 250
    stored = conn.execute("SELECT a, n, typeof(n) FROM m ORDER BY id").fetchall()
    assert [tuple(r) for r in stored] == [(r["a"], r["n"], "integer") for r in rows]
    audited = conn.execute("SELECT count(*) FROM audit").fetchone()
    assert tuple(audited) == (250,)  # the trigger fired once per row


def test_executemany_of_anything_else_is_one_request_per_row(conn: LibSQLConnection) -> None:
    conn.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, a TEXT)")
    conn.executemany("INSERT INTO u (id, a) VALUES (?, ?)", [(1, "x"), (2, "y")])
    before = conn.round_trips
    changed = conn.executemany("UPDATE u SET a = ? WHERE id = ?", [("p", 1), ("q", 2), ("r", 3)])
    assert conn.round_trips - before == 3 and changed.rowcount == 2


def test_a_failing_row_in_a_batched_insert_fails_the_statement(conn: LibSQLConnection) -> None:
    conn.execute("CREATE TABLE k (id INTEGER PRIMARY KEY)")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.executemany("INSERT INTO k (id) VALUES (?)", [(1,), (2,), (2,)])


def test_a_reply_without_rowid_is_a_success_the_server_ran(conn: LibSQLConnection) -> None:
    # The bare client raises TypeError here although the server ran the statement.
    conn.execute("CREATE VIRTUAL TABLE ft USING fts5(x)")
    for n in range(20):
        conn.execute("INSERT INTO ft (x) VALUES (?)", (f"word{n} common",))
    segments = conn.execute("SELECT count(*) FROM ft_data").fetchone()[0]
    assert conn.execute("INSERT INTO ft (ft) VALUES ('optimize')").fetchall() == []
    assert conn.execute("SELECT count(*) FROM ft_data").fetchone()[0] < segments  # merged
    with pytest.raises(sqlite3.OperationalError, match="unable to identify"):
        conn.execute("REINDEX no_such_index")
