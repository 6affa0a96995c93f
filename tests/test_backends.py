"""The same behaviour on every backend: a SQLite file, and a real libSQL server (sqld).

Each test runs once per backend; what it checks is read back through memvault.db.connect,
so the test itself is backend-blind. The libSQL runs skip (with the reason) when no sqld
is available; CI starts one (.ci/sqld.sh).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import memvault.cli
from memvault import MemoryStore
from memvault.cli import cli
from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import connect
from memvault.db.copy import load_file
from memvault.migrations import load_migrations
from memvault.testing import LegacyShape, build_legacy_database

SRC = Path(memvault.cli.__file__).resolve().parents[2]
VERSIONS = [m.version for m in load_migrations(BUILTIN_MIGRATIONS)]
NEWEST = max(VERSIONS)
ENGINE = ("schema_migrations", "schema_migrations_history", "schema_migrations_lock")


@pytest.fixture(params=["sqlite", "libsql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the test's database lives: a new SQLite file, or an emptied sqld database."""
    if request.param == "sqlite":
        return str(tmp_path / "memvault.db")
    return str(request.getfixturevalue("libsql_url"))


@pytest.fixture
def run(location: str) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str, migrations: Path | None = None, input: str | None = None) -> Result:
        argv = ["-d", location]
        if migrations is not None:
            argv += ["--migrations", str(migrations)]
        return runner.invoke(cli, [*argv, *args], input=input, catch_exceptions=False)

    return invoke


def objects(location: str) -> dict[str, str]:
    """name -> SQL of every schema object (the engine's own tables included)."""
    with connect(location, create=False) as db:
        rows = db.query("SELECT name, coalesce(sql, '') FROM sqlite_master ORDER BY name")
    return {str(r[0]): str(r[1]) for r in rows}


def ledger(location: str) -> dict[int, str]:
    if "://" not in location and not Path(location).exists():
        return {}
    with connect(location, create=False) as db:
        if not db.table_exists("schema_migrations"):
            return {}
        rows = db.query("SELECT version, status FROM schema_migrations ORDER BY version")
    return {int(r[0]): str(r[1]) for r in rows}


def history_actions(location: str) -> list[tuple[int, str]]:
    with connect(location, create=False) as db:
        rows = db.query("SELECT version, action FROM schema_migrations_history ORDER BY id")
    return [(int(r[0]), str(r[1])) for r in rows]


def test_fresh_up_verify_down_up(run: Callable[..., Result], location: str) -> None:
    assert run("migrate", "status").exit_code == 0
    dry = run("migrate", "up", "--dry-run")
    assert dry.exit_code == 0 and "CREATE TABLE" in dry.output
    assert ledger(location) == {}  # the dry run sent nothing that writes
    assert run("migrate", "up").exit_code == 0
    after_up = objects(location)
    assert ledger(location) == dict.fromkeys(VERSIONS, "applied")
    assert run("migrate", "verify").exit_code == 0
    assert run("db", "check").exit_code == 0
    assert run("migrate", "down").exit_code == 0
    assert ledger(location)[NEWEST] == "rolled_back"
    assert objects(location) != after_up
    assert run("migrate", "up").exit_code == 0
    assert objects(location) == after_up
    status = json.loads(run("migrate", "status", "--json").output)
    assert status["current_version"] == NEWEST and not status["pending"]


def test_a_failing_migration_leaves_nothing(
    run: Callable[..., Result], location: str, tmp_path: Path
) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    (folder / "001_t.py").write_text(
        "def up(ctx):\n"
        "    ctx.execute('CREATE TABLE t (x)')\n"
        "    ctx.execute('INSERT INTO t VALUES (1)')\n"
        "    ctx.execute('INSERT INTO no_such_table VALUES (1)')\n"
        "def down(ctx):\n    ctx.execute('DROP TABLE t')\n"
    )
    result = run("migrate", "up", migrations=folder)
    assert result.exit_code == 1 and "no such table: no_such_table" in result.output
    assert "t" not in objects(location)
    assert ledger(location) == {1: "failed"}


def test_transaction_control_in_a_migration_is_refused_before_it_is_sent(
    run: Callable[..., Result], location: str, tmp_path: Path
) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    (folder / "001_t.py").write_text(
        "def up(ctx):\n    ctx.execute('CREATE TABLE t (x)')\n    ctx.execute('commit -- now')\n"
        "def down(ctx):\n    pass\n"
    )
    result = run("migrate", "up", migrations=folder)
    assert result.exit_code == 1 and "is refused" in result.output
    assert "t" not in objects(location)


