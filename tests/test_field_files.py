"""Files the real service wrote (tests/fixtures/field, made by running its own code) and the
builder's picture of them: adopt, repair, read as the service meant them, never lose a row."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import Result

from memvault import MemoryStore
from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import snapshot
from memvault.migrations import load_migrations
from memvault.review.drift import find_drift
from memvault.testing import LegacyShape, build_legacy_database

FIELD = Path(__file__).parent / "fixtures" / "field"
TABLES = ["users", "entities", "memories", "interactions", "api_usage_tracking", "schema_version"]
STALE_WORDS = ["marmalade", "green", "coffee", "rear", "admiral"]  # overwritten or deleted


def v135_file(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "service.db"
    if source == "field":
        shutil.copy(FIELD / "service-v1.3.5.sqlite", path)
    else:
        build_legacy_database(path, LegacyShape.V1_3_5, oddities=False)  # orphans fail check
    return path


def v175_file(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "service.db"
    if source == "field":
        shutil.copy(FIELD / "service-v1.7.5-migrated.sqlite", path)
    else:
        build_legacy_database(path, LegacyShape.V1_7_5_MIGRATED, oddities=False)
    return path


def rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    finally:
        conn.close()


def all_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {t: rows(path, t) for t in TABLES}


def fts_integrity_errors(
    path: Path, tables: tuple[str, ...] = ("memories_fts", "entities_fts")
) -> list[str]:
    conn = sqlite3.connect(path)
    errors = []
    try:
        for fts in tables:
            try:
                conn.execute(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")
            except sqlite3.DatabaseError as exc:
                errors.append(f"{fts}: {exc}")
    finally:
        conn.close()
    return errors


def said(result: Result) -> str:
    """Everything the command printed, stdout and stderr interleaved."""
    return result.output


def ok(run: Callable[..., Result], path: Path, *args: str) -> Result:
    result = run(*args, database=path)
    assert result.exit_code == 0, (args, said(result))
    assert "Traceback" not in said(result)
    return result


def float32_of(text: str) -> bytes:
    return np.asarray(json.loads(text), dtype=np.float64).astype("<f4").tobytes()


def ascii_words(text: str | None) -> set[str]:
    """The words FTS5's unicode61 tokenizer makes of `text`, the plain ASCII ones only."""
    return {w for w in re.findall(r"\w+", (text or "").lower()) if w.isascii()}


# -- v1.3.5: damaged FTS, adopted at 001 with no drift, repaired by up --------------------
@pytest.mark.parametrize("source", ["field", "builder"])
def test_v135_file_adopts_cleanly_and_up_repairs_fts_keeping_every_value(
    tmp_path: Path, source: str, run: Callable[..., Result]
) -> None:
    path = v135_file(tmp_path, source)
    before = all_rows(path)
    assert fts_integrity_errors(path), "a field file's FTS index is damaged"

    check = run("db", "check", database=path)
    assert check.exit_code == 1 and "memories_fts" in said(check)
    assert "`memvault migrate up` repairs it" in said(check)
    drift = find_drift(snapshot(str(path)), load_migrations(BUILTIN_MIGRATIONS))
    assert drift.applied_versions == [1]
    assert not any(e.startswith("trigger") for e in drift.changed + drift.missing + drift.extra)
    assert drift.changed == []  # the service's trigger bodies are 001's

    ok(run, path, "migrate", "to", "8")  # 007 repairs the service's own FTS tables
    ok(run, path, "migrate", "verify")
    ok(run, path, "db", "check")
    assert fts_integrity_errors(path) == []
    assert_match_finds_current_text(path, "memories_fts")
    ok(run, path, "migrate", "up")  # 009 replaces them by the tenant-scoped index
    ok(run, path, "migrate", "verify")
    ok(run, path, "db", "check")
    assert fts_integrity_errors(path, ("memory_search", "entity_search")) == []

    after = all_rows(path)
    for table in TABLES:
        if table != "memories":
            assert after[table] == before[table], table
    embedding = 8  # column position of memories.embedding
    assert len(after["memories"]) == len(before["memories"])
    for old, new in zip(before["memories"], after["memories"], strict=True):
        assert new[:embedding] + new[embedding + 1 :] == old[:embedding] + old[embedding + 1 :]
        if old[embedding] is None:
            assert new[embedding] is None
        elif new[embedding] is not None:  # None: quarantined (builder's broken JSON)
            assert new[embedding] == float32_of(old[embedding])

    # The store's search finds exactly each tenant's active rows whose text holds the word.
    conn = sqlite3.connect(path)
    current = conn.execute(
        "SELECT id, user_id, title, content, tags FROM memories WHERE is_archived = 0 "
        "AND user_id IS NOT NULL"
    ).fetchall()
    conn.close()
    vocabulary = set(STALE_WORDS)
    for _id, _user, *texts in current[:20]:
        vocabulary |= {w for t in texts for w in ascii_words(t)}
    with MemoryStore.open(path, read_only=True) as store:
        for user in {r[1] for r in current}:
            for word in sorted(vocabulary):
                found = {h.memory.id for h in store.memories.search(user, word, limit=10_000)}
                holds = {
                    i
                    for i, owner, *texts in current
                    if owner == user and any(word in ascii_words(t) for t in texts)
                }
                assert found == holds, (user, word)


