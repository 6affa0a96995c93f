"""The migration lock: one runner at a time, stale locks broken safely, bounded waits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

import memvault.cli
from memvault.db import Database, connect
from memvault.errors import LockError
from memvault.migrations.lock import (
    LOCK_TABLE,
    LockHolder,
    MigrationLock,
    ProcessIdentity,
    current_holder,
    force_unlock,
    pid_alive,
    process_start_time,
)

SRC = Path(memvault.cli.__file__).resolve().parents[2]


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = connect(str(db_path))
    yield database
    database.close()


def _plant(db: Database, **fields: object) -> None:
    """Write a lock row as some other runner would have left it."""
    row: dict[str, object] = {
        "token": "planted",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "process_start": process_start_time(os.getpid()),
        "command": "memvault migrate up",
        "since": "2025-10-06T12:00:00.000Z",
        "boot_id": ProcessIdentity.current().boot_id,
        "pid_namespace": ProcessIdentity.current().pid_namespace,
    }
    row.update(fields)
    with MigrationLock(db, timeout=1):
        pass  # creates the table
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    with db.atomic():
        db.execute(f"INSERT INTO {LOCK_TABLE} (id, {cols}) VALUES (1, {marks})", list(row.values()))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_row_names_its_owner_and_is_removed_on_release(db: Database) -> None:
    with MigrationLock(db, timeout=1, command="memvault migrate up"):
        holder = current_holder(db)
        assert holder is not None
        assert holder.pid == os.getpid()
        assert holder.host == socket.gethostname()
        assert holder.process_start == process_start_time(os.getpid())
        assert holder.command == "memvault migrate up"
        assert holder.since.endswith("Z")
    assert current_holder(db) is None


def test_lock_is_released_when_the_block_raises(db: Database) -> None:
    with pytest.raises(ZeroDivisionError), MigrationLock(db, timeout=1):
        _ = 1 / 0
    assert current_holder(db) is None


def test_live_holder_times_out_with_a_message_naming_it(db: Database, db_path: Path) -> None:
    _plant(db, host="build-box-7", pid=4242)
    with pytest.raises(LockError) as info:
        MigrationLock(db, timeout=0.3).acquire()
    message = str(info.value)
    assert "pid 4242 on host build-box-7" in message
    assert "since 2025-10-06T12:00:00.000Z" in message
    assert f"memvault -d {db_path} migrate unlock" in message
    assert "\n" not in message
    assert current_holder(db) is not None  # a live lock is never broken silently


def test_same_process_other_runner_is_not_broken(db: Database) -> None:
    _plant(db)  # our own pid and start time: provably alive
    with pytest.raises(LockError):
        MigrationLock(db, timeout=0.1).acquire()


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"pid": "dead"}, id="pid-dead"),
        pytest.param({"process_start": "1"}, id="pid-reused"),
        pytest.param({"pid": "dead", "boot_id": "an-earlier-boot"}, id="rebooted"),
    ],
)
def test_stale_lock_on_this_host_is_broken_automatically(
    db: Database, fields: dict[str, object]
) -> None:
    if process_start_time(os.getpid()) is None:
        pytest.skip("needs /proc")
    if fields.get("pid") == "dead":
        fields = {**fields, "pid": _dead_pid()}
    _plant(db, **fields)
    broken: list[LockHolder] = []
    with MigrationLock(db, timeout=1, on_break=broken.append):
        assert current_holder(db).token != "planted"  # type: ignore[union-attr]
    assert [h.token for h in broken] == ["planted"]


def test_zombie_owner_counts_as_gone(db: Database) -> None:
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while pid_alive(zombie.pid) and time.monotonic() < deadline:
        time.sleep(0.02)  # exited but not reaped: a zombie
    try:
        assert not pid_alive(zombie.pid)
        _plant(db, pid=zombie.pid, process_start=process_start_time(zombie.pid))
        with MigrationLock(db, timeout=1):
            pass
    finally:
        zombie.wait()


def test_other_pid_namespace_is_not_judged(db: Database) -> None:
    _plant(db, pid=_dead_pid(), pid_namespace="pid:[1]")
    with pytest.raises(LockError):
        MigrationLock(db, timeout=0.1).acquire()


@pytest.mark.timeout(30)
def test_busy_database_is_retried_until_the_timeout(db: Database, db_path: Path) -> None:
    """A writer holding SQLite's lock briefly is waited for; one holding it too long is
    reported within --lock-timeout, not after SQLite's own busy timeout (set to an hour
    here: waiting on it would fail this test by the per-test timeout)."""
    db.execute("PRAGMA busy_timeout = 3600000")
    blocker = connect(str(db_path))
    blocker.execute("BEGIN IMMEDIATE")
    threading.Timer(0.4, lambda: blocker.execute("COMMIT")).start()
    with MigrationLock(db, timeout=5):
        pass
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(LockError, match="database stayed busy"):
            MigrationLock(db, timeout=0.5).acquire()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_waiter_gets_the_lock_when_the_holder_releases(db: Database, db_path: Path) -> None:
    other = connect(str(db_path))
    first = MigrationLock(other, timeout=1)
    first.acquire()
    waits: list[LockHolder] = []
    threading.Timer(0.3, first.release).start()
    with MigrationLock(db, timeout=5, on_wait=waits.append):
        assert current_holder(db).pid == os.getpid()  # type: ignore[union-attr]
    other.close()
    assert len(waits) == 1


def test_lock_table_from_before_gains_the_new_columns(db: Database) -> None:
    with db.atomic():
        db.execute(
            f"CREATE TABLE {LOCK_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT "
            "NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, process_start TEXT, "
            "command TEXT, since TEXT NOT NULL)"
        )
        db.execute(
            f"INSERT INTO {LOCK_TABLE} VALUES (1, 'old', ?, ?, NULL, NULL, '2025-01-01')",
            (_dead_pid(), socket.gethostname()),
        )
    assert current_holder(db).token == "old"  # type: ignore[union-attr]
    with MigrationLock(db, timeout=1):
        assert current_holder(db).boot_id == ProcessIdentity.current().boot_id  # type: ignore[union-attr]


def test_force_unlock_returns_the_holder(db: Database) -> None:
    assert force_unlock(db) is None
    _plant(db, host="elsewhere")
    holder = force_unlock(db)
    assert holder is not None and holder.host == "elsewhere"
    assert current_holder(db) is None


# -- through the CLI and real processes ------------------------------------------------

HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from memvault.db import connect
    from memvault.migrations.lock import MigrationLock
    db = connect(sys.argv[1])
    MigrationLock(db, timeout=5, command="memvault migrate up").acquire()
    print("held", flush=True)
    time.sleep(600)
    """
)


