"""`db maintain`: refresh statistics, rebuild indexes, merge FTS5 segments, reclaim space.

Every step rewrites how data is stored or summarised, never the data itself: ANALYZE and
PRAGMA optimize write planner statistics (sqlite_stat*), REINDEX rebuilds index b-trees
from their tables, FTS5 'optimize' merges index segments, VACUUM rewrites the file.
The plan is built first (pure), then each step runs in its own transaction except VACUUM,
which SQLite forbids inside one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from memvault.db import SQLITE, Database, driver
from memvault.errors import BusyError, ConfigError, DatabaseError
from memvault.ops.inventory import SchemaInventory, take_inventory

AUTO_VACUUM_MODES = {0: "NONE", 1: "FULL", 2: "INCREMENTAL"}


@dataclass(frozen=True)
class MaintenanceOptions:
    """Which steps to run. Space reclaiming (vacuum) runs only on request."""

    analyze: bool = True
    optimize: bool = True
    reindex: bool = True
    reindex_target: str | None = None  # one index (or table); None = every index
    fts_optimize: bool = True
    fts_rebuild: bool = False  # re-index every FTS5 table from its content table
    vacuum: bool = False
    incremental_vacuum_pages: int | None = None  # None = skip; 0 = every free page


@dataclass(frozen=True)
class PlannedStep:
    """One maintenance statement, decided before anything runs."""

    step: str
    target: str | None
    sql: str
    in_transaction: bool = True
    skip_reason: str | None = None
    # Python's execute() stops a statement that yields unnamed rows after its first step,
    # so `PRAGMA incremental_vacuum(N)` would free one page; a script runs it to the end.
    as_script: bool = False


@dataclass(frozen=True)
class StepReport:
    """What one step did and how long it took."""

    step: str
    target: str | None
    sql: str
    duration_ms: float
    skipped: bool = False
    note: str | None = None


@dataclass(frozen=True)
class SpaceSnapshot:
    """The file's size and page accounting at one moment."""

    file_bytes: int | None
    wal_bytes: int | None
    page_size: int
    page_count: int
    freelist_count: int


@dataclass(frozen=True)
class MaintenanceReport:
    """Every step in order, with the space used before and after."""

    steps: list[StepReport] = field(default_factory=list)
    before: SpaceSnapshot | None = None
    after: SpaceSnapshot | None = None

    @property
    def total_ms(self) -> float:
        return sum(s.duration_ms for s in self.steps)


def space_snapshot(db: Database) -> SpaceSnapshot:
    """File size (and WAL size) plus page_size, page_count and freelist_count."""
    path = db.url.path
    file_bytes = path.stat().st_size if path is not None and path.exists() else None
    wal = path.with_name(path.name + "-wal") if path is not None else None
    wal_bytes = wal.stat().st_size if wal is not None and wal.exists() else None
    return SpaceSnapshot(
        file_bytes=file_bytes,
        wal_bytes=wal_bytes,
        page_size=int(db.scalar("PRAGMA page_size")),
        page_count=int(db.scalar("PRAGMA page_count")),
        freelist_count=int(db.scalar("PRAGMA freelist_count")),
    )


def plan_maintenance(
    inventory: SchemaInventory,
    options: MaintenanceOptions,
    *,
    auto_vacuum: int,
    journal_mode: str,
) -> list[PlannedStep]:
    """The statements to run, in order. Raises ConfigError for an unknown REINDEX target
    or for asking for both kinds of vacuum."""
    if options.vacuum and options.incremental_vacuum_pages is not None:
        raise ConfigError("choose either --vacuum or --incremental-vacuum, not both")
    steps: list[PlannedStep] = []
    if options.analyze:
        steps.append(PlannedStep("analyze", None, "ANALYZE"))
    if options.optimize:
        steps.append(PlannedStep("optimize", None, "PRAGMA optimize"))
    if options.reindex:
        steps.append(_plan_reindex(inventory, options.reindex_target))
    if options.fts_rebuild:
        steps += [
            PlannedStep(
                "fts_rebuild",
                t,
                f"INSERT INTO {SQLITE.quote(t)}({SQLITE.quote(t)}) VALUES('rebuild')",
            )
            for t in inventory.fts5_tables
        ]
    if options.fts_optimize:
        steps += [
            PlannedStep(
                "fts_optimize",
                t,
                f"INSERT INTO {SQLITE.quote(t)}({SQLITE.quote(t)}) VALUES('optimize')",
            )
            for t in inventory.fts5_tables
        ]
    if options.vacuum:
        steps.append(PlannedStep("vacuum", None, "VACUUM", in_transaction=False))
        if journal_mode.lower() == "wal":
            # VACUUM in WAL mode writes the new pages to the WAL; checkpointing moves them
            # into the file so it actually shrinks.
            steps.append(PlannedStep("checkpoint", None, "PRAGMA wal_checkpoint(TRUNCATE)", False))
    if options.incremental_vacuum_pages is not None:
        steps.append(_plan_incremental(options.incremental_vacuum_pages, auto_vacuum))
    return steps