def assert_match_finds_current_text(path: Path, fts: str) -> None:
    """MATCH finds exactly the rows whose current text holds the word: no stale hits."""
    conn = sqlite3.connect(path)
    current = conn.execute("SELECT id, title, content, tags FROM memories").fetchall()
    vocabulary = set(STALE_WORDS)
    for _id, *texts in current[:20]:
        vocabulary |= {w for t in texts for w in ascii_words(t)}
    for word in sorted(vocabulary):
        found = {
            r[0]
            for r in conn.execute(f"SELECT rowid FROM {fts} WHERE {fts} MATCH ?", (f'"{word}"',))
        }
        holds = {i for i, *texts in current if any(word in ascii_words(t) for t in texts)}
        assert found == holds, word
    conn.close()


def test_field_v135_values_read_as_written_with_no_problems(tmp_path: Path) -> None:
    path = v135_file(tmp_path, "field")
    written = {r[0]: r for r in rows(path, "memories")}
    with MemoryStore.open(path) as store:
        for memory_id, row in written.items():
            memory = store.memories.get(row[1], memory_id)
            assert memory is not None
            assert memory.problems == []
            assert memory.importance == row[5] and isinstance(memory.importance, float)
            assert memory.memory_type == row[4]
            assert memory.updated_at == row[12]
        types = {r[4] for r in written.values()}
        assert {"semantic", "episodic", "procedural"} <= types
        assert {r[5] for r in written.values()} >= {0, 1, 0.9}
        for usage_row in rows(path, "api_usage_tracking"):
            assert usage_row[7] > 10**12  # the service writes Date.now() milliseconds
        hits = store.memories.search(written[1][1], "green tea")
        assert hits == []  # "green" was overwritten by updateMemory
        assert [h.memory.title for h in store.memories.search(written[1][1], "oolong")] == ["Tea"]


# -- v1.7.5 with the service's own ledger ---------------------------------------------------
@pytest.mark.parametrize("source", ["field", "builder"])
def test_v175_file_with_service_ledger_is_adopted_and_its_rows_kept(
    tmp_path: Path, source: str, run: Callable[..., Result]
) -> None:
    path = v175_file(tmp_path, source)
    before = all_rows(path)
    service_rows = rows(path, "schema_migrations")
    assert {r[1] for r in service_rows} == {"001_initial_schema"}

    status = ok(run, path, "migrate", "status")
    assert "not memvault's" in said(status) and "Drift" not in said(status)
    ok(run, path, "migrate", "up", "--dry-run")
    assert rows(path, "schema_migrations") == service_rows  # the dry run changed nothing
    up = ok(run, path, "migrate", "up")
    assert "002_add_missing_indices pending" in said(up)
    for command in (("migrate", "verify"), ("db", "check"), ("migrate", "status")):
        ok(run, path, *command)
    ok(run, path, "migrate", "repair")
    ok(run, path, "migrate", "history")

    assert all_rows(path) | {"memories": []} == before | {"memories": []}
    assert len(rows(path, "memories")) == len(before["memories"])
    assert rows(path, "memvault_service_schema_migrations") == service_rows  # verbatim
    conn = sqlite3.connect(path)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"idx_entities_user_created", "idx_memories_user_updated"} <= indexes
    history = conn.execute("SELECT version, name, action FROM schema_migrations_history").fetchall()
    assert history[0][0] == 0 and history[0][2] == "adopt" and "kept verbatim" in history[0][1]
    assert (2, "add_missing_indices", "apply") in history
    conn.close()


# -- an adopted baseline is never rolled back by accident ------------------------------------
@pytest.mark.parametrize("source", ["field", "builder"])
def test_to_0_and_repeated_down_keep_every_table_and_row(
    tmp_path: Path, source: str, run: Callable[..., Result]
) -> None:
    path = v135_file(tmp_path, source)
    ok(run, path, "migrate", "up")
    kept = all_rows(path)
    for dry in ([], ["--dry-run"]):
        refused = run("migrate", "to", "0", *dry, database=path)
        assert refused.exit_code == 1
        message = said(refused).strip()
        assert "001_initial_schema" in message and "adopted" in message
        assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert all_rows(path) == kept
    above_baseline = len(load_migrations(BUILTIN_MIGRATIONS)) - 1
    results = [run("migrate", "down", database=path) for _ in range(above_baseline + 3)]
    assert [r.exit_code for r in results[:above_baseline]] == [0] * above_baseline  # … 002
    assert {r.exit_code for r in results[above_baseline:]} == {1}
    assert "refusing to roll back 001_initial_schema" in said(results[-1])
    after = all_rows(path)
    assert after | {"memories": []} == kept | {"memories": []}  # memories: JSON again
    assert [r[0] for r in after["memories"]] == [r[0] for r in kept["memories"]]


