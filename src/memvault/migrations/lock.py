"""A lock across processes for every command that changes the schema.

The lock is a single row in `schema_migrations_lock` naming its owner (pid, host, process
start time, command, since). It is taken and released in short transactions of its own, so
other runners see it while a migration runs. A row left by a killed process is broken
automatically when the owner is provably gone (same host, and that pid is dead, a zombie, or
a different process now); otherwise the waiter times out with a message saying how to break
it by hand (`memvault migrate unlock`).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from memvault.db import Database
from memvault.errors import LockError
from memvault.migrations.recorder import now_iso

LOCK_TABLE = "schema_migrations_lock"
LOCK_DDL = f"""
CREATE TABLE IF NOT EXISTS {LOCK_TABLE} (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    process_start TEXT,
    command TEXT,
    since TEXT NOT NULL
)"""


@dataclass(frozen=True)
class LockHolder:
    """Who holds the lock."""

    token: str
    pid: int
    host: str
    process_start: str | None
    command: str | None
    since: str

    def describe(self) -> str:
        what = f" ({self.command})" if self.command else ""
        return f"pid {self.pid} on host {self.host}{what} since {self.since}"

    def is_provably_gone(self) -> bool:
        """True only when we can prove the owner process no longer exists."""
        if self.host != socket.gethostname():
            return False
        start = process_start_time(self.pid)
        if not pid_alive(self.pid):
            return True
        # The pid is in use: by the owner, or by a new process that reused the number.
        return start is not None and self.process_start is not None and start != self.process_start


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs (zombies count as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (clock ticks since boot), where /proc has it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class MigrationLock:
    """Context manager: hold the migration lock for the duration of a block."""

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
        self.command = command or " ".join(["memvault", *sys.argv[1:3]])
        self.on_wait = on_wait
        self.on_break = on_break
        self.poll_interval = poll_interval
        self.token = uuid.uuid4().hex
        self.held = False

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        waited_for: LockHolder | None = None
        while True:
            try:
                holder = self._try_acquire()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                holder = current_holder(self.db, quiet=True)
            if self.held:
                return
            if holder is not None and holder != waited_for:
                waited_for = holder
                if self.on_wait is not None:
                    self.on_wait(holder)
            if time.monotonic() >= deadline:
                who = holder.describe() if holder else "another runner"
                raise LockError(
                    f"migrations on {self.db.url.display} are locked by {who}; waited "
                    f"{self.timeout:g}s. If that runner is gone, run `memvault migrate unlock`"
                )
            time.sleep(self.poll_interval)

    def _try_acquire(self) -> LockHolder | None:
        """Take the lock if free (or provably abandoned); else return its holder."""
        with self.db.atomic():
            self.db.execute(LOCK_DDL)
            holder = _read(self.db)
            if holder is not None and holder.token != self.token:
                if not holder.is_provably_gone():
                    return holder
                self.db.execute(f"DELETE FROM {LOCK_TABLE}")
                if self.on_break is not None:
                    self.on_break(holder)
            if holder is None or holder.token != self.token:
                self.db.execute(
                    f"INSERT INTO {LOCK_TABLE} (id, token, pid, host, process_start, command, "
                    "since) VALUES (1, ?, ?, ?, ?, ?, ?)",
                    (
                        self.token,
                        os.getpid(),
                        socket.gethostname(),
                        process_start_time(os.getpid()),
                        self.command,
                        now_iso(),
                    ),
                )
        self.held = True
        return None

    def release(self) -> None:
        if not self.held:
            return
        with self.db.atomic():
            self.db.execute(f"DELETE FROM {LOCK_TABLE} WHERE token = ?", (self.token,))
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
        self.release()


def _read(db: Database) -> LockHolder | None:
    rows = db.query(
        f"SELECT token, pid, host, process_start, command, since FROM {LOCK_TABLE} WHERE id = 1"
    )
    return LockHolder(*rows[0]) if rows else None


def current_holder(db: Database, *, quiet: bool = False) -> LockHolder | None:
    """Who holds the lock now, or None."""
    try:
        if not db.table_exists(LOCK_TABLE):
            return None
        return _read(db)
    except sqlite3.OperationalError:
        if quiet:
            return None
        raise


def force_unlock(db: Database) -> LockHolder | None:
    """Break the lock whoever holds it; return who held it. For `memvault migrate unlock`."""
    with db.atomic():
        if not db.table_exists(LOCK_TABLE):
            return None
        holder = _read(db)
        db.execute(f"DELETE FROM {LOCK_TABLE}")
    return holder
