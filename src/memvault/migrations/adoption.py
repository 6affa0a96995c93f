"""Adopt a legacy database: record as applied what its schema already has.

The legacy `schema_version` number decides nothing (legacy version 2 is not our 002):
each migration, in order, is adopted when its own verify passes on the database as it
is; the first that fails, and every later one, stay pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from memvault.db import Database
from memvault.migrations.migration import Migration, MigrationContext
from memvault.migrations.recorder import SERVICE_LEDGER, Recorder

LEGACY_TABLE = "schema_version"


@dataclass(frozen=True)
class Adoption:
    """What adopting a legacy database records (or would record)."""

    legacy_versions: list[int]
    adopted: list[Migration] = field(default_factory=list)
    stopped_at: Migration | None = None
    reason: str | None = None
    # Rows of the service's own schema_migrations (v1.4+), kept verbatim when adopted.
    service_ledger_rows: list[tuple[object, ...]] = field(default_factory=list)

    @property
    def legacy_label(self) -> str:
        if not self.legacy_versions:
            return "an empty schema_version table"
        return f"legacy schema_version {max(self.legacy_versions)}"

    @property
    def service_ledger_note(self) -> str | None:
        """What happens to the service's own ledger, when the file has one."""
        if not self.service_ledger_rows:
            return None
        return (
            f"the service's own schema_migrations ({len(self.service_ledger_rows)} row(s): "
            + ", ".join(f"{r[0]} {r[1]}" for r in self.service_ledger_rows)
            + f") is not memvault's: kept verbatim as {SERVICE_LEDGER}"
        )


def needs_adoption(db: Database) -> bool:
    """True for a legacy database: a `schema_version` table and no memvault ledger yet (the
    service's own v1.4+ `schema_migrations` does not count: it is set aside on adoption)."""
    return db.table_exists(LEGACY_TABLE) and not Recorder(db).exists()


def evaluate(db: Database, migrations: Sequence[Migration]) -> Adoption:
    """Decide what adoption records, without changing anything."""
    versions = [int(r[0]) for r in db.query(f"SELECT version FROM {LEGACY_TABLE} ORDER BY version")]
    service_rows = Recorder(db).foreign_rows()
    adopted: list[Migration] = []
    with db.probe():
        for migration in migrations:
            failure = migration.check(MigrationContext(db, migration))
            if migration.verify_func is None:
                failure = "it has no verify, so memvault cannot tell whether it is in effect"
            if failure is not None:
                return Adoption(versions, adopted, migration, failure, service_rows)
            adopted.append(migration)
    return Adoption(versions, adopted, service_ledger_rows=service_rows)


def record(db: Database, adoption: Adoption, applied_by: str) -> None:
    """Write the adoption into the ledger (inside the caller's transaction)."""
    recorder = Recorder(db)
    kept = recorder.set_aside_foreign_ledger() if recorder.is_foreign() else None
    recorder.ensure()
    if kept is not None:
        recorder.append_history(
            version=0,
            name=f"service ledger: {kept} row(s) kept verbatim in {SERVICE_LEDGER}",
            action="adopt",
            by=applied_by,
        )
    for migration in adoption.adopted:
        recorder.record(
            version=migration.version,
            name=migration.name,
            status="applied",
            action="adopt",
            description=f"{migration.description} (adopted from {adoption.legacy_label})",
            applied_by=applied_by,
            duration_ms=0,
            checksum=migration.checksum,
        )