def test_legacy_database_loaded_through_sql_is_adopted(
    run: Callable[..., Result], location: str, tmp_path: Path
) -> None:
    legacy = build_legacy_database(tmp_path / "legacy.db", LegacyShape.V1_3_5)
    # A server that enforces foreign keys (sqld always does) cannot hold rows naming a
    # user that does not exist: drop those from the legacy file; NULL owners stay.
    with connect(str(legacy), create=False) as source, source.atomic():
        for table, rowid, _parent, _fk in source.query("PRAGMA foreign_key_check"):
            source.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (rowid,))
        assert source.scalar("SELECT count(*) FROM memories WHERE user_id IS NULL") > 0
    with connect(location) as db, db.atomic():
        db.execute("PRAGMA defer_foreign_keys = ON")
        load_file(db.conn, legacy)
    with connect(str(legacy), create=False) as source:
        memories = source.scalar("SELECT count(*) FROM memories")
    result = run("migrate", "up")
    assert result.exit_code == 0, result.output
    assert "adopted" in result.output
    assert ledger(location) == dict.fromkeys(VERSIONS, "applied")
    with connect(location, create=False) as db:
        assert db.scalar("SELECT count(*) FROM memories") == memories
        assert db.scalar("SELECT count(*) FROM memories WHERE typeof(embedding) = 'text'") == 0
    assert run("migrate", "verify").exit_code == 0


def test_the_store_isolates_tenants_and_searches(location: str) -> None:
    with MemoryStore.open(location) as store:
        ada, _ = store.users.create("ada@example.com", name="Ada")
        bob, _ = store.users.create("bob@example.com", name="Bob")
        tea = store.memories.create(
            ada.id, title="Tea", content="Prefers green tea in the morning",
            memory_type="preference", tags=["tea"], embedding=[0.1, 0.7, 0.2],
        )  # fmt: skip
        ids = store.memories.create_many(
            ada.id,
            [
                {"title": f"Note {n}", "content": f"coffee note {n}", "memory_type": "technical",
                 "embedding": [1.0, 0.0, float(n)]}
                for n in range(5)
            ],
        )  # fmt: skip
        store.memories.create(
            bob.id, title="Tea too", content="green tea for Bob", memory_type="preference"
        )
        assert len(ids) == 5 and len(set(ids)) == 5
        hits = store.memories.search(ada.id, "green tea")
        assert [h.memory.id for h in hits] == [tea.id]
        assert [h.memory.title for h in store.memories.search(bob.id, "green tea")] == ["Tea too"]
        near = store.memories.similar(ada.id, [0.1, 0.6, 0.3], limit=2)
        assert near[0].memory.id == tea.id
        assert store.memories.get(bob.id, tea.id) is None  # another tenant finds nothing
        assert len(store.memories.list(ada.id)) == 6
        assert store.memories.similar(bob.id, [0.1, 0.6, 0.3]) == []


def test_backup_holds_the_rows_and_restore_brings_them_back(
    run: Callable[..., Result], location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with MemoryStore.open(location) as store:
        store.users.create("ada@example.com", name="Ada")
    backup = tmp_path / "kept.db"
    assert run("db", "backup", str(backup)).exit_code == 0
    with connect(str(backup), create=False) as copy:
        assert [r[0] for r in copy.query("SELECT email FROM users")] == ["ada@example.com"]
        assert copy.scalar("PRAGMA integrity_check") == "ok"
    with MemoryStore.open(location) as store:
        store.users.create("eve@example.com")
    refused = run("db", "restore", str(backup), input="n\n")
    assert refused.exit_code != 0
    with connect(location, create=False) as db:
        assert db.scalar("SELECT count(*) FROM users") == 2  # asked, said no: unchanged
    assert run("db", "restore", str(backup), "--yes").exit_code == 0
    with connect(location, create=False) as db:
        assert [r[0] for r in db.query("SELECT email FROM users")] == ["ada@example.com"]
        assert db.scalar("SELECT count(*) FROM schema_migrations_lock") == 0
    kept = [p for p in tmp_path.rglob("*") if ("replaced" in p.name or ".backup-" in p.name)]
    assert kept, "the replaced contents are kept as a local file"
    with connect(str(kept[0]), create=False) as old:
        assert old.scalar("SELECT count(*) FROM users") == 2


def _runner(location: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "memvault", "-d", location, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC), **(env or {})},
    )


def test_two_concurrent_runners_apply_each_migration_once(location: str) -> None:
    runners = [_runner(location, "migrate", "up", "--lock-timeout", "60") for _ in range(2)]
    outputs = [r.communicate(timeout=120)[0] for r in runners]
    assert [r.returncode for r in runners] == [0, 0], outputs
    assert ledger(location) == dict.fromkeys(VERSIONS, "applied")
    applies = [v for v, action in history_actions(location) if action == "apply"]
    assert sorted(applies) == VERSIONS


SLOW_MIGRATION = """
import time
from pathlib import Path

description = "A step that writes, then waits to be killed"

def up(ctx):
    ctx.execute("CREATE TABLE half_done (x)")
    ctx.execute("INSERT INTO half_done VALUES (1)")
    Path({marker!r}).write_text("inside")
    time.sleep(60)

def down(ctx):
    ctx.execute("DROP TABLE half_done")
"""


