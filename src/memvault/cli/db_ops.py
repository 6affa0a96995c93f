"""`memvault db maintain` and `memvault db stats`: a thin shell over memvault.ops."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from memvault.cli.app import AppContext, count_type, lock_timeout_option, refuse_in_memory
from memvault.cli.db import db
from memvault.cli.output import console, emit_json, info
from memvault.db import Database, connect, parse_url
from memvault.migrations.lock import MigrationLock
from memvault.ops.maintain import (
    AUTO_VACUUM_MODES,
    MaintenanceOptions,
    MaintenanceReport,
    SpaceSnapshot,
    StepReport,
    run_maintenance,
)
from memvault.ops.stats import SAMPLES_TABLE, DatabaseStats, growth, measure, stats_as_dict

pass_app = click.make_pass_decorator(AppContext)

STEP_CHOICES = ("analyze", "optimize", "reindex", "fts")


def _open_existing(app: AppContext) -> Database:
    """Open the database without creating it and without changing its journal mode."""
    refuse_in_memory(app.settings.database)
    return connect(parse_url(app.settings.database), create=False, wal=False)


@db.command()
@click.option(
    "--reindex",
    "reindex_target",
    metavar="NAME",
    default=None,
    help="REINDEX only this index (or table); default: every index.",
)
@click.option(
    "--skip",
    type=click.Choice(STEP_CHOICES),
    multiple=True,
    help="Leave out a step (repeatable).",
)
@click.option("--vacuum", is_flag=True, help="Also VACUUM: rewrite the file to reclaim free pages.")
@click.option(
    "--rebuild-fts",
    is_flag=True,
    help="Also rebuild every FTS5 index from its content table (repairs a damaged index).",
)
@click.option(
    "--incremental-vacuum",
    "incremental_pages",
    type=count_type(0),
    is_flag=False,
    flag_value=0,
    default=None,
    metavar="[N]",
    help="Also free up to N pages (all when N is omitted); needs auto_vacuum=INCREMENTAL.",
)
@lock_timeout_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def maintain(
    app: AppContext,
    reindex_target: str | None,
    skip: tuple[str, ...],
    vacuum: bool,
    rebuild_fts: bool,
    incremental_pages: int | None,
    lock_timeout: float,
    as_json: bool,
) -> None:
    """ANALYZE, PRAGMA optimize, REINDEX and FTS5 optimize; VACUUM on request.

    Changes how data is stored and summarised, never a row. Each step runs in its own
    transaction (VACUUM outside one) and reports how long it took.
    """
    if reindex_target is not None and "reindex" in skip:
        raise click.UsageError("--reindex NAME and --skip reindex contradict each other")
    options = MaintenanceOptions(
        analyze="analyze" not in skip,
        optimize="optimize" not in skip,
        reindex="reindex" not in skip,
        reindex_target=reindex_target,
        fts_optimize="fts" not in skip,
        fts_rebuild=rebuild_fts,
        vacuum=vacuum,
        incremental_vacuum_pages=incremental_pages,
    )
    with _open_existing(app) as database:
        database.require_sound("maintain it")
        on_step = None if as_json else _announce_step
        report = run_maintenance(
            database,
            options,
            on_step=on_step,
            # Not while a migration runs: a REINDEX or VACUUM would wait on it, or it on them.
            guard=lambda: MigrationLock(
                database, timeout=lock_timeout, command="memvault db maintain"
            ),
        )
    if as_json:
        emit_json(_maintenance_json(app, report))
    else:
        _print_maintenance(report)


def _announce_step(step: StepReport) -> None:
    target = f" {step.target}" if step.target else ""
    if step.skipped:
        info(f"  {step.step}{target}: skipped ({step.note})")
    else:
        note = f" — {step.note}" if step.note else ""
        info(f"  {step.step}{target}: {step.duration_ms:.1f} ms{note}")


def _maintenance_json(app: AppContext, report: MaintenanceReport) -> dict[str, Any]:
    return {
        "database": app.settings.database_shown,
        "steps": [vars(s) for s in report.steps],
        "total_ms": report.total_ms,
        "before": vars(report.before) if report.before else None,
        "after": vars(report.after) if report.after else None,
    }


def _print_maintenance(report: MaintenanceReport) -> None:
    table = Table(title="Maintenance", title_justify="left")
    for col in ("step", "target", "SQL", "ms", "note"):
        table.add_column(col, justify="right" if col == "ms" else "left")
    for s in report.steps:
        ms = "skipped" if s.skipped else f"{s.duration_ms:.1f}"
        table.add_row(s.step, s.target or "", s.sql, ms, s.note or "")
    out = console()
    out.print(table)
    if report.before and report.after:
        out.print(f"Before: {_space_line(report.before)}")
        out.print(f"After:  {_space_line(report.after)}")
    out.print(f"Total: {report.total_ms:.1f} ms; no rows were changed.")


def _space_line(space: SpaceSnapshot) -> str:
    file_part = "no local file" if space.file_bytes is None else f"{_bytes(space.file_bytes)} file"
    wal_part = f" + {_bytes(space.wal_bytes)} WAL" if space.wal_bytes else ""
    return (
        f"{file_part}{wal_part}, {space.page_count:,} pages of {space.page_size:,} B, "
        f"{space.freelist_count:,} free"
    )


@db.command()
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@click.option(
    "--no-record",
    is_flag=True,
    help=f"Do not append this measurement to {SAMPLES_TABLE} (read only).",
)
@pass_app
def stats(app: AppContext, as_json: bool, no_record: bool) -> None:
    """Size, pages and free pages; rows and bytes per table and index; migration metrics.

    Each call records a size sample (unless --no-record) so growth can be shown over time.
    """
    with _open_existing(app) as database:
        if not no_record:
            database.require_sound("record a size sample in it (--no-record only reads)")
        result = measure(database, record=not no_record)
    if as_json:
        emit_json({"database": app.settings.database_shown, **stats_as_dict(result)})
    else:
        _print_stats(result)


def _print_stats(result: DatabaseStats) -> None:
    out = console()
    mode = AUTO_VACUUM_MODES.get(result.auto_vacuum, str(result.auto_vacuum))
    out.print(f"Database: {_space_line(result.space)}")
    out.print(f"Journal mode {result.journal_mode}, auto_vacuum {mode}")
    out.print(_objects_table(result))
    if not result.dbstat_available:
        out.print("Bytes per table and index need SQLite's dbstat table, absent here.")
    out.print(_migrations_line(result))
    out.print(_growth_line(result))
    out.print(_costs_line(result))


def _objects_table(result: DatabaseStats) -> Table:
    table = Table(title="Tables and indexes", title_justify="left")
    for col, justify in (
        ("name", "left"),
        ("kind", "left"),
        ("table", "left"),
        ("rows", "right"),
        ("pages", "right"),
        ("bytes", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for o in result.objects:
        table.add_row(
            o.name,
            o.kind,
            o.table if o.table != o.name else "",
            _num(o.rows),
            _num(o.pages),
            "" if o.bytes is None else _bytes(o.bytes),
        )
    return table


def _migrations_line(result: DatabaseStats) -> str:
    m = result.migrations
    if m.applies + m.failures + m.rollbacks + m.adoptions == 0:
        return "Migrations: no history yet."
    rate = "n/a" if m.success_rate is None else f"{m.success_rate:.0%}"
    mean = "n/a" if m.mean_apply_ms is None else f"{m.mean_apply_ms:.1f} ms"
    p95 = "n/a" if m.p95_apply_ms is None else f"{m.p95_apply_ms:.1f} ms"
    return (
        f"Migrations: {m.applies} applied, {m.failures} failed (success rate {rate}), "
        f"mean {mean}, p95 {p95}; {m.rollbacks} rolled back, {m.rollback_failures} failed "
        f"rollbacks, {m.adoptions} adopted, {m.repairs} repaired."
    )


def _growth_line(result: DatabaseStats) -> str:
    g = growth(result.samples)
    if g is None:
        return f"Growth: {len(result.samples)} size sample(s) so far; two are needed."
    size = "n/a" if g.file_bytes_delta is None else _signed_bytes(g.file_bytes_delta)
    rows = ", ".join(f"{t} {d:+,}" for t, d in g.rows_delta.items() if d) or "no row changes"
    return (
        f"Growth over {len(result.samples)} samples ({g.first.at} → {g.last.at}): "
        f"file {size}, {g.page_count_delta:+,} pages; rows: {rows}."
    )


def _costs_line(result: DatabaseStats) -> str:
    if not result.api_costs:
        return "API usage: none recorded."
    parts = [f"{c.api_provider}/{c.model} {c.requests:,} requests, {c.tokens_used:,} tokens, "
             f"${c.cost_usd:.4f}" for c in result.api_costs]  # fmt: skip
    return "API usage: " + "; ".join(parts) + "."


def _num(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _signed_bytes(n: int) -> str:
    return ("+" if n >= 0 else "-") + _bytes(abs(n))
