"""The lock's lease: a runner this host cannot look at (another machine, the far side of a
libSQL server) holds the lock only while it renews it; a waiter breaks an expired lease."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memvault.config import BUILTIN_MIGRATIONS
from memvault.db import Database, connect
from memvault.errors import LockError
from memvault.migrations.executor import Event, Migrator
from memvault.migrations.loader import load_migrations
from memvault.migrations.lock import (
    LOCK_TABLE,
    LockHolder,
    MigrationLock,
    current_holder,
    lease_seconds,
)


@pytest.fixture(params=["sqlite", "libsql"])
def location(request: pytest.FixtureRequest, db_path: Path) -> str:
    """A SQLite file, or a real sqld's emptied database (skipped without one)."""
    if request.param == "sqlite":
        return str(db_path)
    return str(request.getfixturevalue("libsql_url"))


@pytest.fixture
def db(location: str) -> Iterator[Database]:
    database = connect(location)
    yield database
    database.close()


def _plant_remote(db: Database, lease: str | None) -> None:
    """A lock row left by a runner on another machine, its lease ending at `lease`
    (an SQLite time modifier such as '-1 seconds', or None for a row without a lease)."""
    with MigrationLock(db, timeout=1):
        pass  # creates the table
    until = "NULL" if lease is None else f"strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '{lease}')"
    with db.atomic():
        db.execute(
            f"INSERT INTO {LOCK_TABLE} (id, token, pid, host, command, since, lease_until) "
            f"VALUES (1, 'remote', 4242, 'ci-runner-3', 'memvault migrate up', "
            f"'2025-10-06T12:00:00.000Z', {until})"
        )


def test_an_expired_lease_from_another_host_is_broken(db: Database) -> None:
    _plant_remote(db, "-1 seconds")
    broken: list[LockHolder] = []
    with MigrationLock(db, timeout=1, on_break=broken.append):
        assert current_holder(db).token != "remote"  # type: ignore[union-attr]
    assert [(h.token, h.host) for h in broken] == [("remote", "ci-runner-3")]


def test_a_live_lease_from_another_host_is_waited_for_and_named(db: Database) -> None:
    _plant_remote(db, "+60 seconds")
    with pytest.raises(LockError, match=r"pid 4242 on host ci-runner-3 .*lease until 20"):
        MigrationLock(db, timeout=0.3).acquire()
    assert current_holder(db).token == "remote"  # type: ignore[union-attr]


def test_a_row_without_a_lease_is_never_broken_by_time(db: Database) -> None:
    _plant_remote(db, None)  # written before leases existed: only `unlock` breaks it
    with pytest.raises(LockError):
        MigrationLock(db, timeout=0.2).acquire()


def test_the_lease_is_written_on_the_databases_clock(db: Database) -> None:
    with MigrationLock(db, timeout=1, lease=30):
        holder = current_holder(db)
        assert holder is not None and holder.lease_until is not None
        ahead = db.scalar("SELECT (julianday(?) - julianday('now')) * 86400", (holder.lease_until,))
        assert 28 < ahead <= 30


def test_renewal_extends_the_lease_and_fails_once_the_lock_was_taken(
    db: Database, location: str
) -> None:
    holder = MigrationLock(db, timeout=1, lease=0.3)
    holder.acquire()
    first = current_holder(db).lease_until  # type: ignore[union-attr]
    time.sleep(0.05)
    with db.atomic():
        holder.renew()
    assert current_holder(db).lease_until > first  # type: ignore[operator, union-attr]
    time.sleep(0.4)  # the lease runs out without renewal
    other = connect(location)
    try:
        taker = MigrationLock(other, timeout=1)
        # same host and our own pid: break it as another host would (lease only)
        taker.me = taker.me.__class__(1, "another-host", None, None, None)
        taker.acquire()
        with pytest.raises(LockError, match="taken over by another runner"), db.atomic():
            holder.renew()
        taker.release()
    finally:
        other.close()


def test_a_runner_whose_lock_was_taken_stops_before_its_next_step(
    db: Database, location: str
) -> None:
    migrations = load_migrations(BUILTIN_MIGRATIONS)
    thief = connect(location)

    def steal_after_first(event: Event) -> None:
        if event.kind == "step_done" and event.migration and event.migration.version == 1:
            with thief.atomic():  # as a runner elsewhere would, once our lease expired
                thief.execute(f"UPDATE {LOCK_TABLE} SET token = 'thief'")

    migrator = Migrator(db, migrations, applied_by="test", listener=steal_after_first)
    try:
        with pytest.raises(LockError, match="taken over"):
            migrator.up()
    finally:
        thief.close()
    applied = db.query("SELECT version, status FROM schema_migrations ORDER BY version")
    assert [tuple(r) for r in applied] == [(1, "applied")]  # 002 never started, no failure row


@pytest.mark.parametrize("text", ["soon", "0", "-5", "nan", "inf"])
def test_a_bad_lease_setting_is_named(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("MEMVAULT_LOCK_LEASE", text)
    with pytest.raises(LockError, match="MEMVAULT_LOCK_LEASE"):
        lease_seconds()


@pytest.mark.slow
def test_a_waiter_never_aborts_the_holders_transaction(db: Database, location: str) -> None:
    # On sqld a writer waiting for the write lock aborts the holder's transaction after 5 s;
    # a runner waiting for the migration lock must therefore only read while it is held.
    holder = MigrationLock(db, timeout=1)
    holder.acquire()
    waiter_db = connect(location)
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            MigrationLock(waiter_db, timeout=6.5).acquire()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait)
    with db.atomic():
        db.execute("CREATE TABLE long_step (x)")
        thread.start()
        time.sleep(6)  # longer than sqld's 5 s
        db.execute("INSERT INTO long_step VALUES (1)")
    thread.join()
    waiter_db.close()
    holder.release()
    assert len(outcome) == 1 and isinstance(outcome[0], LockError)
    assert db.scalar("SELECT count(*) FROM long_step") == 1
