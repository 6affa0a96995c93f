"""Apply plans: lock, then per step one transaction holding (up|down, verify, ledger row).

The executor never prints. It reports through an event callback; the CLI turns events
into output.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from memvault.db import Database, driver
from memvault.errors import (
    DriftError,
    LockError,
    MemvaultError,
    MigrationError,
    StatementRefusedError,
    VerificationError,
)
from memvault.migrations import adoption, coexistence
from memvault.migrations.foreignkeys import (
    check_no_new_violations,
    foreign_key_violations,
    foreign_keys_for,
)
from memvault.migrations.migration import Migration, MigrationContext, refused
from memvault.migrations.planner import (
    Drift,
    Step,
    current_version,
    find_drift,
    guard_rollback,
    newer_than_known,
    plan_down,
    plan_to,
    plan_up,
)
from memvault.migrations.recorder import LedgerRow, Recorder, foreign_ledger, is_engine_table
from memvault.migrations.relaxed import secure_delete_for

if TYPE_CHECKING:
    from memvault.db.guard import TransactionGuard
    from memvault.migrations.lock import LockHolder, MigrationLock

EventKind = Literal[
    "adopted",
    "lock_wait",
    "lock_broken",
    "step_start",
    "statement",
    "progress",
    "step_done",
    "step_skipped",
    "repaired",
    "warning",
]


@dataclass(frozen=True)
class Event:
    """Something the executor did, for the caller to show."""

    kind: EventKind
    migration: Migration | None = None
    direction: str | None = None
    sql: str | None = None
    params: Sequence[Any] = ()
    duration_ms: int | None = None
    done: int = 0
    total: int = 0
    detail: str | None = None


Listener = Callable[[Event], None]


@dataclass(frozen=True)
class StepResult:
    """What one step did (skipped: another runner had done it first)."""

    migration: Migration
    direction: str
    duration_ms: int
    skipped: bool = False


@dataclass(frozen=True)
class AppliedInfo:
    """An applied ledger row, its migration file (None when missing) and any drift."""

    row: LedgerRow
    migration: Migration | None
    drift: Drift | None


@dataclass(frozen=True)
class Status:
    """Where a database stands against the available migrations."""

    current_version: int
    applied: list[AppliedInfo]
    pending: list[Migration]
    failed: list[LedgerRow]
    drift: list[Drift]
    ledger_exists: bool
    adoption: adoption.Adoption | None = None


@dataclass(frozen=True)
class VerifyResult:
    """One applied migration's verify: ok, or the problem it found."""

    version: int
    name: str
    ok: bool
    problem: str | None = None
    superseded_by: int | None = None