def _plan_reindex(inventory: SchemaInventory, target: str | None) -> PlannedStep:
    if target is None:
        return PlannedStep("reindex", None, "REINDEX")
    reindexable = set(inventory.indexes) | set(inventory.all_tables) - set(inventory.fts5_tables)
    if target not in reindexable:
        known = ", ".join(inventory.indexes) or "none"
        raise ConfigError(f"--reindex {target}: no index or table of that name (indexes: {known})")
    return PlannedStep("reindex", target, f"REINDEX {SQLITE.quote(target)}")


def _plan_incremental(pages: int, auto_vacuum: int) -> PlannedStep:
    if pages < 0:
        raise ConfigError(f"--incremental-vacuum {pages}: the page count cannot be negative")
    sql = f"PRAGMA incremental_vacuum({pages})"
    if auto_vacuum != 2:
        mode = AUTO_VACUUM_MODES.get(auto_vacuum, str(auto_vacuum))
        return PlannedStep(
            "incremental_vacuum",
            None,
            sql,
            skip_reason=(
                f"auto_vacuum is {mode}, so incremental vacuum frees nothing; use --vacuum "
                "(or set PRAGMA auto_vacuum = INCREMENTAL, then VACUUM once)"
            ),
        )
    return PlannedStep("incremental_vacuum", None, sql, in_transaction=False, as_script=True)


def run_maintenance(
    db: Database,
    options: MaintenanceOptions,
    *,
    on_step: Callable[[StepReport], None] | None = None,
    guard: Callable[[], AbstractContextManager[object]] | None = None,
) -> MaintenanceReport:
    """Plan, then run each step and time it. Raises DatabaseError when the database is busy.

    `guard` (e.g. the migration lock) is held while the steps run, once the plan is known to
    be valid: a bad argument changes nothing, not even the lock table.
    """
    steps = plan_maintenance(
        take_inventory(db),
        options,
        auto_vacuum=int(db.scalar("PRAGMA auto_vacuum")),
        journal_mode=str(db.scalar("PRAGMA journal_mode")),
    )
    if not db.capabilities.pragmas:
        steps = [_server_side(step) for step in steps]
    with guard() if guard is not None else nullcontext():
        before = space_snapshot(db)
        reports: list[StepReport] = []
        for planned in steps:
            report = _run_step(db, planned, done=len(reports))
            reports.append(report)
            if on_step is not None:
                on_step(report)
        return MaintenanceReport(reports, before, space_snapshot(db))


# What a libSQL server refuses ("unsupported statement", sqld 0.24): it keeps its own file.
_SERVER_REFUSES = frozenset({"analyze", "optimize", "vacuum", "checkpoint", "incremental_vacuum"})


def _server_side(step: PlannedStep) -> PlannedStep:
    if step.step not in _SERVER_REFUSES or step.skip_reason is not None:
        return step
    reason = "the libSQL server refuses it (unsupported statement); the server keeps its file"
    return dataclasses.replace(step, skip_reason=reason)


def _run_step(db: Database, planned: PlannedStep, *, done: int) -> StepReport:
    if planned.skip_reason is not None:
        return StepReport(planned.step, planned.target, planned.sql, 0.0, True, planned.skip_reason)
    if not planned.in_transaction and db.in_transaction:
        raise DatabaseError(f"{planned.sql} cannot run inside an open transaction")
    started = time.perf_counter_ns()
    try:
        if planned.as_script:
            db.conn.executescript(planned.sql + ";")
            rows = []
        elif planned.in_transaction:
            with db.atomic():
                rows = db.execute(planned.sql).fetchall()
        else:
            rows = db.execute(planned.sql).fetchall()
    except (driver.OperationalError, BusyError) as exc:
        raise _busy_or_failed(db, planned, done, exc) from exc
    elapsed_ms = (time.perf_counter_ns() - started) / 1e6
    return StepReport(
        planned.step, planned.target, planned.sql, elapsed_ms, note=_note(planned, rows)
    )


def _note(planned: PlannedStep, rows: list[driver.Row]) -> str | None:
    if planned.step == "checkpoint" and rows:
        busy, log_pages, moved = (int(v) for v in tuple(rows[0]))
        if busy:
            return f"readers kept {log_pages - moved} WAL page(s) from the file; run again later"
    return None


def _busy_or_failed(
    db: Database, planned: PlannedStep, done: int, exc: driver.OperationalError | BusyError
) -> DatabaseError:
    message = str(exc)
    finished = f"{done} earlier step(s) finished; nothing else was changed"
    if isinstance(exc, BusyError) or "locked" in message or "busy" in message:
        return DatabaseError(
            f"{db.url.display} is busy (another connection holds a lock) during {planned.sql}; "
            f"{finished} — try again when it is idle"
        )
    return DatabaseError(f"{planned.sql} failed on {db.url.display}: {message}; {finished}")
