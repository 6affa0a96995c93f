"""A lock across processes for every command that changes the schema.

The lock is a single row in `schema_migrations_lock` naming its owner (pid, host, boot,
pid namespace, process start time, command, since). It is taken and released in short
transactions of its own, so other runners see it while a migration runs. A row left by a
killed process is broken automatically when the owner is provably gone (same host and
boot, and that pid is dead, a zombie, or a different process now, or the host rebooted);
otherwise the waiter times out with a one-line message saying who holds it and how to
break it by hand (`memvault migrate unlock`).

The lock is a courtesy on top of SQLite's own write lock, not the only guard: the
executor re-reads the ledger inside each step's BEGIN IMMEDIATE transaction, so even a
wrongly broken lock cannot apply a migration twice.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from memvault.db import Database
from memvault.errors import BusyError, LockError
from memvault.timestamps import now_iso

LOCK_TABLE = "schema_migrations_lock"
LOCK_DDL = f"""
CREATE TABLE IF NOT EXISTS {LOCK_TABLE} (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    process_start TEXT,
    command TEXT,
    since TEXT NOT NULL,
    boot_id TEXT,
    pid_namespace TEXT
)"""
# Columns added after the first release of the table; added in place when missing.
_LATER_COLUMNS = ("boot_id", "pid_namespace")
_COLUMNS = "token, pid, host, process_start, command, since, boot_id, pid_namespace"

# How long one attempt may wait on SQLite's busy handler before we look again.
_ATTEMPT_BUSY_MS = 250
# How long release keeps retrying a busy database before giving up.
_RELEASE_PATIENCE_S = 30.0


@dataclass(frozen=True)
class ProcessIdentity:
    """What tells one process apart from every other, now and after a restart."""

    pid: int
    host: str
    process_start: str | None
    boot_id: str | None
    pid_namespace: str | None

    @classmethod
    def current(cls) -> ProcessIdentity:
        pid = os.getpid()
        return cls(pid, socket.gethostname(), process_start_time(pid), boot_id(), pid_namespace())


@dataclass(frozen=True)
class LockHolder:
    """Who holds the lock, as recorded in its row."""

    token: str
    pid: int
    host: str
    process_start: str | None
    command: str | None
    since: str
    boot_id: str | None = None
    pid_namespace: str | None = None

    def describe(self) -> str:
        """`pid 123 on host h (memvault migrate up) since 2025-...Z (2m ago)`."""
        what = f" ({self.command})" if self.command else ""
        age = _age(self.since)
        return f"pid {self.pid} on host {self.host}{what} since {self.since}" + (
            f" ({age} ago)" if age else ""
        )

    def is_provably_gone(self, me: ProcessIdentity | None = None) -> bool:
        """True only when we can prove the owner process no longer exists."""
        me = me or ProcessIdentity.current()
        if self.host != me.host:
            return False  # another machine: we cannot look at its processes
        if self.boot_id and me.boot_id and self.boot_id != me.boot_id:
            return True  # this machine rebooted since: every process of then is gone
        if self.pid_namespace and me.pid_namespace and self.pid_namespace != me.pid_namespace:
            return False  # same host name, another container: its pids are not ours
        if not pid_alive(self.pid):
            return True
        # The pid is in use: by the owner, or by a newer process that reused the number.
        start = process_start_time(self.pid)
        return start is not None and self.process_start is not None and start != self.process_start

    def is_provably_alive(self, me: ProcessIdentity | None = None) -> bool:
        """True only when the owner visibly runs on this machine, as the same process."""
        me = me or ProcessIdentity.current()
        if self.host != me.host:
            return False
        if self.boot_id and me.boot_id and self.boot_id != me.boot_id:
            return False
        if self.pid_namespace and me.pid_namespace and self.pid_namespace != me.pid_namespace:
            return False
        if not pid_alive(self.pid):
            return False
        start = process_start_time(self.pid)
        return self.process_start is None or start is None or start == self.process_start


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    stat = _proc_stat_fields(pid)
    return stat is None or stat[0] not in ("Z", "X", "x")


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (clock ticks since boot), where /proc has it."""
    fields = _proc_stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def boot_id() -> str | None:
    """A value that changes at every boot of this machine (Linux), else None."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def pid_namespace() -> str | None:
    """Which pid namespace this process lives in (Linux), e.g. `pid:[4026531836]`."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _proc_stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _age(since: str) -> str | None:
    try:
        then = datetime.strptime(since, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    seconds = int((datetime.now(UTC) - then).total_seconds())
    if seconds < 0:
        return None
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _is_busy(exc: sqlite3.OperationalError | BusyError) -> bool:
    if isinstance(exc, BusyError):
        return True
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class MigrationLock:
    """Context manager: hold the migration lock for the duration of a block.

    Waits up to `timeout` seconds for another runner (SQLite busy errors included), breaks
    a lock whose owner is provably gone (reporting it to `on_break`), and always releases
    the lock when the block ends, also on errors.
    """

    def __init__(
        self,
        db: Database,
        *,
        timeout: float = 60.0,
        command: str | None = None,
        on_wait: Callable[[LockHolder], None] | None = None,
        on_break: Callable[[LockHolder], None] | None = None,
        poll_interval: float = 0.05,
    ) -> None:
        self.db = db
        self.timeout = timeout
        self.command = command or " ".join(["memvault", *sys.argv[1:]])[:200]
        self.on_wait = on_wait
        self.on_break = on_break
        self.poll_interval = poll_interval
        self.token = uuid.uuid4().hex
        self.held = False
        self.me = ProcessIdentity.current()

    def acquire(self) -> None:
        """Take the lock, waiting up to `timeout` seconds; raise LockError if it stays held."""
        deadline = time.monotonic() + self.timeout
        waited_for: LockHolder | None = None
        while True:
            remaining = deadline - time.monotonic()
            try:
                with _busy_timeout(self.db, min(_ATTEMPT_BUSY_MS, max(0, int(remaining * 1000)))):
                    holder = self._try_acquire()
            except (sqlite3.OperationalError, BusyError) as exc:
                if not _is_busy(exc):
                    raise
                holder = current_holder(self.db, quiet=True) or waited_for
            if self.held:
                return
            if holder is not None and holder != waited_for:
                waited_for = holder
                if self.on_wait is not None:
                    self.on_wait(holder)
            if time.monotonic() >= deadline:
                raise self._timeout_error(holder)
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    def _timeout_error(self, holder: LockHolder | None) -> LockError:
        who = holder.describe() if holder else "another runner (the database stayed busy)"
        return LockError(
            f"migrations on {self.db.url.display} are locked by {who}; waited "
            f"{self.timeout:g}s. If that runner is gone, run "
            f"`memvault -d {self.db.url.display} migrate unlock`, then try again"
        )

    def _try_acquire(self) -> LockHolder | None:
        """Take the lock if free (or provably abandoned); else return its holder."""
        broken: LockHolder | None = None
        with self.db.atomic():
            _ensure_table(self.db)
            holder = _read(self.db)
            if holder is not None and holder.token != self.token:
                if not holder.is_provably_gone(self.me):
                    return holder
                self.db.execute(f"DELETE FROM {LOCK_TABLE}")
                broken = holder
            if holder is None or broken is not None:
                self.db.execute(
                    f"INSERT INTO {LOCK_TABLE} (id, {_COLUMNS}) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        self.token,
                        self.me.pid,
                        self.me.host,
                        self.me.process_start,
                        self.command,
                        now_iso(),
                        self.me.boot_id,
                        self.me.pid_namespace,
                    ),
                )
        self.held = True
        if broken is not None and self.on_break is not None:
            self.on_break(broken)
        return None

    def release(self) -> None:
        """Give the lock up (only our own row is removed). Retries while SQLite is busy."""
        if not self.held:
            return
        deadline = time.monotonic() + max(self.timeout, _RELEASE_PATIENCE_S)
        while True:
            try:
                with self.db.atomic():
                    if self.db.table_exists(LOCK_TABLE):
                        self.db.execute(f"DELETE FROM {LOCK_TABLE} WHERE token = ?", (self.token,))
                break
            except (sqlite3.OperationalError, BusyError) as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise LockError(
                        f"could not release the migration lock on {self.db.url.display} ({exc});"
                        f" run `memvault -d {self.db.url.display} migrate unlock`"
                    ) from exc
                time.sleep(self.poll_interval)
        self.held = False

    def __enter__(self) -> MigrationLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.release()
        except (LockError, sqlite3.Error):
            if exc is None:
                raise
            # Keep the error that ended the block; the row we leave names this process
            # and is broken automatically once it has exited.