def test_lock_left_by_a_killed_runner_is_broken_by_the_next_run(
    run: Callable[..., Result], db_path: Path
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    result = run("migrate", "up", "--lock-timeout", "5")
    assert result.exit_code == 0, result.output
    assert f"broke a stale migration lock left by pid {holder.pid}" in result.output
    with connect(str(db_path)) as db:
        assert current_holder(db) is None


def test_lock_held_elsewhere_fails_with_unlock_advice_then_unlock_works(
    run: Callable[..., Result], db_path: Path
) -> None:
    with connect(str(db_path)) as db:
        _plant(db, host="other-host")
    result = run("migrate", "up", "--lock-timeout", "0.2")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("memvault: error")]
    assert len(lines) == 1
    assert "locked by pid" in lines[0] and "other-host" in lines[0]
    assert "migrate unlock" in lines[0]
    result = run("migrate", "unlock")
    assert result.exit_code == 0
    assert "other-host" in result.output
    assert run("migrate", "up", "--lock-timeout", "1").exit_code == 0


def test_unlock_refuses_a_live_runner_unless_forced(
    run: Callable[..., Result], db_path: Path
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        refused = run("migrate", "unlock")
        assert refused.exit_code == 1
        assert f"pid {holder.pid}" in refused.output and "still running" in refused.output
        with connect(str(db_path)) as db:
            assert current_holder(db) is not None
        forced = run("migrate", "unlock", "--force")
        assert forced.exit_code == 0 and f"pid {holder.pid}" in forced.output
        with connect(str(db_path)) as db:
            assert current_holder(db) is None
    finally:
        holder.kill()
        holder.wait()