@pytest.mark.slow
def test_a_runner_killed_mid_migration_leaves_nothing_and_its_lock_is_broken(
    location: str, tmp_path: Path
) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    marker = tmp_path / "inside"
    (folder / "001_slow.py").write_text(SLOW_MIGRATION.format(marker=str(marker)))
    victim = _runner(location, "--migrations", str(folder), "migrate", "up")
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert victim.poll() is None and time.monotonic() < deadline, victim.communicate()[0]
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert "half_done" not in objects(location)  # the server dropped its transaction
    assert ledger(location) == {}
    (folder / "001_slow.py").write_text(
        "def up(ctx):\n    ctx.execute('CREATE TABLE half_done (x)')\n"
        "def down(ctx):\n    ctx.execute('DROP TABLE half_done')\n"
    )
    after = _runner(location, "--migrations", str(folder), "migrate", "up", "--lock-timeout", "30")
    output = after.communicate(timeout=60)[0]
    assert after.returncode == 0, output
    assert "broke" in output.lower() or "broken" in output.lower(), output
    assert ledger(location) == {1: "applied"}
    assert [a for v, a in history_actions(location) if v == 1] == ["apply"]


def test_a_migration_needing_foreign_keys_off_is_refused_where_they_cannot_be(
    run: Callable[..., Result], location: str, tmp_path: Path
) -> None:
    folder = tmp_path / "mig"
    folder.mkdir()
    (folder / "001_rebuild.py").write_text(
        "foreign_keys = False\n"
        "def up(ctx):\n    ctx.execute('CREATE TABLE t (x)')\n"
        "def down(ctx):\n    ctx.execute('DROP TABLE t')\n"
    )
    result = run("migrate", "up", migrations=folder)
    if "://" in location:  # sqld keeps foreign keys on: refused, nothing done
        assert result.exit_code == 1 and "needs foreign keys off" in result.output
        assert "t" not in objects(location)
    else:
        assert result.exit_code == 0 and "t" in objects(location)


def test_requests_per_store_call_do_not_grow_with_the_tenants_rows(libsql_url: str) -> None:
    def counts(store: MemoryStore, user_id: str) -> dict[str, int]:
        calls = {
            "get": lambda: store.memories.get(user_id, 1),
            "list": lambda: store.memories.list(user_id),
            "search": lambda: store.memories.search(user_id, "tea"),
            "similar": lambda: store.memories.similar(user_id, [1.0, 0.0, 0.0]),
        }
        found = {}
        for name, call in calls.items():
            call()  # warm the vector cache, as a server would be
            before = store.db.round_trips
            call()
            found[name] = store.db.round_trips - before
        return found

    item = {"title": "t", "content": "green tea", "memory_type": "technical"}
    with MemoryStore.open(libsql_url) as store:
        user, _ = store.users.create("ada@example.com")
        before = store.db.round_trips
        store.memories.create_many(user.id, [item | {"embedding": [1.0, 0.0, 0.0]}] * 10)
        small_batch = store.db.round_trips - before
        small = counts(store, user.id)
        before = store.db.round_trips
        store.memories.create_many(user.id, [item | {"embedding": [0.0, 1.0, 0.0]}] * 1000)
        big_batch = store.db.round_trips - before
        assert counts(store, user.id) == small
    assert small["get"] == small["list"] == 1 and small["similar"] <= 2  # vectors, then rows
    assert small["search"] <= 3  # "anything queued?", the tenant's key, the search
    # 1000 rows: one multi-row INSERT, and the search index fed 500 rows per round (6
    # requests each), not 1000 requests
    assert big_batch <= small_batch + 12


def test_up_with_backup_keeps_a_local_copy_first(
    run: Callable[..., Result], location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("migrate", "to", str(VERSIONS[-2])).exit_code == 0
    result = run("migrate", "up", "--backup")
    assert result.exit_code == 0, result.output
    kept = sorted(p for p in tmp_path.rglob("*.backup-*") if not p.name.endswith(("-wal", "-shm")))
    assert len(kept) == 1 and str(kept[0]) in result.output
    with connect(str(kept[0]), create=False) as copy:  # the database as it was before
        before = copy.scalar("SELECT max(version) FROM schema_migrations WHERE status = 'applied'")
        assert before == VERSIONS[-2]


def test_similar_sees_every_write_by_any_client(location: str) -> None:
    # On sqld total_changes()/data_version repeat across requests: a cache keyed on them
    # missed these two writes (measured). Vectors must reflect every committed write.
    with MemoryStore.open(location) as a, MemoryStore.open(location) as b:
        ada, _ = a.users.create("ada@example.com")
        fields = {"content": "c", "memory_type": "technical"}
        a.memories.create(ada.id, title="t", embedding=[1.0, 0.0, 0.0], **fields)
        assert len(a.memories.similar(ada.id, [1.0, 0.0, 0.0], limit=100)) == 1
        b.memories.create(ada.id, title="by b", embedding=[0.0, 1.0, 0.0], **fields)
        a.memories.create(ada.id, title="by a", embedding=[0.0, 0.0, 1.0], **fields)
        assert len(a.memories.similar(ada.id, [1.0, 0.0, 0.0], limit=100)) == 3
