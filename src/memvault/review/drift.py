"""Schema drift: the live schema against the one its ledger says it should have.

The expected schema is built, not remembered: the migrations the ledger records as
applied (or, for a legacy database not yet adopted, those adoption would record) are run
on an empty in-memory database, and the two schemas are compared object by object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from memvault.db import Database, connect
from memvault.migrations import Migration, Migrator, Recorder
from memvault.migrations import adoption as legacy
from memvault.migrations.planner import find_drift as checksum_drift
from memvault.review.schema import Column, Schema, Table, read_schema


@dataclass
class DriftReport:
    """What differs between the live schema and the expected one."""

    basis: str  # how the expected schema was decided
    applied_versions: list[int] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # "table x", "index y", "column t.c"
    extra: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.changed)


def expected_versions(db: Database, migrations: Sequence[Migration]) -> tuple[list[int], str]:
    """The versions in effect according to the ledger (or what adoption would record)."""
    if legacy.needs_adoption(db):
        adoption = legacy.evaluate(db, migrations)
        versions = [m.version for m in adoption.adopted]
        return (
            versions,
            f"legacy database not yet adopted: adoption would record {_label(versions)}",
        )
    recorder = Recorder(db)
    if not recorder.exists():
        return [], "no ledger: nothing has been applied"
    versions = sorted(v for v, r in recorder.rows().items() if r.status == "applied")
    return versions, f"ledger records {_label(versions)} as applied"


def _edited_files(db: Database, migrations: Sequence[Migration]) -> list[str]:
    recorder = Recorder(db)
    if legacy.needs_adoption(db) or not recorder.exists():
        return []
    return [
        f"{d.describe()}: the expected schema is built from the file as it is now"
        for d in checksum_drift(migrations, recorder.rows())
        if d.kind == "modified"
    ]


def _label(versions: Sequence[int]) -> str:
    return ", ".join(f"{v:03d}" for v in versions) if versions else "no migration"


def build_expected(
    migrations: Sequence[Migration], versions: Sequence[int]
) -> tuple[Schema, list[str]]:
    """Apply `versions` of `migrations` to an empty database and read its schema."""
    wanted = set(versions)
    chosen = [m for m in migrations if m.version in wanted]
    notes = [
        f"applied migration {v:03d} has no file: the expected schema lacks it"
        for v in sorted(wanted - {m.version for m in chosen})
    ]
    scratch = connect(":memory:")
    try:
        Migrator(scratch, chosen, applied_by="memvault schema review", dry_run=True).up()
        return read_schema(scratch), notes
    finally:
        scratch.close()


def find_drift(
    db: Database, migrations: Sequence[Migration], live: Schema | None = None
) -> DriftReport:
    """Compare `db`'s schema with the one its applied migrations produce."""
    versions, basis = expected_versions(db, migrations)
    expected, notes = build_expected(migrations, versions)
    notes += _edited_files(db, migrations)
    report = DriftReport(basis, list(versions), notes=notes)
    compare(expected, live if live is not None else read_schema(db), report)
    return report


def compare(expected: Schema, live: Schema, report: DriftReport) -> None:
    """Fill `report` with what `live` lacks, adds or has different from `expected`."""
    for name in expected.tables.keys() - live.tables.keys():
        report.missing.append(f"table {name}")
    for name in live.tables.keys() - expected.tables.keys():
        report.extra.append(f"table {name}")
    for name in sorted(expected.tables.keys() & live.tables.keys()):
        _compare_table(expected.tables[name], live.tables[name], report)
    named = {
        "index": (
            {
                n: i.describe() + (" UNIQUE" if i.unique else "")
                for n, i in expected.indexes.items()
                if not i.is_auto
            },
            {
                n: i.describe() + (" UNIQUE" if i.unique else "")
                for n, i in live.indexes.items()
                if not i.is_auto
            },
        ),
        "trigger": (expected.triggers, live.triggers),
        "view": (expected.views, live.views),
    }
    for kind, (want, have) in named.items():
        for name in sorted(want.keys() - have.keys()):
            report.missing.append(f"{kind} {name}")
        for name in sorted(have.keys() - want.keys()):
            report.extra.append(f"{kind} {name}")
        for name in sorted(want.keys() & have.keys()):
            if want[name] != have[name]:
                report.changed.append(
                    f"{kind} {name}: expected {want[name]!r}, found {have[name]!r}"
                )
    report.missing.sort()
    report.extra.sort()


def _compare_table(want: Table, have: Table, report: DriftReport) -> None:
    wanted = {c.name.lower(): c for c in want.columns}
    present = {c.name.lower(): c for c in have.columns}
    for col in want.columns:
        if col.name.lower() not in present:
            report.missing.append(f"column {want.name}.{col.name}")
    for col in have.columns:
        if col.name.lower() not in wanted:
            report.extra.append(f"column {have.name}.{col.name} {col.type}".rstrip())
    for key in wanted.keys() & present.keys():
        diff = _column_diff(wanted[key], present[key])
        if diff:
            report.changed.append(f"column {want.name}.{wanted[key].name}: {diff}")
    if set(want.foreign_keys) != set(have.foreign_keys):
        report.changed.append(
            f"table {want.name}: foreign keys {_fks(want)} expected, {_fks(have)} found"
        )
    if want.kind == "virtual" and want.sql != have.sql:
        report.changed.append(
            f"virtual table {want.name}: expected {want.sql!r}, found {have.sql!r}"
        )


def _column_diff(want: Column, have: Column) -> str:
    parts = []
    if want.type != have.type:
        parts.append(f"type {want.type or '(none)'} expected, {have.type or '(none)'} found")
    if want.notnull != have.notnull:
        parts.append("NOT NULL expected" if want.notnull else "NOT NULL found, not expected")
    if want.default != have.default:
        parts.append(f"default {want.default} expected, {have.default} found")
    if want.pk != have.pk:
        parts.append(f"primary key position {want.pk} expected, {have.pk} found")
    return "; ".join(parts)


def _fks(table: Table) -> str:
    return (
        ", ".join(
            f"({', '.join(fk.columns)}) -> {fk.parent} ON DELETE {fk.on_delete}"
            for fk in table.foreign_keys
        )
        or "none"
    )