@contextmanager
def _busy_timeout(db: Database, milliseconds: int) -> Iterator[None]:
    """Lower SQLite's busy wait for one attempt, so --lock-timeout bounds the whole wait."""
    previous = int(db.scalar("PRAGMA busy_timeout") or 0)
    db.execute(f"PRAGMA busy_timeout = {min(previous, milliseconds)}")
    try:
        yield
    finally:
        db.execute(f"PRAGMA busy_timeout = {previous}")


def _ensure_table(db: Database) -> None:
    """Create the lock table, or add the columns a lock table from before lacks."""
    db.execute(LOCK_DDL)
    present = set(db.columns(LOCK_TABLE))
    for column in _LATER_COLUMNS:
        if column not in present:
            db.execute(f"ALTER TABLE {LOCK_TABLE} ADD COLUMN {column} TEXT")


def _read(db: Database) -> LockHolder | None:
    present = set(db.columns(LOCK_TABLE))
    columns = ", ".join(c if c in present else "NULL" for c in _COLUMNS.split(", "))
    rows = db.query(f"SELECT {columns} FROM {LOCK_TABLE} WHERE id = 1")
    return LockHolder(*rows[0]) if rows else None


def current_holder(db: Database, *, quiet: bool = False) -> LockHolder | None:
    """Who holds the lock now, or None. `quiet` turns a busy database into None."""
    try:
        if not db.table_exists(LOCK_TABLE):
            return None
        return _read(db)
    except sqlite3.OperationalError:
        if quiet:
            return None
        raise


def force_unlock(db: Database, *, force: bool = False) -> LockHolder | None:
    """Break the lock; return who held it. For `memvault migrate unlock`.

    Refuses (LockError) when the holder visibly still runs on this machine, unless `force`:
    breaking a live runner's lock lets a second runner start beside it.
    """
    with db.atomic():
        if not db.table_exists(LOCK_TABLE):
            return None
        holder = _read(db)
        if holder is not None and not force and holder.is_provably_alive():
            raise LockError(
                f"the migration lock is held by {holder.describe()}, which is still running: "
                "wait for it to finish (or stop it); `--force` breaks the lock anyway"
            )
        db.execute(f"DELETE FROM {LOCK_TABLE}")
    return holder
