"""`db check`: is the database sound? Integrity, foreign keys, ledger, orphan rows.

Everything is read through a read-only connection: a check never changes the file, and
orphan rows are reported, never deleted. Legacy databases were written with foreign keys
off, so they can hold rows whose user_id is NULL or names no user; memvault keeps them
(adopting and migrating never delete a row) and this check says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from memvault.db import Database, connect, driver, parse_url, snapshot
from memvault.errors import DatabaseError
from memvault.migrations import Migration, Migrator, VerifyResult, adoption
from memvault.migrations.recorder import LedgerRow, Recorder, is_engine_table
from memvault.ops.embeddings import conversion_advice

EXAMPLES = 5
INTEGRITY_MESSAGES = 100
OWNER_TABLE = "users"
OWNER_COLUMN = "user_id"


@dataclass(frozen=True)
class ForeignKeyProblem:
    """Rows of `table` whose foreign key into `parent` points at nothing."""

    table: str
    parent: str
    rows: int
    example_rowids: list[int]


@dataclass(frozen=True)
class OrphanRows:
    """Rows of `table` that belong to no user: user_id NULL, or naming no user."""

    table: str
    null_user_id: int
    missing_user: int
    example_rowids: list[int]

    @property
    def total(self) -> int:
        return self.null_user_id + self.missing_user


@dataclass(frozen=True)
class LedgerCheck:
    """The ledger against the schema: each applied migration's file and verify."""

    state: str  # "managed", "legacy, not adopted yet" or "no ledger"
    results: list[VerifyResult] = field(default_factory=list)
    failed: list[LedgerRow] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.failed


@dataclass(frozen=True)
class FtsProblem:
    """An FTS5 index that does not match its content table, and what repairs it."""

    table: str
    message: str
    repair: str


@dataclass(frozen=True)
class CheckReport:
    """What `db check` found; `ok` is False when anything is wrong."""

    database: str
    integrity: list[str]
    foreign_keys: list[ForeignKeyProblem]
    ledger: LedgerCheck
    orphans: list[OrphanRows]
    legacy_origin: str | None
    fts: list[FtsProblem] = field(default_factory=list)
    trigger_drift: list[str] = field(default_factory=list)
    advice: str | None = None  # JSON embeddings written after 003: the command to convert

    @property
    def integrity_ok(self) -> bool:
        return self.integrity == ["ok"]

    @property
    def ok(self) -> bool:
        return (
            self.integrity_ok
            and not self.foreign_keys
            and self.ledger.ok
            and not self.orphans
            and not self.fts
            and not self.trigger_drift
        )

    def problems(self) -> list[str]:
        """One short phrase per kind of problem found."""
        found = []
        if not self.integrity_ok:
            found.append(f"integrity check ({len(self.integrity)} message(s))")
        if self.foreign_keys:
            rows = sum(p.rows for p in self.foreign_keys)
            kept = f" (kept from {self.legacy_origin})" if self.legacy_origin else ""
            found.append(f"{rows} row(s) break a foreign key{kept}")
        if not self.ledger.ok:
            bad = [f"{r.version:03d}_{r.name}" for r in self.ledger.results if not r.ok]
            bad += [f"{r.version:03d}_{r.name} (failed)" for r in self.ledger.failed]
            found.append("ledger: " + ", ".join(bad))
        if self.orphans:
            rows = sum(o.total for o in self.orphans)
            found.append(f"{rows} orphan row(s) kept from {self.legacy_origin or 'earlier writes'}")
        for p in self.fts:
            found.append(f"full-text index {p.table} is damaged ({p.message}): {p.repair}")
        if self.trigger_drift:
            found.append("trigger drift: " + "; ".join(self.trigger_drift))
        if self.advice and not self.ledger.ok:
            found.append(self.advice)
        return found


def check_database(location: str, migrations: Sequence[Migration]) -> CheckReport:
    """Run every check on the database at `location` (read-only)."""
    db = open_read_only(location)
    try:
        ledger = check_ledger(db, migrations)
        return CheckReport(
            database=db.url.display,
            integrity=integrity_messages(db),
            foreign_keys=foreign_key_problems(db),
            ledger=ledger,
            orphans=orphan_rows(db),
            legacy_origin=legacy_origin(db),
            fts=fts_problems(db, migrations, ledger.pending),
            trigger_drift=trigger_drift(db, migrations),
            advice=conversion_advice(db),
        )
    finally:
        db.close()


def open_read_only(location: str) -> Database:
    """Open an existing database file so that nothing can be written to it."""
    url = parse_url(location)
    if url.remote is not None:
        return connect(url, create=False, read_only=True)
    if url.path is None:
        raise DatabaseError("db check needs a database file, not :memory:")
    if not url.path.exists():
        raise DatabaseError(f"database {url.path} does not exist")
    return connect(url, create=False, read_only=True)


def integrity_messages(db: Database) -> list[str]:
    """PRAGMA integrity_check: ["ok"], or what is broken."""
    try:
        rows = db.query(f"PRAGMA integrity_check({INTEGRITY_MESSAGES})")
    except (driver.DatabaseError, DatabaseError) as exc:
        return [f"integrity check could not run: {exc.__cause__ or exc}"]
    return [str(r[0]) for r in rows]


