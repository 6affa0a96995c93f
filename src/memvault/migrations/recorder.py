"""The only code that reads or writes the ledger (`schema_migrations`) and its history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from memvault.db import Database
from memvault.timestamps import now_iso

LEDGER = "schema_migrations"
HISTORY = "schema_migrations_history"
# Where the TypeScript service's own ledger (v1.4+, also named schema_migrations) is kept,
# verbatim, once memvault adopts the file.
SERVICE_LEDGER = "memvault_service_schema_migrations"
Status = Literal["applied", "rolled_back", "failed"]
Action = Literal["apply", "rollback", "fail", "rollback_fail", "adopt", "repair"]

LEDGER_DDL = f"""
CREATE TABLE IF NOT EXISTS {LEDGER} (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    applied_at TEXT NOT NULL,
    applied_by TEXT,
    duration_ms INTEGER,
    checksum TEXT,
    status TEXT NOT NULL CHECK (status IN ('applied', 'rolled_back', 'failed'))
)"""

HISTORY_DDL = f"""
CREATE TABLE IF NOT EXISTS {HISTORY} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    action TEXT NOT NULL
        CHECK (action IN ('apply', 'rollback', 'fail', 'rollback_fail', 'adopt', 'repair')),
    at TEXT NOT NULL,
    by TEXT,
    duration_ms INTEGER,
    checksum TEXT,
    error TEXT
)"""

# The history is append-only: the database itself refuses edits and deletions.
HISTORY_GUARDS = [
    f"""CREATE TRIGGER IF NOT EXISTS {HISTORY}_no_update BEFORE UPDATE ON {HISTORY}