def test_rolling_back_a_baseline_with_rows_needs_the_flag_and_backs_up(
    tmp_path: Path, run: Callable[..., Result]
) -> None:
    path = tmp_path / "own.db"
    ok(run, path, "migrate", "up")
    ok(run, path, "user", "add", "ada@example.com")
    refused = run("migrate", "to", "0", database=path)
    assert refused.exit_code == 1 and "--drop-data" in said(refused)
    assert rows(path, "users")
    ok(run, path, "migrate", "to", "0", "--drop-data")
    backups = list(tmp_path.glob("own.db.backup-*"))
    assert len(backups) == 1 and rows(backups[0], "users")


# -- pattern 4: recency across both timestamp formats, from an index -------------------------
def test_recency_listing_orders_both_formats_by_instant_from_an_index(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path / "m.db") as store:
        ada, _ = store.users.create("ada@example.com")
        stamps = {  # title -> updated_at as the service writes it
            "a": "2025-10-06T12:00:00.500Z",
            "b": "2025-10-06 12:00:01",  # CURRENT_TIMESTAMP: later than a, sorts before it
            "c": "2025-10-06T11:59:59.999Z",
            "d": "2025-10-06 11:00:00",
            "e": "2025-10-07T00:00:00.000Z",
        }
        for title, stamp in stamps.items():
            made = store.memories.create(ada.id, title=title, content="x", memory_type="semantic")
            store.db.execute("UPDATE memories SET updated_at = ? WHERE id = ?", (stamp, made.id))
        listed = [m.title for m in store.memories.list(ada.id, order="updated")]
        assert listed == ["e", "b", "a", "c", "d"]
        by_text = sorted(stamps, key=lambda t: stamps[t], reverse=True)
        assert by_text != listed  # plain text order would be wrong
        from memvault.store import catalog

        query = catalog.catalog()["memories.list_by_updated"]
        plan = " ".join(
            str(r[3]) for r in store.db.query("EXPLAIN QUERY PLAN " + query.sql, query.params)
        )
        assert "idx_memories_user_active_updated" in plan and "TEMP B-TREE" not in plan


def test_memory_list_order_option(tmp_path: Path, run: Callable[..., Result]) -> None:
    path = v135_file(tmp_path, "field")
    user = rows(path, "users")[0][0]
    ok(run, path, "migrate", "up")  # read commands never migrate (they open read-only)
    out = ok(run, path, "memory", "list", "-u", user, "--order", "importance", "--json")
    importance = [m["importance"] for m in json.loads(out.stdout)]
    assert importance == sorted(importance, reverse=True) and importance[0] == 1.0
    bad = run("memory", "list", "-u", user, "--order", "sideways", database=path)
    assert bad.exit_code == 2


# -- usage timestamps --------------------------------------------------------------------------
def test_usage_is_written_in_milliseconds_and_seconds_still_read(tmp_path: Path) -> None:
    with MemoryStore.open(tmp_path / "u.db") as store:
        ada, _ = store.users.create("ada@example.com")
        made = store.usage.record(
            ada.id, api_provider="openai", model="m", cost_usd=0.1, operation_type="embedding"
        )
        stored = store.db.scalar(
            "SELECT timestamp FROM api_usage_tracking WHERE id = ?", (made.id,)
        )
        assert stored == made.timestamp and stored > 10**12
        store.db.execute("UPDATE api_usage_tracking SET timestamp = 1759741200")
        from memvault.store.usage import usage_from_row

        row = store.db.query("SELECT * FROM api_usage_tracking")[0]
        legacy = usage_from_row(row)
        assert legacy.timestamp == 1759741200000 and "seconds" in legacy.problems[0]