def foreign_key_problems(db: Database) -> list[ForeignKeyProblem]:
    """PRAGMA foreign_key_check, grouped by child and parent table."""
    groups: dict[tuple[str, str], list[int]] = {}
    for row in db.query("PRAGMA foreign_key_check"):
        rowids = groups.setdefault((str(row[0]), str(row[2])), [])
        rowids.append(-1 if row[1] is None else int(row[1]))
    return [
        ForeignKeyProblem(table, parent, len(ids), sorted(ids)[:EXAMPLES])
        for (table, parent), ids in sorted(groups.items())
    ]


def check_ledger(db: Database, migrations: Sequence[Migration]) -> LedgerCheck:
    """Each applied migration: file unchanged (no drift) and its verify passing."""
    migrator = Migrator(db, migrations, applied_by="memvault db check", dry_run=True)
    status = migrator.status()
    pending = [m.label for m in status.pending]
    if status.adoption is not None:
        return LedgerCheck("legacy, not adopted yet", pending=pending)
    if not status.ledger_exists:
        return LedgerCheck("no ledger", pending=pending)
    return LedgerCheck("managed", migrator.verify().results, status.failed, pending)


def orphan_rows(db: Database) -> list[OrphanRows]:
    """Per table with a user_id column: rows whose user_id is NULL or names no user."""
    if not db.table_exists(OWNER_TABLE):
        return []
    found = []
    for table in _owned_tables(db):
        orphans = _orphans_of(db, table)
        if orphans.total:
            found.append(orphans)
    return found


def _owned_tables(db: Database) -> list[str]:
    rows = db.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )
    return [
        str(r[0])
        for r in rows
        if str(r[0]) != OWNER_TABLE
        and not is_engine_table(str(r[0]))
        and db.column_exists(str(r[0]), OWNER_COLUMN)
    ]


def _orphans_of(db: Database, table: str) -> OrphanRows:
    t = db.dialect.quote(table)
    no_owner = f"NOT EXISTS (SELECT 1 FROM {OWNER_TABLE} u WHERE u.id = t.{OWNER_COLUMN})"
    row = db.query(
        f"SELECT coalesce(sum({OWNER_COLUMN} IS NULL), 0), "
        f"coalesce(sum({OWNER_COLUMN} IS NOT NULL AND {no_owner}), 0) FROM {t} AS t"
    )[0]
    try:
        examples = [
            int(r[0])
            for r in db.query(
                f"SELECT rowid FROM {t} AS t WHERE {OWNER_COLUMN} IS NULL OR {no_owner} "
                f"ORDER BY rowid LIMIT {EXAMPLES}"
            )
        ]
    except driver.OperationalError:  # a WITHOUT ROWID table
        examples = []
    return OrphanRows(table, int(row[0]), int(row[1]), examples)


def legacy_origin(db: Database) -> str | None:
    """Where the database came from, when it came from the legacy service."""
    if adoption.needs_adoption(db):
        return "a legacy database (not adopted yet)"
    for entry in Recorder(db).history():
        if entry.action == "adopt":
            return f"the legacy database adopted on {entry.at}"
    return None


FTS_REPAIR_MIGRATION = "repair_full_text_search"


def fts_problems(
    db: Database, migrations: Sequence[Migration], pending: list[str]
) -> list[FtsProblem]:
    """FTS5 'integrity-check' against the content table, for each FTS5 table.

    The check is an INSERT, which a read-only connection refuses, so it runs on a private
    snapshot of the file (in memory up to 256 MiB): the file itself is never written.
    """
    names = [
        str(r[0])
        for r in db.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%USING fts5%'"
        )
    ]
    if not names:
        return []
    repair = _fts_repair(migrations, pending)
    copy = snapshot(db.url)
    try:
        found = []
        for name in names:
            q = copy.dialect.quote(name)
            try:
                copy.execute(f"INSERT INTO {q}({q}, rank) VALUES ('integrity-check', 1)")
            except (driver.DatabaseError, DatabaseError) as exc:
                # The adapter reports SQLITE_CORRUPT as a damaged file; here it is the index.
                found.append(FtsProblem(name, str(exc.__cause__ or exc), repair))
        return found
    finally:
        copy.close()


def _fts_repair(migrations: Sequence[Migration], pending: list[str]) -> str:
    fix = next((m for m in migrations if m.name == FTS_REPAIR_MIGRATION), None)
    if fix is not None and fix.label in pending:
        return f"`memvault migrate up` repairs it (migration {fix.label} rebuilds the index)"
    return "`memvault db maintain --rebuild-fts` rebuilds it from its content table"


def trigger_drift(db: Database, migrations: Sequence[Migration]) -> list[str]:
    """Triggers that differ from those the applied migrations make (missing, extra, changed)."""
    from memvault.review.drift import find_drift  # the review imports ops; import late

    report = find_drift(db, migrations)
    return [
        entry
        for entry in [*report.missing, *report.extra, *report.changed]
        if entry.startswith("trigger ")
    ]