BEGIN SELECT RAISE(ABORT, '{HISTORY} is append-only'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS {HISTORY}_no_delete BEFORE DELETE ON {HISTORY}
BEGIN SELECT RAISE(ABORT, '{HISTORY} is append-only'); END""",
]

# Tables memvault owns (the ledger, its history, the lock, size samples…); schema
# comparisons, checks and diagrams leave them out. One rule, used everywhere.
ENGINE_PREFIXES = ("schema_migrations", "memvault_")


def is_engine_table(name: str) -> bool:
    """True for a table memvault keeps for itself rather than the application's data."""
    return name.lower().startswith(ENGINE_PREFIXES)


@dataclass(frozen=True)
class LedgerRow:
    """One row of the ledger: a migration's current state in this database."""

    version: int
    name: str
    description: str | None
    applied_at: str
    applied_by: str | None
    duration_ms: int | None
    checksum: str | None
    status: Status


@dataclass(frozen=True)
class HistoryRow:
    """One entry of the append-only history: an apply, rollback, failure, adoption or repair."""

    id: int
    version: int
    name: str
    action: Action
    at: str
    by: str | None
    duration_ms: int | None
    checksum: str | None
    error: str | None


# The columns memvault reads; a `schema_migrations` table without them is another tool's.
LEDGER_COLUMNS = ("version", "name", "applied_at", "checksum", "status")


def foreign_ledger(db: Database) -> str | None:
    """Why an existing `schema_migrations` table is not a ledger memvault can read, or None.

    One small rule on purpose: a ledger written by another tool that memvault learns to
    import (the TypeScript service's) is let through here.
    """
    if not db.table_exists(LEDGER):
        return None
    missing = [c for c in LEDGER_COLUMNS if not db.column_exists(LEDGER, c)]
    if not missing:
        return None
    return (
        f"database {db.url.display} has a {LEDGER} table from another application "
        f"(no {', '.join(missing)} column): memvault cannot read it and changes nothing; "
        "migrate it with the tool that wrote it, or use another database file"
    )


class Recorder:
    """Reads and writes the ledger. Writes must run inside the caller's transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def exists(self) -> bool:
        """True when memvault's ledger is there (not the service's table of the same name)."""
        return self.db.table_exists(LEDGER) and not self.is_foreign()

    def is_foreign(self) -> bool:
        """True when `schema_migrations` is the service's own ledger (v1.4+), not memvault's.

        memvault always creates its ledger together with the history table; the service's
        migration system has no history (and no lock) table.
        """
        return self.db.table_exists(LEDGER) and not self.db.table_exists(HISTORY)

    def foreign_rows(self) -> list[tuple[object, ...]]:
        """The service's ledger rows, as they are (empty when there is no such ledger)."""
        if not self.is_foreign():
            return []
        return [tuple(r) for r in self.db.query(f"SELECT * FROM {LEDGER} ORDER BY rowid")]

    def set_aside_foreign_ledger(self) -> int:
        """Rename the service's ledger to SERVICE_LEDGER, rows untouched; how many it holds."""
        rows = len(self.foreign_rows())
        self.db.execute(f"ALTER TABLE {LEDGER} RENAME TO {SERVICE_LEDGER}")
        return rows

    def ensure(self) -> None:
        """Create the ledger and its history when missing (inside the current transaction)."""
        if self.exists() and self.db.table_exists(HISTORY):
            return
        self.db.execute(LEDGER_DDL)
        self.db.execute(HISTORY_DDL)
        for ddl in HISTORY_GUARDS:
            self.db.execute(ddl)

    def rows(self) -> dict[int, LedgerRow]:
        if not self.exists():
            return {}
        result = self.db.query(
            f"SELECT version, name, description, applied_at, applied_by, duration_ms, checksum, "
            f"status FROM {LEDGER} ORDER BY version"
        )
        return {row[0]: LedgerRow(*row) for row in result}

    def get(self, version: int) -> LedgerRow | None:
        if not self.exists():
            return None
        row = self.db.query(
            f"SELECT version, name, description, applied_at, applied_by, duration_ms, checksum, "
            f"status FROM {LEDGER} WHERE version = ?",
            (version,),
        )
        return LedgerRow(*row[0]) if row else None

    def applied_versions(self) -> set[int]:
        return {v for v, row in self.rows().items() if row.status == "applied"}

    def adopted_versions(self) -> set[int]:
        """Applied versions that were adopted (found in place), not run by memvault."""
        last: dict[int, str] = {}
        for entry in self.history():
            if entry.action in ("adopt", "apply") and entry.version > 0:
                last[entry.version] = entry.action
        applied = self.applied_versions()
        return {v for v, action in last.items() if action == "adopt" and v in applied}

    def history(self) -> list[HistoryRow]:
        if not self.db.table_exists(HISTORY):
            return []
        rows = self.db.query(
            f"SELECT id, version, name, action, at, by, duration_ms, checksum, error "
            f"FROM {HISTORY} ORDER BY id"
        )
        return [HistoryRow(*row) for row in rows]

    # -- writes (inside the caller's transaction) --------------------------------
    def record(
        self,
        *,
        version: int,
        name: str,
        status: Status,
        action: Action,
        description: str | None,
        applied_by: str,
        duration_ms: int | None,
        checksum: str | None,
        error: str | None = None,
    ) -> None:
        """Upsert the ledger row for `version` and append one history row."""
        at = now_iso()
        self.db.execute(
            f"INSERT INTO {LEDGER} (version, name, description, applied_at, applied_by, "
            "duration_ms, checksum, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(version) DO UPDATE SET name = excluded.name, "
            "description = excluded.description, applied_at = excluded.applied_at, "
            "applied_by = excluded.applied_by, duration_ms = excluded.duration_ms, "
            "checksum = excluded.checksum, status = excluded.status",
            (version, name, description, at, applied_by, duration_ms, checksum, status),
        )
        self.append_history(
            version=version,
            name=name,
            action=action,
            by=applied_by,
            duration_ms=duration_ms,
            checksum=checksum,
            error=error,
            at=at,
        )

    def append_history(
        self,
        *,
        version: int,
        name: str,
        action: Action,
        by: str,
        duration_ms: int | None = None,
        checksum: str | None = None,
        error: str | None = None,
        at: str | None = None,
    ) -> None:
        self.db.execute(
            f"INSERT INTO {HISTORY} (version, name, action, at, by, duration_ms, checksum, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (version, name, action, at or now_iso(), by, duration_ms, checksum, error),
        )

    def set_checksum(self, version: int, checksum: str) -> None:
        self.db.execute(f"UPDATE {LEDGER} SET checksum = ? WHERE version = ?", (checksum, version))