@dataclass
class VerifyReport:
    """Every applied migration's verify, in order."""

    results: list[VerifyResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


class Migrator:
    """Runs migrations against one database.

    `dry_run=True` is meant for a snapshot (see memvault.db.snapshot): no lock is taken and
    failures are not recorded; statements are still reported as events.
    """

    def __init__(
        self,
        db: Database,
        migrations: Sequence[Migration],
        *,
        applied_by: str,
        listener: Listener | None = None,
        lock_timeout: float = 60.0,
        dry_run: bool = False,
        before_change: Callable[[], object] | None = None,
    ) -> None:
        self.db = db
        self.migrations = list(migrations)
        self.applied_by = applied_by
        self.listener = listener or (lambda event: None)
        self.lock_timeout = lock_timeout
        self.dry_run = dry_run
        # Called once, under the lock, before the first step of a non-empty plan (backups).
        self.before_change = before_change
        self.recorder = Recorder(db)
        self._lock: MigrationLock | None = None  # while held: renewed in every step

    # -- reading ------------------------------------------------------------------
    def status(self) -> Status:
        """Current version, applied, pending, failed and drift; a legacy database is shown
        as it would be adopted (nothing is written)."""
        foreign = foreign_ledger(self.db)
        if foreign is not None:
            raise DriftError(foreign)
        adoption_view: adoption.Adoption | None = None
        if adoption.needs_adoption(self.db):
            adoption_view = adoption.evaluate(self.db, self.migrations)
            rows = {
                m.version: LedgerRow(
                    m.version, m.name, m.description, "", None, 0, m.checksum, "applied"
                )
                for m in adoption_view.adopted
            }
        else:
            rows = self.recorder.rows()
        by_version = {m.version: m for m in self.migrations}
        drift = find_drift(self.migrations, rows)
        drift_by_version = {d.version: d for d in drift}
        applied_rows = [r for r in rows.values() if r.status == "applied"]
        applied = {r.version for r in applied_rows}
        return Status(
            current_version=current_version(applied),
            applied=[
                AppliedInfo(r, by_version.get(r.version), drift_by_version.get(r.version))
                for r in applied_rows
            ],
            pending=[m for m in self.migrations if m.version not in applied],
            failed=[r for r in rows.values() if r.status == "failed"],
            drift=drift,
            ledger_exists=self.recorder.exists(),
            adoption=adoption_view,
        )

    def verify(self) -> VerifyReport:
        """Check every applied migration: its file is unchanged and its verify passes."""
        status = self.status()
        report = VerifyReport()
        superseded = {
            old: info.row.version
            for info in status.applied
            if info.migration is not None
            for old in info.migration.supersedes
        }
        with self.db.probe(), self.db.guarded():
            for info in status.applied:
                row = info.row
                if info.drift is not None:
                    report.results.append(
                        VerifyResult(row.version, row.name, False, info.drift.describe())
                    )
                    continue
                assert info.migration is not None
                if row.version in superseded:
                    # A later applied migration changed what this one made on purpose.
                    report.results.append(
                        VerifyResult(row.version, row.name, True, None, superseded[row.version])
                    )
                    continue
                problem = info.migration.check(MigrationContext(self.db, info.migration))
                report.results.append(VerifyResult(row.version, row.name, problem is None, problem))
        return report

    # -- changing -----------------------------------------------------------------
    def up(self, target: int | None = None, *, allow_drift: bool = False) -> list[StepResult]:
        """Apply pending migrations (up to `target`)."""
        if self._nothing_to_do(lambda a: plan_up(self.migrations, a, target), allow_drift):
            return []
        with self._locked():
            applied = self._prepare(allow_drift)
            return self._run_all(plan_up(self.migrations, applied, target))

    def down(
        self, count: int = 1, *, allow_drift: bool = False, drop_data: bool = False
    ) -> list[StepResult]:
        """Roll back the newest `count` applied migrations (see guard_rollback)."""
        if self._nothing_to_do(lambda a: plan_down(self.migrations, a, count), allow_drift):
            return []
        with self._locked():
            applied = self._prepare(allow_drift)
            steps = plan_down(self.migrations, applied, count)
            self._guard(steps, drop_data)
            return self._run_all(steps)

    def to(
        self, target: int, *, allow_drift: bool = False, drop_data: bool = False
    ) -> list[StepResult]:
        """Move to exactly `target`, up or down (see guard_rollback)."""
        if self._nothing_to_do(lambda a: plan_to(self.migrations, a, target), allow_drift):
            return []
        with self._locked():
            applied = self._prepare(allow_drift)
            steps = plan_to(self.migrations, applied, target)
            self._guard(steps, drop_data)
            return self._run_all(steps)

    def _guard(self, steps: list[Step], drop_data: bool) -> None:
        baseline = min((m.version for m in self.migrations), default=None)
        downs = {s.migration.version for s in steps if s.direction == "down"}
        guard_rollback(
            steps,
            adopted=self.recorder.adopted_versions(),
            baseline=baseline,
            rows_at_risk=user_rows(self.db) if baseline in downs else 0,
            allow_data_loss=drop_data,
        )

    def adopt(self) -> adoption.Adoption | None:
        """Adopt a legacy database now (normally done by the first changing command)."""
        with self._locked():
            return self._adopt_if_legacy()

    def repair(self) -> list[Drift]:
        """Re-record the checksums of applied migrations whose files were edited."""
        self.db.require_sound("repair its ledger")
        self._check_ledger(allow_drift=True)
        with self._locked():
            self._adopt_if_legacy()
            with self.db.atomic():
                drift = find_drift(self.migrations, self.recorder.rows())
                by_version = {m.version: m for m in self.migrations}
                repaired = [d for d in drift if d.kind == "modified"]
                for d in repaired:
                    migration = by_version[d.version]
                    self.recorder.set_checksum(d.version, migration.checksum)
                    self.recorder.append_history(
                        version=d.version,
                        name=d.name,
                        action="repair",
                        by=self.applied_by,
                        checksum=migration.checksum,
                        error=f"checksum was {d.recorded_checksum}",
                    )
                    self.listener(Event("repaired", migration=migration, detail=d.describe()))
        return repaired

    # -- internals ----------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self.dry_run:
            yield
            return
        from memvault.migrations.lock import MigrationLock  # writes only (it loads socket)

        lock = MigrationLock(
            self.db,
            timeout=self.lock_timeout,
            on_wait=lambda h: self.listener(Event("lock_wait", detail=h.describe())),
            on_break=self._on_break,
        )
        with lock:
            self._lock = lock
            try:
                yield
            finally:
                self._lock = None

    def _on_break(self, holder: LockHolder) -> None:
        self.listener(Event("lock_broken", detail=holder.describe()))

    def _prepare(self, allow_drift: bool) -> set[int]:
        self._adopt_if_legacy()
        return self._check_ledger(allow_drift)

    def _check_ledger(self, allow_drift: bool) -> set[int]:
        """The applied versions; a DriftError for a ledger this memvault must not change."""
        foreign = foreign_ledger(self.db)
        if foreign is not None:
            raise DriftError(foreign)
        rows = self.recorder.rows()
        drift = find_drift(self.migrations, rows)
        newer = newer_than_known(drift)
        if newer is not None:
            raise DriftError(
                f"database {self.db.url.display} was {newer.describe()}: upgrade memvault to "
                "work on it; nothing was changed"
            )
        if drift and not allow_drift:
            raise DriftError(
                "; ".join(d.describe() for d in drift)
                + " — refusing to continue (run `memvault migrate repair` to accept the edit, "
                "or pass --allow-drift)"
            )
        return {v for v, r in rows.items() if r.status == "applied"}

    def _nothing_to_do(self, plan: Callable[[set[int]], list[Step]], allow_drift: bool) -> bool:
        """Check the file and the ledger before the lock: a refusal, or an empty plan,
        writes nothing."""
        if not self.dry_run:
            self.db.require_sound("change its schema")
        if self.dry_run or adoption.needs_adoption(self.db):
            return False
        return not plan(self._check_ledger(allow_drift))

    def _adopt_if_legacy(self) -> adoption.Adoption | None:
        with self.db.atomic():
            if not adoption.needs_adoption(self.db):
                return None
            result = adoption.evaluate(self.db, self.migrations)
            adoption.record(self.db, result, self.applied_by)
        self.listener(
            Event(
                "adopted",
                detail=f"adopted {result.legacy_label}: "
                + (", ".join(m.label for m in result.adopted) or "nothing")
                + " recorded as applied"
                + (
                    f"; {result.stopped_at.label} pending ({result.reason})"
                    if result.stopped_at
                    else ""
                )
                + (f"; {result.service_ledger_note}" if result.service_ledger_note else ""),
            )
        )
        return result

    def _run_all(self, steps: list[Step]) -> list[StepResult]:
        self._warn_service(steps)
        if steps and self.before_change is not None and not self.dry_run:
            self.before_change()
        return [self._run(step) for step in steps]

    def _warn_service(self, steps: list[Step]) -> None:
        """Before a migration that changes what the TypeScript service can read runs on a
        file the service wrote, say so (one line per such migration)."""
        if not coexistence.service_wrote(self.db):
            return
        versions = [m.version for m in self.migrations]
        for step in steps:
            if step.direction == "up":
                text = coexistence.warning_for(step.migration, versions)
                if text is not None:
                    self.listener(Event("warning", migration=step.migration, detail=text))

    def _run(self, step: Step) -> StepResult:
        m, direction = step.migration, step.direction
        ctx = MigrationContext(
            self.db,
            m,
            listener=lambda sql, params: self.listener(
                Event("statement", migration=m, direction=direction, sql=sql, params=params)
            ),
            progress=lambda done, total: self.listener(
                Event("progress", migration=m, direction=direction, done=done, total=total)
            ),
        )
        self.listener(Event("step_start", migration=m, direction=direction))
        started = time.perf_counter()
        guard: list[TransactionGuard] = []
        try:
            with (
                foreign_keys_for(self.db, m.foreign_keys, m.filename, m.version),
                secure_delete_for(self.db, m.checksum),
                self.db.atomic(),
                self.db.guarded() as g,
            ):
                guard.append(g)
                if self._lock is not None:
                    self._lock.renew()  # with the step: a lock taken over stops it here
                baseline = None if m.foreign_keys else foreign_key_violations(self.db)
                self.recorder.ensure()
                row = self.recorder.get(m.version)
                is_applied = row is not None and row.status == "applied"
                if is_applied == (direction == "up"):
                    # Another runner got here first (we re-check inside the write lock).
                    self.listener(Event("step_skipped", migration=m, direction=direction))
                    return StepResult(m, direction, 0, skipped=True)
                m.run(direction, ctx)
                _raise_if_denied(g, m)  # the migration may have caught the refusal itself
                if direction == "up":
                    problem = m.check(ctx)
                    if problem is not None:
                        raise VerificationError(f"verification failed: {problem}", m.version)
                if baseline is not None:
                    check_no_new_violations(self.db, baseline, m.filename)
                duration = _ms_since(started)
                self.recorder.record(
                    version=m.version,
                    name=m.name,
                    status="applied" if direction == "up" else "rolled_back",
                    action="apply" if direction == "up" else "rollback",
                    description=m.description
                    if direction == "up" or row is None
                    else row.description,
                    applied_by=self.applied_by,
                    duration_ms=duration,
                    checksum=m.checksum,
                )
        except LockError:
            raise  # another runner owns the database now: it is not this step's failure
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            duration = _ms_since(started)
            message = _describe(exc, guard[0] if guard else None, m)
            self._record_failure(m, direction, duration, message)
            raise MigrationError(
                f"migration {m.filename} failed ({direction}), nothing of it was kept: {message}",
                m.version,
            ) from exc
        self.listener(Event("step_done", migration=m, direction=direction, duration_ms=duration))
        return StepResult(m, direction, duration)

    def _record_failure(self, m: Migration, direction: str, duration: int, message: str) -> None:
        if self.dry_run:
            return
        try:
            with self.db.atomic():
                self.recorder.ensure()
                if direction == "up":
                    self.recorder.record(
                        version=m.version,
                        name=m.name,
                        status="failed",
                        action="fail",
                        description=m.description,
                        applied_by=self.applied_by,
                        duration_ms=duration,
                        checksum=m.checksum,
                        error=message,
                    )
                else:  # a failed rollback leaves the migration applied
                    self.recorder.append_history(
                        version=m.version,
                        name=m.name,
                        action="rollback_fail",
                        by=self.applied_by,
                        duration_ms=duration,
                        checksum=m.checksum,
                        error=message,
                    )
        except driver.Error:
            pass  # the failure itself is still raised to the caller


def _raise_if_denied(guard: TransactionGuard, m: Migration) -> None:
    """Fail the step when the guard refused a statement, even one the code caught."""
    denial = guard.first
    if denial is not None:
        raise MigrationError(
            f"{m.filename} ran a statement that does {denial.what}, which would end or escape "
            f"the transaction memvault controls{denial.hint}",
            m.version,
        )


def _describe(exc: BaseException, guard: TransactionGuard | None, m: Migration) -> str:
    """Our own errors already read as sentences; others get their type for context."""
    if isinstance(exc, StatementRefusedError):
        return str(refused(m, exc))
    if isinstance(exc, MemvaultError):
        return str(exc)
    denial = guard.first if guard is not None else None
    if denial is not None:  # refused on the raw connection, past the context's methods
        return (
            f"{m.filename} ran a statement that does {denial.what}, which would end or "
            f"escape the transaction memvault controls{denial.hint}"
        )
    if isinstance(exc, SystemExit):
        return f"the migration's code raised SystemExit({exc.code!r})"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)"
    return f"{type(exc).__name__}: {exc}"


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def user_rows(db: Database) -> int:
    """Rows in the application's tables: not memvault's, not SQLite's or FTS5's shadow
    tables, not the legacy schema_version bookkeeping."""
    names = [
        str(r[0])
        for r in db.query(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
            "AND name NOT LIKE 'sqlite_%'"
        )
    ]
    kept = [n for n in names if not is_engine_table(n) and n != adoption.LEGACY_TABLE]
    return sum(db.row_count(n) for n in kept)