# -- living beside the service after 003 -------------------------------------------------------
def test_after_003_service_json_embeddings_get_one_advice_and_one_command(
    tmp_path: Path, run: Callable[..., Result]
) -> None:
    path = v135_file(tmp_path, "field")
    up = ok(run, path, "migrate", "up")
    warnings = [line for line in said(up).splitlines() if line.startswith("warning:")]
    warning = [line for line in warnings if "003_embeddings_to_float32_blobs" in line]
    assert len(warning) == 1 and "similarity search" in warning[0]
    assert "migrate up --to 2" in warning[0]
    assert [w for w in warnings if "009_tenant_search_index" in w and "--to 8" in w]
    assert len(warnings) == 2  # one line each, for 003 and 009
    user = rows(path, "users")[0][0]
    vector = [0.25, -0.5, 0.125, 0.0, 0.5, 0.25, -0.25, 1.0]
    conn = sqlite3.connect(path)  # the service writes a new JSON embedding, as it does
    conn.execute("UPDATE memories SET embedding = ? WHERE id = 3", (json.dumps(vector),))
    conn.commit()
    conn.close()
    with MemoryStore.open(path) as store:  # read on the fly, as float32
        assert store.memories.similar(user, vector, limit=1)[0].memory.id == 3

    advice = "`memvault db convert-embeddings` converts"
    for command in (("migrate", "verify"), ("db", "check")):
        result = run(*command, database=path)
        assert result.exit_code == 1 and advice in said(result), command
    again = ok(run, path, "migrate", "up")
    assert "Nothing to do" in said(again) and advice in said(again)
    review = ok(run, path, "schema", "review")
    assert "`memvault db convert-embeddings` converts them" in said(review)
    converted = ok(run, path, "db", "convert-embeddings")
    assert "Converted 1 JSON embedding" in said(converted)
    ok(run, path, "migrate", "verify")
    ok(run, path, "db", "check")
    assert rows(path, "memories")[2][8] == np.asarray(vector, dtype="<f4").tobytes()


def test_rollback_to_1_gives_back_float32_rounded_json(
    tmp_path: Path, run: Callable[..., Result]
) -> None:
    path = v135_file(tmp_path, "field")
    original = rows(path, "memories")
    ok(run, path, "migrate", "up")
    ok(run, path, "migrate", "to", "1")
    back = rows(path, "memories")
    worst = 0.0
    for old, new in zip(original, back, strict=True):
        assert new[:8] + new[9:] == old[:8] + old[9:]
        before, after = np.asarray(json.loads(old[8])), np.asarray(json.loads(new[8]))
        assert (after.astype("<f4") == before.astype("<f4")).all()  # float32 of the original
        worst = max(worst, float(np.abs(after - before).max()))
    assert 0 < worst < 3e-8  # rounded to float32: documented in docs/coexistence.md


def test_db_check_after_007_points_at_rebuild_fts_which_repairs(
    tmp_path: Path, run: Callable[..., Result]
) -> None:
    path = v135_file(tmp_path, "field")
    ok(run, path, "migrate", "to", "8")  # after 007, before 009 replaces memories_fts
    conn = sqlite3.connect(path)  # a program deletes a term the old way, behind 007's back
    conn.execute("DELETE FROM memories_fts WHERE rowid = 1")
    conn.commit()
    conn.close()
    check = run("db", "check", database=path)
    assert check.exit_code == 1 and "memories_fts" in said(check)
    assert "`memvault db maintain --rebuild-fts`" in said(check)
    ok(run, path, "db", "maintain", "--rebuild-fts")
    ok(run, path, "db", "check")
    assert fts_integrity_errors(path) == []


def test_schema_review_explains_the_recency_listing_before_and_after(
    tmp_path: Path, run: Callable[..., Result]
) -> None:
    path = v135_file(tmp_path, "field")

    def listing() -> dict[str, Any]:
        data = json.loads(ok(run, path, "schema", "review", "--json").stdout)
        return next(q for q in data["queries"] if q["name"] == "memories.list_by_updated")

    before = listing()
    assert before["temp_btree"] and "julianday(updated_at)" in " ".join(before["notes"])
    ok(run, path, "migrate", "up")
    after = listing()
    assert not after["temp_btree"] and not after["full_scan"]
    assert "idx_memories_user_active_updated" in " ".join(after["plan"])


@pytest.mark.parametrize("name", ["service-v1.3.5.sqlite", "service-v1.7.5-migrated.sqlite"])
def test_no_command_gives_a_traceback_on_a_field_file(
    tmp_path: Path, name: str, run: Callable[..., Result]
) -> None:
    path = tmp_path / "f.db"
    shutil.copy(FIELD / name, path)
    commands = [
        ("migrate", "status", "--json"),
        ("migrate", "verify"),
        ("db", "check", "--json"),
        ("migrate", "up", "--dry-run"),
        ("migrate", "down", "--dry-run"),
        ("migrate", "to", "0", "--dry-run"),
        ("migrate", "history"),
        ("schema", "review", "--json"),
        ("db", "stats", "--no-record"),
        ("migrate", "repair"),
        ("migrate", "up"),
        ("migrate", "down"),
        ("migrate", "to", "0"),
        ("db", "check"),
    ]
    for command in commands:
        result = run(*command, database=path)  # an uncaught exception fails the test here
        assert result.exit_code in (0, 1), (command, said(result))
        assert "Traceback" not in said(result) and "internal error" not in said(result).lower()
